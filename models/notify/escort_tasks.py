"""What escorts have to do next (what, where, when), and the notices queued as a convoy moves.

``escort_tasks`` lists an escort's tasks across their convoys from the plan and the data;
``queue_stage_notices`` puts the task for the next step in the outbox once a step completes
(idempotent: the outbox keeps one message per step and recipient); each escort's copy ends with
their personal link to the phone page (``models.access.escort_links``). Passengers appear only
as seat numbers with masked names and phones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.custody import census
from models.convoy.lifecycle import STAGES, Custody, Stage
from models.convoy.store import convoy_escorts, get_convoy, get_escort
from models.convoy.tables import Assignment, Convoy, Enterprise, Escort, Passenger
from models.intake.identity import mask_name, mask_phone
from models.labels import label, local_time
from models.notify.messages import Message, render
from models.notify.outbox import Recipient, enqueue, enterprise_recipients, escort_recipients

_short = partial(local_time, short=True)  # 'MM-DD HH:MM', as messages show times

_LIST_LIMIT = 30  # passengers listed by name in one message; the rest are counted


@dataclass
class Task:
    convoy: str
    step: str
    what: str
    where: str
    when: datetime | None
    status: str  # done, next, upcoming
    details: dict[str, Any] = field(default_factory=dict)


def _rule(settings: Settings, key: str) -> timedelta:
    return timedelta(minutes=float(getattr(settings.rule_set.tasks, key)))


def _people(session: Session, convoy: Convoy, state: Custody) -> Sequence[Any]:
    """Seat, name, phone and entry flag of the convoy's passengers in ``state`` (plain rows)."""
    p = Passenger.__table__.c  # type: ignore[attr-defined]
    return session.execute(
        select(p.seat, p.name, p.phone, p.entry_applied)
        .where(p.convoy_id == convoy.id, p.custody == state.value)
        .order_by(p.seat)
    ).all()


def _count(session: Session, convoy: Convoy, state: Custody) -> int:
    return census(session, convoy.id or 0).by_state.get(state, 0)


def masked_list(people: Sequence[Any]) -> str:
    """'座 3 张** 138****5678' lines, at most 30, then '… and N more'."""
    lines = [
        f"#{p.seat} {mask_name(p.name)} {mask_phone(p.phone)}".rstrip()
        for p in people[:_LIST_LIMIT]
    ]
    if len(people) > _LIST_LIMIT:
        lines.append(f"… +{len(people) - _LIST_LIMIT}")
    return "\n".join(lines)


def _handoffs(session: Session, convoy: Convoy) -> list[tuple[Enterprise | None, str, int]]:
    rows = session.execute(
        select(Passenger.enterprise_id, Passenger.employer).where(  # type: ignore[call-overload]
            Passenger.convoy_id == convoy.id, Passenger.custody == Custody.ARRIVED.value
        )
    ).all()
    counts = Counter((eid, emp) for eid, emp in rows)
    out = []
    for (eid, emp), n in sorted(counts.items(), key=lambda kv: str(kv[0][1])):
        out.append((session.get(Enterprise, eid) if eid else None, emp or "", n))
    return out


def stage_messages(
    session: Session, convoy: Convoy, done: Stage, settings: Settings
) -> list[tuple[str, Message, str]]:
    """Messages due once ``done`` is complete: (key suffix, message, audience 'escorts' or
    'enterprise:<id>')."""
    loc = settings.locale
    origin, dest = convoy.origin_name, convoy.destination_name
    dep = convoy.planned_departure
    out: list[tuple[str, Message, str]] = []
    if done is Stage.PLANNED:
        when = dep - _rule(settings, "muster_before_departure_min")
        count = _count(session, convoy, Custody.REGISTERED)
        out.append(
            ("muster", render("task.muster", loc, code=convoy.code, when=_short(when, settings),
                              where=origin, count=count), "escorts")
        )  # fmt: skip
    elif done in (Stage.MUSTERING, Stage.VERIFIED):
        when = dep - _rule(settings, "screening_before_departure_min")
        if done is Stage.VERIFIED:
            count = _count(session, convoy, Custody.VERIFIED)
            out.append(
                ("screening", render("task.screening", loc, code=convoy.code,
                                     when=_short(when, settings), where=origin, count=count),
                 "escorts")
            )  # fmt: skip
    elif done is Stage.SCREENED:
        cleared = _count(session, convoy, Custody.CLEARED)
        held = _count(session, convoy, Custody.HELD)
        out.append(
            ("depart", render("task.depart", loc, code=convoy.code, when=_short(dep, settings),
                              where=origin, count=cleared, held=held), "escorts")
        )  # fmt: skip
    elif done is Stage.IN_TRANSIT:
        missing = [p for p in _people(session, convoy, Custody.BOARDED) if not p.entry_applied]
        if missing:
            out.append(
                ("entry_missing", render("task.entry_missing", loc, code=convoy.code,
                                         count=len(missing), people=masked_list(missing)),
                 "escorts")
            )  # fmt: skip
    elif done is Stage.ARRIVED:
        rate = settings.rule_set.screening.arrival_sample_rate
        arrived = _count(session, convoy, Custody.ARRIVED)
        sample = min(arrived, max(1, round(arrived * rate))) if arrived else 0
        when = convoy.actual_arrival or convoy.planned_arrival
        out.append(
            ("spot_check", render("task.spot_check", loc, code=convoy.code,
                                  when=_short(when, settings), where=dest, count=sample),
             "escorts")
        )  # fmt: skip
    elif done is Stage.ARRIVAL_SCREENED:
        when = convoy.actual_arrival or convoy.planned_arrival
        for ent, employer, n in _handoffs(session, convoy):
            name = ent.name if ent else employer or "?"
            where = (ent.address if ent and ent.address else "") or dest
            out.append(
                (f"handoff:{name}", render(
                    "task.handoff", loc, code=convoy.code, count=n, enterprise=name,
                    where=where, contact=mask_name(ent.contact_name) if ent else "",
                    phone=mask_phone(ent.contact_phone) if ent else ""), "escorts")
            )  # fmt: skip
            if ent is not None:
                out.append(
                    (f"arrival:{name}", render(
                        "notice.enterprise_arrival", loc, code=convoy.code,
                        when=_short(when, settings), destination=dest, where=where, count=n),
                     f"enterprise:{ent.id}")
                )  # fmt: skip
    return out


def queue_stage_notices(
    session: Session,
    code: str,
    done: Stage,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> int:
    """Queue the escort tasks (and enterprise notices) due after step ``done``; returns the
    outbox rows added (0 when they were queued before)."""
    settings = settings or get_settings()
    convoy = get_convoy(session, code)
    escorts = [e for e, _ in convoy_escorts(session, convoy)]
    # Every message and its recipients are read first, then queued: the writes come last and
    # together (SQLite's one writer is held for them only).
    queued: list[tuple[str, str, Message, list[Recipient]]] = []
    for suffix, msg, audience in stage_messages(session, convoy, done, settings):
        key, kind = f"task:{convoy.code}:{suffix}", "task" if audience == "escorts" else "notice"
        if audience == "escorts":  # each escort's copy carries their own link
            batches = [
                (with_link(msg, e, settings), escort_recipients([e]))
                for e in escorts
                if escort_recipients([e])
            ] or [(msg, [])]  # nobody to tell: recorded once, as unaddressed
        else:
            ent = session.get(Enterprise, int(audience.split(":", 1)[1]))
            recipients = enterprise_recipients(ent) if ent else []
            recipients += _liaison(session, ent.id or 0) if ent else []  # its liaison officer
            batches = [(msg, recipients)]
        queued += [(key, kind, message, recipients) for message, recipients in batches]
    added = 0
    for key, kind, message, recipients in queued:
        added += enqueue(
            session, key, message, recipients, kind=kind, convoy=convoy,
            locale=settings.locale, now=now,
        )  # fmt: skip
    return added


def _liaison(session: Session, enterprise_id: int) -> list[Any]:
    from models.desk.liaison import liaison_recipients  # the service desk (issue 16)

    return liaison_recipients(session, enterprise_id)


def with_link(msg: Message, escort: Escort, settings: Settings) -> Message:
    """The task message for one escort, ending with their personal link to the phone page
    (valid from the real clock: a rehearsal on a simulated clock still gets a live link)."""
    from models.access.escort_links import escort_link

    url, _ = escort_link(escort, settings)
    line = label("field", "notice.link", settings.locale, url=url)
    return Message(msg.subject, f"{msg.body}\n{line}")


def escort_tasks(session: Session, escort_key: str, settings: Settings | None = None) -> list[Task]:
    """The tasks of one escort across the convoys they are assigned to (closed ones omitted)."""
    settings = settings or get_settings()
    escort = get_escort(session, escort_key)
    convoys = session.execute(
        select(Convoy)
        .join(Assignment, Assignment.convoy_id == Convoy.id)  # type: ignore[arg-type]
        .where(Assignment.escort_id == escort.id, Convoy.stage != Stage.CLOSED.value)  # type: ignore[arg-type]
        .order_by(Convoy.planned_departure)  # type: ignore[arg-type]
    ).scalars()
    tasks: list[Task] = []
    for convoy in convoys:
        tasks += _convoy_tasks(session, convoy, settings)
    return tasks


_PLAN: tuple[tuple[Stage, str, str], ...] = (
    (Stage.MUSTERING, "muster", "muster the workers and take the roll"),
    (Stage.VERIFIED, "pre_verify", "pre-verify identities in bulk"),
    (Stage.SCREENED, "screening", "pre-departure screening"),
    (Stage.DEPARTED, "depart", "depart"),
    (Stage.IN_TRANSIT, "entry", "follow up entry applications"),
    (Stage.ARRIVED, "arrive", "arrive"),
    (Stage.ARRIVAL_SCREENED, "spot_check", "spot checks on arrival"),
    (Stage.HANDED_OFF, "handoff", "hand workers to their employers"),
    (Stage.CLOSED, "close", "close the convoy"),
)


def _convoy_tasks(session: Session, convoy: Convoy, settings: Settings) -> list[Task]:
    reached = STAGES.index(Stage(convoy.stage))
    dep, arr = convoy.planned_departure, convoy.planned_arrival
    when: Mapping[Stage, datetime] = {
        Stage.MUSTERING: dep - _rule(settings, "muster_before_departure_min"),
        Stage.VERIFIED: dep - _rule(settings, "screening_before_departure_min"),
        Stage.SCREENED: dep - _rule(settings, "screening_before_departure_min"),
        Stage.DEPARTED: dep,
        Stage.IN_TRANSIT: dep,
        Stage.ARRIVED: arr,
        Stage.ARRIVAL_SCREENED: arr + _rule(settings, "spot_check_after_arrival_min"),
        Stage.HANDED_OFF: arr + _rule(settings, "spot_check_after_arrival_min"),
        Stage.CLOSED: arr,
    }
    at_origin = {Stage.MUSTERING, Stage.VERIFIED, Stage.SCREENED, Stage.DEPARTED}
    out: list[Task] = []
    first_open = True
    for stage, step, what in _PLAN:
        done = STAGES.index(stage) <= reached
        status = "done" if done else ("next" if first_open else "upcoming")
        if not done:
            first_open = False
        details: dict[str, Any] = {}
        where = convoy.origin_name if stage in at_origin else convoy.destination_name
        if stage is Stage.IN_TRANSIT:
            where = "en route"
            missing = [p for p in _people(session, convoy, Custody.BOARDED) if not p.entry_applied]
            details["entry_missing"] = len(missing)
            if missing:
                what = f"{len(missing)} passengers still lack an entry application"
        if stage is Stage.HANDED_OFF and not done:
            details["enterprises"] = [
                {"enterprise": ent.name if ent else emp, "workers": n}
                for ent, emp, n in _handoffs(session, convoy)
            ]
        out.append(Task(convoy.code, step, what, where, when[stage], status, details))
    return out
