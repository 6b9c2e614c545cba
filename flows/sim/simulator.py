"""Plays the escorts of a convoy on an accelerated clock, for the demo and the tests.

It reports exactly what real escorts report, through the same library calls as
``convoy checkin``: the muster roll, screening results, departure, positions along the route,
entry applications, arrival, spot checks and handoffs. Field times follow the convoy's plan
(with seeded, repeatable delays); real time runs ``speed`` times faster. The health data a
manifest declares is the truth it plays (a red code stays red, a positive test positive, the
listed temperature is measured with small noise), so it never hands off someone the manifest
marks as unfit. Replaying a convoy that
already has its reports adds nothing; one whose reports so far were made by hand, later than
its plan, is played on from the last of them (the rest of the plan shifted by as much).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from config import Settings, get_settings
from models.convoy.checkins import Kind, record_checkin
from models.convoy.lifecycle import STAGES, Custody, Stage
from models.convoy.operations import arrival_sample
from models.convoy.store import get_convoy
from models.convoy.tables import CheckIn, Convoy, Enterprise, Passenger
from models.db import init_db, session_scope, utcnow
from models.geo.geodesy import interpolate_along, prepare_polyline


@dataclass(order=True)
class Report:
    at: datetime
    order: int
    kind: Kind = field(compare=False)
    # Built when due, from the convoy as it is then (who is still aboard, who was sampled…).
    build: Callable[[Any], dict[str, Any] | None] = field(compare=False)
    key: str = field(compare=False, default="")


# The passenger columns the simulated escorts read (``ConvoySimulator._passengers``).
_ESCORTS_SEE = ("seat", "custody", "temperature", "nat_result", "nat_time", "health_code",
                "entry_applied", "enterprise_id")  # fmt: skip


class ConvoySimulator:
    """The escorts of one convoy. ``speed`` is field seconds per real second (0 = no waiting)."""

    def __init__(
        self,
        code: str,
        *,
        speed: float = 0.0,
        no_show_rate: float = 0.02,
        fever_rate: float = 0.015,
        settings: Settings | None = None,
    ) -> None:
        self.code = code
        self.speed = speed
        self.no_show_rate = no_show_rate
        self.fever_rate = fever_rate
        self.settings = settings or get_settings()
        self.rng = random.Random(zlib.crc32(code.encode()))
        self.stop_event = threading.Event()
        # Set when the convoy's flow may have moved it on (or the escorts are told to stop):
        # a wait for a stage looks again at once (``nudge``) instead of at its next poll.
        self.stage_event = threading.Event()
        # Called after each report's transaction has committed (the escorts' process tells the
        # campaign's flows: their waiting step looks at once).
        self.on_reported: Callable[[Report], None] | None = None
        self.nudged = False  # whether the flow's steps nudge these escorts (``nudge``)
        # How far the script runs behind the plan: a convoy that already has reports later
        # than the plan's (a muster taken by hand today) is played on from there.
        self.shift = timedelta(0)
        self._seen_stage = -1  # the furthest stage seen reached (an index of STAGES)

    # -- the script -------------------------------------------------------------------------
    def script(self, convoy: Convoy) -> list[Report]:
        rng = self.rng
        dep = convoy.planned_departure + timedelta(minutes=rng.randint(0, 25))
        duration = convoy.planned_arrival - convoy.planned_departure
        arr = dep + duration * (1 + rng.uniform(-0.03, 0.06))
        reports = [
            Report(convoy.planned_departure - timedelta(hours=3), 0, Kind.MUSTER, self._muster),
            Report(convoy.planned_departure - timedelta(hours=2), 1, Kind.SCREENING, self._screen),
            Report(dep, 2, Kind.DEPART, lambda s: {"absent": []}),
        ]
        route = prepare_polyline(convoy.route())
        step = timedelta(minutes=15 if convoy.mode != "flight" else 5)
        t, n = dep, 0
        while t <= arr:
            frac = (t - dep) / (arr - dep)
            lat, lon = interpolate_along(route, frac)
            kmh = 0.0 if frac >= 1 else self.rng.uniform(0.8, 1.1) * 80
            payload = {"lat": round(lat, 6), "lon": round(lon, 6), "speed_kmh": round(kmh, 1)}
            reports.append(Report(t, 10 + n, Kind.POSITION, _constant(payload)))
            t += step
            n += 1
        third = dep + (arr - dep) / 3
        reports.append(Report(third, 5, Kind.ENTRY, lambda s: self._entry(s, 0.9), "first"))
        reports.append(
            Report(arr - (arr - dep) / 4, 6, Kind.ENTRY, lambda s: self._entry(s, 1.0), "rest")
        )
        reports.append(Report(arr, 100_000, Kind.ARRIVE, lambda s: {"missing": []}))
        reports.append(
            Report(arr + timedelta(minutes=20), 100_001, Kind.ARRIVAL_SCREENING, self._spot_check)
        )
        return sorted(reports)

    def _passengers(self, session: Any, state: Custody | None = None) -> Sequence[Any]:
        """The convoy's passengers (in ``state``) by seat, as plain rows with the passenger's
        columns by name: a train has over a thousand, read several times, never changed here."""
        convoy = get_convoy(session, self.code)
        p = Passenger.__table__.c  # type: ignore[attr-defined]
        # Only what the escorts look at (not every column decoded for a thousand rows).
        wanted = [getattr(p, name) for name in _ESCORTS_SEE]
        stmt = select(*wanted).where(p.convoy_id == convoy.id)
        if state is not None:
            stmt = stmt.where(p.custody == state.value)
        return session.execute(stmt.order_by(p.seat)).all()

    def _muster(self, session: Any) -> dict[str, Any]:
        seats = [p.seat for p in self._passengers(session)]
        absent = [s for s in seats if self.rng.random() < self.no_show_rate]
        return {"absent": absent}

    def _measure(self, p: Any, sd: float) -> dict[str, Any]:
        """A temperature as measured: the manifest's declared one with small noise (a declared
        fever stays a fever, a normal one stays below the threshold), else a random one with
        an occasional fever, sometimes gone after rest."""
        fever = self._fever
        if p.temperature is not None:
            t = p.temperature + self.rng.gauss(0, 0.05)
            t = max(t, fever) if p.temperature >= fever else min(t, fever - 0.1)
            return {"temperature": round(t, 1)}
        entry: dict[str, Any] = {"temperature": round(min(37.2, self.rng.gauss(36.5, sd)), 1)}
        if self.fever_rate and self.rng.random() < self.fever_rate:
            entry["temperature"] = round(self.rng.uniform(37.4, 38.6), 1)
            if self.rng.random() < 0.4:  # it was the sun and the queue: fine after rest
                entry["retemperature"] = round(self.rng.uniform(36.4, 37.1), 1)
        return entry

    @property
    def _fever(self) -> float:
        return self.settings.rule_set.screening.fever_celsius

    def _screen(self, session: Any) -> dict[str, Any]:
        """The pre-departure screening. What the manifest declares is the truth played: its
        health code, its test result and time, its temperature; only what it leaves blank is
        invented (green, a recent negative test)."""
        convoy = get_convoy(session, self.code)
        at = convoy.planned_departure - timedelta(hours=2) + self.shift
        results = []
        for p in self._passengers(session):
            if p.custody in (Custody.WITHDRAWN.value, Custody.HELD.value):
                continue
            entry: dict[str, Any] = {"seat": p.seat, **self._measure(p, 0.25)}
            entry["nat_result"] = p.nat_result or "negative"
            declared = p.nat_time + self.shift if p.nat_time else None
            nat = declared or at - timedelta(hours=self.rng.randint(6, 36))
            entry["nat_time"] = nat.isoformat()
            entry["health_code"] = p.health_code or "green"
            results.append(entry)
        return {"results": results}

    def _entry(self, session: Any, share: float) -> dict[str, Any] | None:
        todo = [p.seat for p in self._passengers(session, Custody.BOARDED) if not p.entry_applied]
        seats = [s for s in todo if share >= 1 or self.rng.random() < share]
        return {"seats": seats} if seats else None

    def _spot_check(self, session: Any) -> dict[str, Any]:
        convoy = get_convoy(session, self.code)
        rate = self.settings.rule_set.screening.arrival_sample_rate
        arrived = {p.seat: p for p in self._passengers(session, Custody.ARRIVED)}
        sample = arrival_sample(convoy, list(arrived), rate)
        results = []
        for s in sample:
            p = arrived[s]
            t = self._measure(p, 0.2)["temperature"] if p.temperature is not None else None
            if t is None:
                t = round(min(37.2, self.rng.gauss(36.5, 0.2)), 1)
            results.append({"seat": s, "temperature": t, "health_code": p.health_code or "green"})
        return {"results": results}

    def _handoffs(self, session: Any, arrived_at: datetime) -> list[Report]:
        people = self._passengers(session, Custody.ARRIVED)
        ids = sorted({p.enterprise_id for p in people if p.enterprise_id})
        out = []
        for i, eid in enumerate(ids):
            ent = session.get(Enterprise, eid)
            payload = {
                "enterprise": ent.name,
                "received_by": ent.contact_name or f"{ent.name} reception",
                "location": ent.address,
            }
            at = arrived_at + timedelta(minutes=45 + 20 * i)
            out.append(Report(at, 200_000 + i, Kind.HANDOFF, _constant(payload), ent.name))
        return out

    # -- playing ----------------------------------------------------------------------------
    @staticmethod
    def _key(kind: Kind, at: datetime, payload: dict[str, Any]) -> tuple[Any, ...]:
        """What tells one report from another of its kind: positions and entry reports by
        time, handoffs by enterprise; of the other kinds there is one per convoy."""
        if kind in (Kind.POSITION, Kind.ENTRY):
            return (kind, at)
        if kind is Kind.HANDOFF:
            return (kind, payload.get("enterprise"))
        return (kind,)

    @staticmethod
    def _latest(session: Any, convoy: Convoy) -> datetime | None:
        """The time of the convoy's latest check-in of the trip (positions and entry reports
        aside), whoever made it."""
        latest: datetime | None = session.execute(
            select(func.max(col(CheckIn.at))).where(
                col(CheckIn.convoy_id) == convoy.id,
                col(CheckIn.kind).not_in([Kind.POSITION.value, Kind.ENTRY.value]),
            )
        ).scalar()
        return latest

    def _reported(self, session: Any, convoy: Convoy) -> set[tuple[Any, ...]]:
        """The keys of every check-in this convoy already has (read once per play)."""
        rows = session.execute(
            select(col(CheckIn.kind), col(CheckIn.at), col(CheckIn.payload)).where(
                col(CheckIn.convoy_id) == convoy.id
            )
        ).all()
        return {self._key(Kind(kind), at, payload or {}) for kind, at, payload in rows}

    def _sleep_until(self, at: datetime, t0_field: datetime, t0_real: float) -> bool:
        if self.speed <= 0:
            return not self.stop_event.is_set()
        due = t0_real + (at - t0_field).total_seconds() / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            return not self.stop_event.wait(delay)
        return not self.stop_event.is_set()

    def play(self) -> int:
        """Report everything not yet reported, in field-time order. Returns reports written."""
        with session_scope(self.settings) as session:
            convoy = get_convoy(session, self.code)
            reported = self._reported(session, convoy)
            queue = [
                r
                for r in self.script(convoy)
                if self._key(r.kind, r.at, {"enterprise": r.key}) not in reported
            ]
            latest = self._latest(session, convoy)
        if not queue:
            return 0
        if latest is not None and queue[0].at <= latest:
            self.shift = latest - queue[0].at + timedelta(minutes=1)
            for r in queue:
                r.at += self.shift
        t0_field, t0_real = queue[0].at, time.monotonic()
        written = 0
        while queue:
            report = queue.pop(0)
            if not self._sleep_until(report.at, t0_field, t0_real):
                break
            if not self._wait_for_flow(report.kind):
                break
            recorded = False
            with session_scope(self.settings) as session:
                payload = report.build(session)
                if payload is not None:
                    recorded = True
                    self.before_recording(report)
                    record_checkin(
                        session,
                        self.code,
                        report.kind.value,
                        payload,
                        at=report.at,
                        source="simulator",
                        # The simulated clock: a shifted script may run ahead of the real one.
                        now=max(report.at, utcnow()),
                    )
                    written += 1
                if report.kind is Kind.ARRIVAL_SCREENING:
                    handoffs = self._handoffs(session, report.at - timedelta(minutes=20))
                    queue = sorted(queue + [h for h in handoffs if (h.kind, h.key) not in reported])
            if recorded:
                self.after_report(report)
                if self.on_reported is not None:  # committed: the flow may read it
                    self.on_reported(report)
        return written

    def before_recording(self, report: Report) -> None:
        """Called once the report is built, before it is recorded: the convoy's flow cannot
        have acted on it yet (a campaign simulation checks the convoy for delays there, at the
        report's field time, in a transaction of its own, as the delay monitor does)."""

    def after_report(self, report: Report) -> None:
        """Called once the report's transaction has committed, before the flow is told (a
        campaign simulation checks a position there, which no step reads)."""

    def _wait_for_flow(self, kind: Kind) -> bool:
        """Escorts report a step only once the convoy has reached the step before it: the
        screening needs the verified roll, the spot check needs the arrived list."""
        needed = _NEEDS_STAGE.get(kind)
        if needed is None:
            return True
        return self.reached(needed)

    def stop(self) -> None:
        """Stop playing (a report being written is finished first)."""
        self.stop_event.set()
        self.stage_event.set()

    def nudge(self) -> None:
        """The convoy's flow may have moved it on: a wait for a stage looks again now."""
        self.stage_event.set()

    # How often a wait for a stage reads the convoy's stage: told by ``nudge`` (the flow's
    # steps, in this process or through the escorts' process), or, when nobody tells, by
    # polling (a step run elsewhere, e.g. from the CLI).
    POLL_SECONDS = 0.05
    POLL_NUDGED_SECONDS = 1.0

    def reached(self, stage: Stage) -> bool:
        """Wait until the convoy has reached ``stage`` (False: told to stop first). Stages only
        go forward: one seen reached is not read again."""
        wanted = STAGES.index(stage)
        if self._seen_stage >= wanted:  # asked before every position report: no query
            return True
        c = Convoy.__table__.c  # type: ignore[attr-defined]
        stage_now = select(c.stage).where(c.code == self.code)
        engine = init_db(self.settings)  # a plain read, polled: no ORM session each time
        every = self.POLL_NUDGED_SECONDS if self.nudged else self.POLL_SECONDS
        while self._seen_stage < wanted and not self.stop_event.is_set():
            with engine.connect() as conn:
                now = conn.execute(stage_now).scalar_one()
            self._seen_stage = STAGES.index(Stage(now))
            if self._seen_stage < wanted and self.stage_event.wait(every):
                self.stage_event.clear()
        return self._seen_stage >= wanted


def _constant(payload: dict[str, Any]) -> Callable[[Any], dict[str, Any] | None]:
    return lambda _session: payload


_NEEDS_STAGE = {
    Kind.SCREENING: Stage.VERIFIED,
    Kind.ENTRY: Stage.DEPARTED,
    Kind.ARRIVAL_SCREENING: Stage.ARRIVED,
}
