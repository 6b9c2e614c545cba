"""The steps of a convoy operation as plain functions (no Prefect).

``advance(session, code, stage)`` performs one step in the caller's transaction: it checks the
stage order, reads the escorts' check-in the step needs, moves passengers' custody in bulk,
checks the conservation invariant and records the completed stage. Run twice, the second call
does nothing (``status == "skipped"``); killed half-way, the transaction leaves no trace.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlmodel import Session, col

from config import Settings, get_settings
from config.rules import ScreeningRules
from models.convoy import checkins
from models.convoy.checkins import Kind
from models.convoy.custody import Change, apply_changes, census
from models.convoy.lifecycle import (
    Census,
    Custody,
    Stage,
    check_conservation,
    check_stage_transition,
)
from models.convoy.screening import Reading, checks_for, entry_followup, evaluate
from models.convoy.store import lock_convoy, match_enterprise
from models.convoy.tables import Convoy, Enterprise, Passenger, ScreeningResult, StageRun
from models.db import driver_processor, driver_value, execute_at_driver, insert_columns
from models.errors import ConservationError, TransitionError
from models.intake.verification import Registry, configured_registry, verify
from models.intake.verification import record as record_verification

_P = Passenger.__table__  # type: ignore[attr-defined]

# The check-in each step waits for (steps not listed run on their own).
WAITS_FOR: dict[Stage, Kind] = {stage: kind for kind, stage in checkins.FEEDS.items()}


@dataclass
class StageResult:
    """What one call of ``advance`` did."""

    code: str
    stage: Stage
    status: str  # "done", "skipped" (already done) or "waiting" (for a check-in)
    at: datetime | None = None
    waiting_for: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Outcome:
    at: datetime
    summary: dict[str, Any]
    complete: bool = True
    waiting_for: str = ""


@dataclass
class Context:
    session: Session
    convoy: Convoy
    settings: Settings
    registry: Mapping[str, str]
    previous_at: datetime

    @property
    def rules(self) -> ScreeningRules:
        return self.settings.rule_set.screening


# What the steps read of a passenger: plain rows (no ORM objects: a train has 1,400 of them and
# a waiting step is tried again and again), and only the columns a step looks at (a date read
# is converted row by row).
_ROLL = (_P.c.id, _P.c.seat, _P.c.custody, _P.c.enterprise_id, _P.c.employer)
_SR = ScreeningResult.__table__  # type: ignore[attr-defined]
_SCREENING_COLUMNS = ("convoy_id", "passenger_id", "checkpoint", "at", "location", "temperature",
                      "retemperature", "nat_result", "nat_time", "health_code", "passed",
                      "reason")  # fmt: skip
_INSERT_SCREENING = insert_columns(_SR, _SCREENING_COLUMNS)
_HEALTH = (_P.c.id, _P.c.seat, _P.c.temperature, _P.c.nat_result, _P.c.nat_time, _P.c.health_code)
_CUSTODY = {c.value: c for c in Custody}  # a state by its stored value, without Custody(…)


class _Roll:
    """Every passenger of the convoy as the step found them, by seat, read once: the seats,
    the custody states (``current``, which ``apply_changes`` keeps up to date as it moves
    people) and who is in a state."""

    def __init__(self, ctx: Context) -> None:
        self.rows = ctx.session.execute(
            select(*_ROLL).where(_P.c.convoy_id == ctx.convoy.id).order_by(_P.c.seat)
        ).all()
        self.ids = {p.seat: p.id for p in self.rows}
        self.current = {p.id: _CUSTODY[p.custody] for p in self.rows}

    def in_state(self, state: Custody) -> list[Row[Any]]:
        """Who was in ``state`` when read (before this step moved anyone)."""
        return [p for p in self.rows if p.custody == state.value]

    def exceptions(
        self, seats: list[int], to: Custody, reason: str, eligible: set[Custody]
    ) -> list[Change]:
        """Move the passengers of ``seats`` (each once) that are in an ``eligible`` state."""
        out = []
        for seat in sorted(set(seats)):
            pid = self.ids[seat]
            if self.current[pid] in eligible:
                out.append(Change(pid, to, reason))
        return out

    def census(self) -> Census:
        """The counts per state as they are now (after the step's moves)."""
        return Census.of(self.current.values())


def _apply(
    ctx: Context,
    changes: list[Change],
    at: datetime,
    stage: Stage,
    location: str,
    roll: _Roll | None = None,
) -> None:
    apply_changes(
        ctx.session,
        ctx.convoy,
        changes,
        at=at,
        actor=f"convoy {ctx.convoy.code}",
        location=location,
        stage=stage.value,
        current=roll.current if roll is not None else None,
    )


def _muster(ctx: Context) -> _Outcome:
    report = _report(ctx, Kind.MUSTER)
    if report is None:
        return _wait(ctx, Kind.MUSTER)
    ci, data = report
    roll = _Roll(ctx)
    absent = roll.exceptions(
        data["absent"], Custody.WITHDRAWN, data["reason"], {Custody.REGISTERED}
    )
    _apply(ctx, absent, ci.at, Stage.MUSTERING, ctx.convoy.origin_name, roll)
    present = roll.census().count(Custody.REGISTERED)
    return _Outcome(ci.at, {"present": present, "absent": len(absent)})


def _registry(ctx: Context) -> Registry:
    """The registry given to ``advance`` (tests, callers), else the configured lists."""
    if ctx.registry:
        return Registry.from_mapping(ctx.registry)
    return configured_registry(ctx.settings)


def _pre_verify(ctx: Context) -> _Outcome:
    """Batch pre-verification: every registered passenger against the registry lists at once;
    flagged passengers (and invalid ID numbers) are held with the reason before departure."""
    at = ctx.previous_at
    registry = _registry(ctx)
    people = ctx.session.execute(
        select(_P.c.id, _P.c.seat, _P.c.id_number)
        .where(_P.c.convoy_id == ctx.convoy.id, _P.c.custody == Custody.REGISTERED.value)
        .order_by(_P.c.seat)
    ).all()
    outcomes = verify([tuple(p) for p in people], registry, at.date())  # type: ignore[misc]
    changes = [
        Change(o.passenger_id, Custody.VERIFIED)
        if o.outcome == "clear"
        else Change(o.passenger_id, Custody.HELD, o.held_reason)
        for o in outcomes
    ]
    _apply(ctx, changes, at, Stage.VERIFIED, ctx.convoy.origin_name)  # it reads, then writes
    record_verification(ctx.session, ctx.convoy.id or 0, outcomes, at)
    by_category = Counter(o.category for o in outcomes if o.outcome != "clear")
    flagged = sum(by_category.values())
    return _Outcome(
        at,
        {
            "verified": len(outcomes) - flagged,
            "flagged": flagged,
            "invalid_id": by_category.get("invalid_id", 0),
            "by_category": dict(by_category),
            "registry_entries": len(registry),
            "registry_lists": len(registry.sources),
        },
    )


def _screen(
    ctx: Context, kind: Kind, stage: Stage, eligible: Custody, passed_to: Custody | None
) -> _Outcome:
    report = _report(ctx, kind)
    if report is None:
        return _wait(ctx, kind)
    ci, data = report
    location = data.get("location") or (
        ctx.convoy.origin_name if stage is Stage.SCREENED else ctx.convoy.destination_name
    )
    results = {r["seat"]: r for r in data["results"]}
    spot = stage is Stage.ARRIVAL_SCREENED
    checkpoint = "arrival" if spot else "pre_departure"
    checks = checks_for(ctx.rules, checkpoint)
    rows: list[dict[str, Any]] = []
    changes: list[Change] = []
    conn = ctx.session.connection()
    at_db = driver_value(conn, _SR.c.at, ci.at)  # one time for every row: processed once
    stored_time = driver_processor(conn, _SR.c.nat_time)
    eligible_people = ctx.session.execute(
        select(*_HEALTH)
        .where(_P.c.convoy_id == ctx.convoy.id, _P.c.custody == eligible.value)
        .order_by(_P.c.seat)
    ).all()
    for p in eligible_people:
        r = results.get(p.seat)
        if spot and r is None:
            continue  # spot checks: only those measured are judged
        reading = _reading(p, r)
        verdict = evaluate(reading, ctx.rules, ci.at, checks)
        rows.append(
            {
                "convoy_id": ctx.convoy.id,
                "passenger_id": p.id,
                "checkpoint": checkpoint,
                "at": at_db,
                "location": location,
                "temperature": reading.temperature,
                "retemperature": reading.retemperature,
                "nat_result": reading.nat_result,
                "nat_time": stored_time(reading.nat_time),
                "health_code": reading.health_code,
                "passed": verdict.passed,
                "reason": verdict.reason,
            }
        )
        if not verdict.passed:
            changes.append(Change(p.id or 0, Custody.HELD, f"screening: {verdict.reason}"))
        elif passed_to is not None:
            changes.append(Change(p.id or 0, passed_to))
    extra: dict[str, Any] = {}
    if spot:  # the sample the rule asks for, and who in it was not measured
        rate = ctx.rules.arrival_sample_rate
        sample = arrival_sample(ctx.convoy, [p.seat for p in eligible_people], rate)
        extra = {
            "sample_size": len(sample),
            "sample_unmeasured": [s for s in sample if s not in results],
        }
    _apply(ctx, changes, ci.at, stage, location)  # it reads before it writes: first
    # The driver's executemany (a train's thousand rows, no SQLAlchemy work each).
    execute_at_driver(conn, _INSERT_SCREENING, rows)
    held = sum(1 for c in changes if c.to is Custody.HELD)
    summary = {"screened": len(rows), "passed": len(rows) - held, "held": held, **extra}
    return _Outcome(ci.at, summary)


def _reading(p: Any, r: Mapping[str, Any] | None) -> Reading:
    """The escort's measurement, falling back to what the manifest says."""
    r = r or {}
    nat_time = r.get("nat_time")
    if isinstance(nat_time, str):
        nat_time = checkins.in_zone(datetime.fromisoformat(nat_time))
    return Reading(
        temperature=r.get("temperature") if r.get("temperature") is not None else p.temperature,
        retemperature=r.get("retemperature"),
        nat_result=r.get("nat_result") or p.nat_result,
        nat_time=nat_time or p.nat_time,
        health_code=r.get("health_code") or p.health_code,
    )


def _depart(ctx: Context) -> _Outcome:
    report = _report(ctx, Kind.DEPART)
    if report is None:
        return _wait(ctx, Kind.DEPART)
    ci, data = report
    roll = _Roll(ctx)
    changes = roll.exceptions(data["absent"], Custody.WITHDRAWN, data["reason"], {Custody.CLEARED})
    gone = {c.passenger_id for c in changes}
    changes += [
        Change(p.id, Custody.BOARDED) for p in roll.in_state(Custody.CLEARED) if p.id not in gone
    ]
    _apply(ctx, changes, ci.at, Stage.DEPARTED, ctx.convoy.origin_name, roll)
    ctx.convoy.actual_departure = ci.at
    return _Outcome(ci.at, {"boarded": len(changes) - len(gone), "withdrawn": len(gone)})


def _travel(ctx: Context) -> _Outcome:
    """Under way: list who still lacks an entry application / health-code enrolment, for the
    escorts to follow up before arrival (``models.convoy.screening.entry_followup``)."""
    missing = entry_followup(ctx.session, ctx.convoy.id or 0)
    seats = [m["seat"] for m in missing]
    by_employer = Counter(m["employer"] or "(no employer)" for m in missing)
    return _Outcome(
        ctx.previous_at,
        {
            "entry_missing": len(seats),
            "entry_missing_seats": seats,
            "entry_missing_by_employer": dict(by_employer),
        },
    )


def _arrive(ctx: Context) -> _Outcome:
    report = _report(ctx, Kind.ARRIVE)
    if report is None:
        return _wait(ctx, Kind.ARRIVE)
    ci, data = report
    location = data.get("location") or ctx.convoy.destination_name
    roll = _Roll(ctx)
    changes = roll.exceptions(data["missing"], Custody.WITHDRAWN, data["reason"], {Custody.BOARDED})
    gone = {c.passenger_id for c in changes}
    changes += [
        Change(p.id, Custody.ARRIVED) for p in roll.in_state(Custody.BOARDED) if p.id not in gone
    ]
    _apply(ctx, changes, ci.at, Stage.ARRIVED, location, roll)
    ctx.convoy.actual_arrival = ci.at
    late = (ci.at - ctx.convoy.planned_arrival).total_seconds() / 60
    return _Outcome(
        ci.at, {"arrived": len(changes) - len(gone), "missing": len(gone), "late_min": round(late)}
    )


def arrival_sample(convoy: Convoy, seats: list[int], rate: float) -> list[int]:
    """The seats picked for the arrival spot check: a stable pseudo-random share ``rate``."""
    if not seats or rate <= 0:
        return []
    k = min(len(seats), max(1, math.ceil(rate * len(seats))))
    ranked = sorted(seats, key=lambda s: zlib.crc32(f"{convoy.code}:{s}".encode()))
    return sorted(ranked[:k])


def _handoff(ctx: Context) -> _Outcome:
    """Apply every handoff reported so far; complete when nobody is left arrived.

    The step is tried again after each handoff (a train's come one employer at a time): each
    try reads only the passengers still arrived, and counts those handed off already."""
    reports = checkins.all_of(ctx.session, ctx.convoy, Kind.HANDOFF)
    arrived = ctx.session.execute(
        select(*_ROLL)
        .where(_P.c.convoy_id == ctx.convoy.id, _P.c.custody == Custody.ARRIVED.value)
        .order_by(_P.c.seat)
    ).all()
    handed_off = census(ctx.session, ctx.convoy.id or 0).handed_off
    by_seat = {p.seat: p.id for p in arrived}  # a seat named but not arrived: nobody to move
    current = {p.id: Custody.ARRIVED for p in arrived}
    arrived_for: dict[int, list[int]] = {}  # enterprise id → its arrived workers, by seat
    for p in arrived:
        if p.enterprise_id is not None:
            arrived_for.setdefault(p.enterprise_id, []).append(p.id)
    last_at = ctx.previous_at
    moves: list[tuple[Any, list[int], str, str]] = []  # (check-in, passengers, actor, where)
    taken: set[int] = set()  # the passengers of ``moves``
    for ci in reports:
        data = ci.payload
        ent: Enterprise | None = None
        if data.get("seats"):
            pids = [by_seat[s] for s in data["seats"] if s in by_seat]
        else:  # a handoff stored with its enterprise's id is matched without reading it
            eid = data.get("enterprise_id")
            if not eid:
                ent = _enterprise(ctx, data)
                eid = ent.id if ent is not None else None
            pids = arrived_for.get(eid, []) if eid is not None else []
        # Not twice, if two handoffs name the same seat; done on an earlier try, not again.
        todo = [pid for pid in pids if pid not in taken]
        if not todo:  # done on an earlier try: each try reads every handoff so far
            continue
        ent = ent or _enterprise(ctx, data)
        location = data.get("location") or (ent.address if ent and ent.address else "")
        taken.update(todo)
        moves.append((ci, todo, data["received_by"], location or ctx.convoy.destination_name))
    # Every handoff read first, then written (SQLite's one writer is held for the writes).
    for ci, todo, received_by, location in moves:
        apply_changes(
            ctx.session,
            ctx.convoy,
            [Change(pid, Custody.HANDED_OFF, f"received by {received_by}") for pid in todo],
            at=ci.at,
            actor=received_by,
            location=location,
            stage=Stage.HANDED_OFF.value,
            current=current,
        )
        last_at = max(last_at, ci.at)
    left = [p for p in arrived if p.id not in taken]
    summary: dict[str, Any] = {"handed_off": handed_off + len(taken), "waiting": len(left)}
    if left:
        pending = sorted({p.employer or "(no employer)" for p in left})
        summary["pending_enterprises"] = pending
        return _Outcome(last_at, summary, complete=False, waiting_for=Kind.HANDOFF.value)
    return _Outcome(last_at, summary)


def _enterprise(ctx: Context, data: Mapping[str, Any]) -> Enterprise | None:
    """The enterprise a handoff stored (by id; by name for handoffs stored before ids were)."""
    if data.get("enterprise_id"):
        return ctx.session.get(Enterprise, data["enterprise_id"])
    return match_enterprise(ctx.session, data["enterprise"])


def _close(ctx: Context) -> _Outcome:
    c = census(ctx.session, ctx.convoy.id)  # type: ignore[arg-type]
    if c.in_custody:
        raise ConservationError(
            f"Convoy {ctx.convoy.code} cannot close: {c.in_custody} passenger(s) are still in "
            "custody. Hand them off, or record them as held or withdrawn with a reason."
        )
    return _Outcome(
        ctx.previous_at, {"handed_off": c.handed_off, "held": c.held, "withdrawn": c.withdrawn}
    )


def _report(ctx: Context, kind: Kind) -> tuple[Any, dict[str, Any]] | None:
    ci = checkins.latest(ctx.session, ctx.convoy, kind)
    return None if ci is None else (ci, ci.payload)


def _wait(ctx: Context, kind: Kind) -> _Outcome:
    return _Outcome(ctx.previous_at, {}, complete=False, waiting_for=kind.value)


STEPS: dict[Stage, Callable[[Context], _Outcome]] = {
    Stage.MUSTERING: _muster,
    Stage.VERIFIED: _pre_verify,
    Stage.SCREENED: lambda ctx: _screen(
        ctx, Kind.SCREENING, Stage.SCREENED, Custody.VERIFIED, Custody.CLEARED
    ),
    Stage.DEPARTED: _depart,
    Stage.IN_TRANSIT: _travel,
    Stage.ARRIVED: _arrive,
    Stage.ARRIVAL_SCREENED: lambda ctx: _screen(
        ctx, Kind.ARRIVAL_SCREENING, Stage.ARRIVAL_SCREENED, Custody.ARRIVED, None
    ),
    Stage.HANDED_OFF: _handoff,
    Stage.CLOSED: _close,
}


def completed_stages(session: Session, convoy: Convoy) -> dict[Stage, StageRun]:
    rows = session.execute(select(StageRun).where(col(StageRun.convoy_id) == convoy.id)).scalars()
    return {Stage(r.stage): r for r in rows}


def advance(
    session: Session,
    code: str,
    stage: Stage,
    *,
    flow_run_id: str = "",
    registry: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> StageResult:
    """Perform one step of convoy ``code`` in the caller's transaction (see module doc)."""
    convoy = lock_convoy(session, code)
    done = completed_stages(session, convoy)
    if stage in done:
        run = done[stage]
        return StageResult(code, stage, "skipped", run.at, summary=dict(run.summary or {}))
    check_stage_transition(Stage(convoy.stage), stage)
    previous = done.get(Stage(convoy.stage))
    previous_at = previous.at if previous else convoy.planned_departure
    ctx = Context(session, convoy, settings or get_settings(), registry or {}, previous_at)
    outcome = STEPS[stage](ctx)
    if not outcome.complete:
        return StageResult(
            code, stage, "waiting", waiting_for=outcome.waiting_for, summary=outcome.summary
        )
    # The stage's time is the time of the check-in it applied (never the plan's), kept in
    # order with the stage before it.
    at = outcome.at if previous is None else max(outcome.at, previous.at)
    c = census(session, convoy.id)  # type: ignore[arg-type]
    check_conservation(c, stage)
    summary = {**outcome.summary, "census": {s.value: n for s, n in c.by_state.items()}}
    convoy.stage = stage.value
    convoy.stage_changed_at = at
    session.add(convoy)
    session.add(
        StageRun(
            convoy_id=convoy.id or 0,
            stage=stage.value,
            at=at,
            flow_run_id=flow_run_id,
            summary=summary,
        )
    )
    session.flush()
    return StageResult(code, stage, "done", at, summary=summary)


def hold_or_withdraw(
    session: Session,
    code: str,
    seat: int,
    to: Custody,
    reason: str,
    *,
    at: datetime,
    actor: str,
    location: str = "",
) -> Passenger:
    """An escort takes a passenger out of the trip at any point (illness, leaving, …)."""
    if to not in (Custody.HELD, Custody.WITHDRAWN):
        raise TransitionError("Only held or withdrawn can be recorded directly.")
    convoy = lock_convoy(session, code)
    p = (
        session.execute(
            select(Passenger).where(
                col(Passenger.convoy_id) == convoy.id, col(Passenger.seat) == seat
            )
        )
        .scalars()
        .first()
    )
    if p is None:
        raise TransitionError(f"Convoy {code} has no passenger in seat {seat}.")
    apply_changes(
        session,
        convoy,
        [Change(p.id or 0, to, reason)],
        at=at,
        actor=actor,
        location=location or convoy.destination_name,
        stage=convoy.stage,
    )
    session.refresh(p)
    return p
