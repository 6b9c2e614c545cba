"""What an escort's phone page shows (``flows.api.field``): their convoys, the next task, the
roster by seat, and what each step's form lists — all masked, nothing a phone should not hold.

``due_step`` says which check-in the trip expects now, from the check-ins already stored (not
only the stage: a check-in the flow has not read yet still counts as given), so the page moves
on as soon as a report is recorded. Every form is on the page (the due one open), so an escort
without signal can go on with the next step and send the queue later.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.convoy.checkins import FEEDS, SEQUENCE, Kind
from models.convoy.lifecycle import STAGES, Custody, Stage
from models.convoy.operations import arrival_sample
from models.convoy.tables import Assignment, CheckIn, Convoy, Enterprise, Escort, Passenger
from models.errors import NotFoundError
from models.intake.identity import mask_id, mask_name
from models.labels import label, local_time
from models.notify.escort_tasks import escort_tasks
from models.views.reports import convoy_status

OUT = {Custody.HELD.value, Custody.WITHDRAWN.value, Custody.HANDED_OFF.value}


def escort_convoys(session: Session, escort: Escort) -> list[Convoy]:
    """The convoys the escort is assigned to: open ones first, by planned departure."""
    rows = session.execute(
        select(Convoy)
        .join(Assignment, col(Assignment.convoy_id) == col(Convoy.id))
        .where(col(Assignment.escort_id) == escort.id)
        .order_by(col(Convoy.planned_departure), col(Convoy.code))
    ).scalars()
    convoys = list({c.id: c for c in rows}.values())
    return sorted(convoys, key=lambda c: c.stage == Stage.CLOSED.value)


def _reached(convoy: Convoy, stage: Stage) -> bool:
    return STAGES.index(Stage(convoy.stage)) >= STAGES.index(stage)


def due_step(convoy: Convoy, given: set[str]) -> str | None:
    """The check-in the trip expects now (``None`` once the convoy is closed)."""
    if convoy.stage == Stage.CLOSED.value:
        return None
    for kind in SEQUENCE:
        if kind is Kind.HANDOFF:
            return kind.value  # handoffs: one per enterprise until the convoy closes
        if kind.value not in given and not _reached(convoy, FEEDS[kind]):
            return kind.value
    return None  # pragma: no cover - the loop ends at the handoff


def field_view(
    session: Session, escort: Escort, code: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Everything the escort's page shows for one of their convoys (``code``, else the first
    open one). A convoy the escort does not escort is not found."""
    settings = settings or get_settings()
    loc = settings.locale
    convoys = escort_convoys(session, escort)
    view: dict[str, Any] = {
        "escort": {"badge": escort.badge, "name": mask_name(escort.name)},
        "convoys": [
            {
                "code": c.code,
                "mode": c.mode,
                "stage": label("stages", c.stage, loc),
                "route": f"{c.origin_name} → {c.destination_name}",
            }
            for c in convoys
        ],
        "convoy": None,
    }
    if not convoys:
        return view
    chosen = next((c for c in convoys if c.code == code), None) if code else convoys[0]
    if chosen is None:
        raise NotFoundError(f"{escort.badge} does not escort a convoy {code!r}.")
    view["convoy"] = _convoy(session, escort, chosen, settings)
    return view


def _convoy(session: Session, escort: Escort, convoy: Convoy, settings: Settings) -> dict[str, Any]:
    loc = settings.locale
    status = convoy_status(session, convoy.code)
    given = set(
        session.execute(
            select(col(CheckIn.kind)).where(col(CheckIn.convoy_id) == convoy.id).distinct()
        ).scalars()
    )
    handed = {
        ci.payload.get("enterprise_id")
        for ci in session.execute(
            select(CheckIn).where(
                col(CheckIn.convoy_id) == convoy.id, col(CheckIn.kind) == Kind.HANDOFF.value
            )
        ).scalars()
    }
    people = list(
        session.execute(
            select(Passenger)
            .where(col(Passenger.convoy_id) == convoy.id)
            .order_by(col(Passenger.seat))
        ).scalars()
    )
    names = {
        e.id: e.name
        for e in session.execute(
            select(Enterprise).where(
                col(Enterprise.id).in_({p.enterprise_id for p in people if p.enterprise_id})
            )
        ).scalars()
    }
    roster = [
        {
            "seat": p.seat,
            "name": mask_name(p.name),
            "id_number": mask_id(p.id_number),
            "employer": p.employer,
            "custody": p.custody,
            "custody_label": label("field", f"custody.{p.custody}", loc),
            "entry_applied": bool(p.entry_applied),
        }
        for p in people
    ]
    inside = [r for r in roster if r["custody"] not in OUT]
    groups: dict[str, list[int]] = defaultdict(list)
    for p in people:
        if p.custody in OUT or p.enterprise_id in handed:
            continue
        groups[names.get(p.enterprise_id or 0) or p.employer or "?"].append(p.seat)
    rules = settings.rule_set.screening
    tasks = [t for t in escort_tasks(session, escort.badge, settings) if t.convoy == convoy.code]
    upcoming = next((t for t in tasks if t.status == "next"), None)
    due = due_step(convoy, given)
    departed = Kind.DEPART.value in given or _reached(convoy, Stage.DEPARTED)
    arrived = Kind.ARRIVE.value in given or _reached(convoy, Stage.ARRIVED)
    return {
        "code": convoy.code,
        "mode": label("modes", convoy.mode, loc),
        "vehicle": convoy.vehicle,
        "route": f"{convoy.origin_name} → {convoy.destination_name}",
        "origin": convoy.origin_name,
        "destination": convoy.destination_name,
        "stage": convoy.stage,
        "stage_label": label("stages", convoy.stage, loc),
        "waiting_for": status["waiting_for"],
        "planned_departure": local_time(convoy.planned_departure, settings),
        "planned_arrival": local_time(convoy.planned_arrival, settings),
        "counts": {
            k: status[k] for k in ("passengers", "in_custody", "held", "withdrawn", "handed_off")
        },
        "next_task": None
        if upcoming is None
        else {
            "step": upcoming.step,
            "what": upcoming.what,
            "where": upcoming.where,
            "when": local_time(upcoming.when, settings) if upcoming.when else "",
        },
        "due": due,
        "given": sorted(given),
        "entry_due": departed and not arrived,
        "closed": convoy.stage == Stage.CLOSED.value,
        "roster": roster,
        "inside": inside,
        "entry_missing": [r for r in inside if not r["entry_applied"]],
        "spot_sample": arrival_sample(
            convoy, [r["seat"] for r in inside], rules.arrival_sample_rate
        ),
        "handoffs": [{"enterprise": e, "seats": seats} for e, seats in sorted(groups.items())],
        "rules": {
            "fever": rules.fever_celsius,
            "min": rules.temperature_min,
            "max": rules.temperature_max,
            "remeasure": rules.remeasure_after_rest,
        },
    }
