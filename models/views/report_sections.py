"""The campaign report as sections of figures, every one computed from the data.

``campaign_report(session, name)`` returns a plain structure every renderer (terminal, HTML,
XLSX, CSV, markdown, JSON) walks the same way, so a section added later (the vehicle passes'
further figures, the enterprise desk) shows everywhere without touching a renderer::

    {"campaign": str, "locale": str,
     "sections": [{"key": "people", "title": str,
                   "rows": [{"key": "handed_off", "label": str, "value": 19123, "unit": ""}],
                   "chart": {"kind": "bar" | "pie", "data": {label: number}} | None}],
     "tables": {"convoys": [...], "enterprises": [...]}}

The existing figures of ``campaign_figures`` keep their keys; any of its further keys that is
not one of ours is shown in a section of its own (a mapping) or in *other*. No personal data:
counts, reasons, places, enterprises and convoy codes only.
"""

from __future__ import annotations

import re
from collections import Counter
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config import get_settings
from models.convoy.lifecycle import Custody
from models.convoy.store import get_campaign, list_convoys
from models.convoy.tables import CheckIn, Convoy, Enterprise, Passenger
from models.labels import label, labels
from models.tracking.alerts.tables import Alert
from models.views.reports import campaign_figures

Figure = dict[str, Any]
# The keys of campaign_figures shown in our own sections (others get a section of their own).
_KNOWN = {
    "campaign", "trips", "trips_by_mode", "officers_sent", "provinces", "origin_places",
    "workers_escorted", "passengers", "handed_off", "held", "withdrawn", "in_custody",
    "passes_issued", "passes_delivered", "passes_same_day_rate", "units_served", "desk",
}  # fmt: skip


def _row(key: str, value: Any, locale: str, unit: str = "") -> Figure:
    return {"key": key, "label": label("report", key, locale), "value": value, "unit": unit}


def _section(key: str, locale: str, rows: list[Figure], chart: Any = None) -> dict[str, Any]:
    return {"key": key, "title": label("report", f"section.{key}", locale), "rows": rows,
            "chart": chart}  # fmt: skip


def _convoys(session: Session, campaign: str | None) -> list[Convoy]:
    if campaign:
        get_campaign(session, campaign)  # an unknown name is one clear error
    return list_convoys(session, campaign)


def reason_kind(reason: str) -> str:
    """A custody reason without its measurements: 'screening: fever 38.0 °C (threshold …)' →
    'screening: fever'."""
    return re.split(r"\s[-+]?\d", reason, maxsplit=1)[0].strip() or "—"


def _reasons(session: Session, ids: list[int], state: Custody) -> dict[str, int]:
    """Passengers in ``state`` by the kind of their reason, most frequent first."""
    if not ids:
        return {}
    rows = session.execute(
        select(col(Passenger.custody_reason), func.count())
        .where(col(Passenger.convoy_id).in_(ids), col(Passenger.custody) == state.value)
        .group_by(col(Passenger.custody_reason))
    ).all()
    counts: Counter[str] = Counter()
    for reason, n in rows:
        counts[reason_kind(reason or "")] += n
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def punctuality(convoys: list[Convoy]) -> dict[str, Any]:
    """On time: arrived no later than the mode's late-arrival threshold after the plan."""
    rules = get_settings().rule_set
    delays: list[float] = []
    on_time = 0
    for cv in convoys:
        if cv.actual_arrival is None:
            continue
        late = (cv.actual_arrival - cv.planned_arrival).total_seconds() / 60
        delays.append(late)
        table = rules.delay.get(cv.mode)
        limit = table.late_arrival_min if table is not None else 0
        on_time += late <= limit
    return {
        "arrived_trips": len(delays),
        "on_time_trips": on_time,
        "on_time_rate": round(on_time / len(delays), 4) if delays else None,
        "median_delay_min": round(median(delays), 1) if delays else None,
        "max_delay_min": round(max(delays), 1) if delays else None,
    }


def handoffs(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Per enterprise: workers handed off to it and the handoffs (one per convoy and visit)."""
    if not ids:
        return []
    workers = dict(
        session.execute(
            select(col(Passenger.enterprise_id), func.count())
            .where(
                col(Passenger.convoy_id).in_(ids),
                col(Passenger.custody) == Custody.HANDED_OFF.value,
            )
            .group_by(col(Passenger.enterprise_id))
        ).all()
    )
    visits: Counter[str] = Counter()
    for payload in session.execute(
        select(col(CheckIn.payload)).where(
            col(CheckIn.convoy_id).in_(ids), col(CheckIn.kind) == "handoff"
        )
    ).scalars():
        visits[str((payload or {}).get("enterprise", ""))] += 1
    names = dict(
        session.execute(
            select(col(Enterprise.id), col(Enterprise.name)).where(
                col(Enterprise.id).in_([i for i in workers if i is not None])
            )
        ).all()
    )
    out = [
        {
            "enterprise": names.get(eid, "—"),
            "workers": n,
            "handoffs": visits.get(names.get(eid, ""), 0),
        }
        for eid, n in workers.items()
    ]
    return sorted(out, key=lambda r: (-r["workers"], r["enterprise"]))


def alert_figures(session: Session, ids: list[int]) -> dict[str, Any]:
    if not ids:
        return {"raised": 0, "acknowledged": 0, "escalated": 0, "by_kind": {}}
    rows = session.execute(
        select(col(Alert.kind), col(Alert.acknowledged_at), col(Alert.escalation_level)).where(
            col(Alert.convoy_id).in_(ids)
        )
    ).all()
    return {
        "raised": len(rows),
        "acknowledged": sum(a is not None for _, a, _ in rows),
        "escalated": sum(level > 0 for _, _, level in rows),
        "by_kind": dict(Counter(kind for kind, _, _ in rows)),
    }


def campaign_report(session: Session, campaign: str | None = None) -> dict[str, Any]:
    """Every figure of the campaign (see the module doc)."""
    locale = get_settings().locale
    convoys = _convoys(session, campaign)
    ids = [cv.id or 0 for cv in convoys]
    f = campaign_figures(session, campaign)
    modes = labels("modes", locale)
    p = punctuality(convoys)
    alerts = alert_figures(session, ids)
    held = _reasons(session, ids, Custody.HELD)
    withdrawn = _reasons(session, ids, Custody.WITHDRAWN)
    per_enterprise = handoffs(session, ids)
    places = Counter(cv.origin_name for cv in convoys)
    people_by_mode: Counter[str] = Counter()
    if ids:
        for mode, n in session.execute(
            select(col(Convoy.mode), func.count())
            .join(Passenger, col(Passenger.convoy_id) == col(Convoy.id))
            .where(col(Convoy.id).in_(ids))
            .group_by(col(Convoy.mode))
        ).all():
            people_by_mode[mode] = n
    by_mode = sorted(f["trips_by_mode"].items())
    by_kind = sorted(alerts["by_kind"].items())
    sections = [
        _section(
            "operation",
            locale,
            [
                _row("officers_sent", f["officers_sent"], locale),
                _row("provinces", f["provinces"], locale),
                _row("origin_places", f["origin_places"], locale),
                _row("trips", f["trips"], locale),
                *[_row(f"trips.{m}", n, locale) for m, n in by_mode],
            ],
            _chart("pie", {modes.get(m, m): n for m, n in by_mode}),
        ),
        _section(
            "people",
            locale,
            [
                _row(k, f[k], locale)
                for k in ("passengers", "workers_escorted", "held", "withdrawn", "in_custody")
            ],
            _chart("bar", {modes.get(m, m): n for m, n in sorted(people_by_mode.items())}),
        ),
        _section("held_reasons", locale, _counted("held", held), _chart("bar", held)),
        _section(
            "withdrawn_reasons", locale, _counted("withdrawn", withdrawn), _chart("bar", withdrawn)
        ),
        _section(
            "punctuality",
            locale,
            [
                _row("arrived_trips", p["arrived_trips"], locale),
                _row("on_time_trips", p["on_time_trips"], locale),
                _row("on_time_rate", p["on_time_rate"], locale, "%"),
                _row("median_delay_min", p["median_delay_min"], locale, "min"),
                _row("max_delay_min", p["max_delay_min"], locale, "min"),
            ],
        ),
        _section(
            "handoffs",
            locale,
            [
                _row("enterprises_received", len(per_enterprise), locale),
                _row("handoffs", sum(r["handoffs"] for r in per_enterprise), locale),
            ],
            _chart("bar", {r["enterprise"]: r["workers"] for r in per_enterprise[:15]}),
        ),
        _section(
            "alerts",
            locale,
            [
                _row("alerts_raised", alerts["raised"], locale),
                _row("alerts_acknowledged", alerts["acknowledged"], locale),
                _row("alerts_escalated", alerts["escalated"], locale),
                *[
                    {
                        "key": f"alert.{k}",
                        "label": label("alert_kinds", k, locale),
                        "value": n,
                        "unit": "",
                    }
                    for k, n in by_kind
                ],
            ],
            _chart("bar", {label("alert_kinds", k, locale): n for k, n in by_kind}),
        ),
        _section(
            "passes",
            locale,
            [
                _row("passes_issued", f["passes_issued"], locale),
                _row("passes_delivered", f["passes_delivered"], locale),
                _row("units_served", f["units_served"], locale),
                _row("passes_same_day_rate", f["passes_same_day_rate"], locale, "%"),
            ],
        ),
    ]
    if "desk" in f:
        sections.append(_desk_section(f["desk"], locale))
    other: list[Figure] = []
    for key, value in f.items():
        if key in _KNOWN:
            continue
        if isinstance(value, dict):  # e.g. the enterprise desk's figures: a section of its own
            rows = [_row(f"{key}.{k}", v, locale) for k, v in value.items() if _plain(v)]
            sections.append(_section(key, locale, rows))
        elif _plain(value):
            other.append(_row(key, value, locale))
    if other:
        sections.append(_section("other", locale, other))
    return {
        "campaign": f["campaign"],
        "locale": locale,
        "figures": f,
        "sections": sections,
        "tables": {
            "enterprises": per_enterprise,
            "places": [{"place": k, "trips": n} for k, n in sorted(places.items())],
        },
    }


def _desk_section(d: dict[str, Any], locale: str) -> dict[str, Any]:
    """The enterprise service desk: enterprises served, requests by type, same-day rate, staff
    checked (``models.desk.figures``)."""
    by_type = {label("desk", f"kind.{k}", locale): n for k, n in d["requests_by_type"].items()}
    rows = [
        _row(f"desk.{key}", d[key], locale, "%" if key == "same_day_rate" else "")
        for key in (
            "enterprises_served", "enterprises_with_liaison", "requests", "requests_open",
            "requests_closed", "same_day", "same_day_rate", "staff_checks", "staff_checked",
            "staff_attention",
        )
    ]  # fmt: skip
    rows += [
        {"key": f"desk.type:{k}", "label": name, "value": n, "unit": ""}
        for (k, n), name in zip(d["requests_by_type"].items(), by_type, strict=True)
    ]
    return _section("desk", locale, rows, _chart("bar", {k: n for k, n in by_type.items() if n}))


def _chart(kind: str, data: dict[str, int]) -> dict[str, Any] | None:
    return {"kind": kind, "data": data} if data else None


def _counted(prefix: str, counts: dict[str, int]) -> list[Figure]:
    """Rows of counts by reason (the reason is its own label)."""
    return [{"key": f"{prefix}:{r}", "label": r, "value": n, "unit": ""} for r, n in counts.items()]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, int | float | str)
