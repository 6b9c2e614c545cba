"""The service desk's campaign figures: enterprises served (any request or consultation, staff
check or handoff), requests by kind and channel, the same-day rate, staff checked. Computed
from the data; ``models.views.reports.campaign_figures`` puts them under its ``"desk"`` key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.convoy.lifecycle import Custody
from models.convoy.tables import Campaign, Convoy, Passenger
from models.desk.tables import DeskRequest, Liaison, RequestKind, RequestStatus, StaffCheck


def desk_figures(session: Session, campaign: str | None = None) -> dict[str, Any]:
    """Figures of one campaign (requests and checks counted in it, handoffs of its convoys), or
    of everything when ``campaign`` is None."""
    cid = None
    if campaign:
        cid = session.execute(
            select(col(Campaign.id)).where(col(Campaign.name) == campaign)
        ).scalar_one_or_none()
    reqs = select(
        col(DeskRequest.enterprise_id), col(DeskRequest.kind), col(DeskRequest.channel),
        col(DeskRequest.status), col(DeskRequest.closed_at), col(DeskRequest.due_at),
    )  # fmt: skip
    checks = select(col(StaffCheck.enterprise_id), col(StaffCheck.checked),
                    col(StaffCheck.attention))  # fmt: skip
    handed = (
        select(col(Passenger.enterprise_id))
        .join(Convoy, col(Convoy.id) == Passenger.convoy_id)
        .where(
            col(Passenger.custody) == Custody.HANDED_OFF.value,
            col(Passenger.enterprise_id).is_not(None),
        )
        .distinct()
    )
    if campaign:
        reqs = reqs.where(col(DeskRequest.campaign_id) == cid)
        checks = checks.where(col(StaffCheck.campaign_id) == cid)
        handed = handed.where(col(Convoy.campaign_id) == cid)
    by_kind = {k.value: 0 for k in RequestKind}
    by_channel: dict[str, int] = {}
    served: set[int] = set()
    closed = same_day = still_open = 0
    requests = 0
    for eid, kind, channel, status, closed_at, due_at in session.execute(reqs):
        requests += 1
        served.add(eid)
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_channel[channel] = by_channel.get(channel, 0) + 1
        if status in (RequestStatus.RESOLVED.value, RequestStatus.PASSED_ON.value):
            closed += 1
            same_day += closed_at is not None and closed_at <= due_at
        else:
            still_open += 1
    staff_checks = staff_checked = staff_attention = 0
    for eid, checked, attention in session.execute(checks):
        served.add(eid)
        staff_checks += 1
        staff_checked += checked
        staff_attention += attention
    handoff = {int(e) for e in session.execute(handed).scalars()}
    liaisons = len(list(session.execute(select(col(Liaison.id))).scalars()))
    return {
        "enterprises_served": len(served | handoff),
        "enterprises_with_liaison": liaisons,
        "requests": requests,
        "requests_by_type": by_kind,
        "requests_by_channel": dict(sorted(by_channel.items())),
        "requests_open": still_open,
        "requests_closed": closed,
        "same_day": same_day,
        "same_day_rate": round(same_day / closed, 4) if closed else None,
        "staff_checks": staff_checks,
        "staff_checked": staff_checked,
        "staff_attention": staff_attention,
    }
