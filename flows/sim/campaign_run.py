"""Loading a generated operation (``flows.sim.campaign``) through the real import, and its
simulated escorts: a late train, an off-route bus, the delay checks at field time.

``load_campaign`` writes the enterprise list and every manifest into the campaign's folder and
imports them exactly as ``convoy enterprise import`` and ``convoy manifest import`` do (one
manifest per transaction, so nothing holds the database long). ``CampaignEscorts`` plays a
convoy's escorts like ``ConvoySimulator`` and runs the delay monitor's check of that convoy at
the report's field time just before each departure, arrival and arrival screening is recorded
and after every fourth position report, so alerts open, dedupe, escalate and resolve as they
would have; the coordinator acknowledges every alert except an off-route one, which therefore
escalates.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from config import Settings, get_settings
from flows.service.runtime import batch_collection
from flows.sim.campaign import CITY, CampaignPlan, Trip, write_enterprises, write_manifest
from flows.sim.simulator import ConvoySimulator, Report, _constant
from models.access.actors import acting_as
from models.access.actors import current as current_actor
from models.convoy.checkins import Kind
from models.convoy.lifecycle import Stage
from models.convoy.store import (
    ConvoySpec,
    assign_escort,
    upsert_campaign,
    upsert_convoy,
    upsert_escort,
)
from models.convoy.tables import Convoy
from models.db import session_scope
from models.errors import ValidationError
from models.geo.gazetteer import resolve_place
from models.intake.enterprises import import_enterprises
from models.intake.importer import import_manifest
from models.tracking.alerts.checks import checking
from models.tracking.alerts.lifecycle import acknowledge

# Which convoy plays which incident, by code (filled by ``load_campaign``; the simulators of
# the campaign flow read it in the same process).
INCIDENTS: dict[str, str] = {}
LATE_MINUTES = 80  # the late train leaves this much after its plan, and arrives late as much
OFF_ROUTE_DEG = 0.45  # the off-route bus's detour: about 50 km north of its corridor


def campaign_folder(name: str, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.var_dir / "campaigns" / name


@dataclass
class Loaded:
    name: str
    folder: Path
    codes: list[str]
    enterprises: dict[str, Any] = field(default_factory=dict)  # the enterprise list's import
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        keys = ("read", "imported", "rejected", "warnings")
        return {k: sum(int(r[k]) for r in self.imports.values()) for k in keys}


def _spec(plan: CampaignPlan, trip: Trip) -> ConvoySpec:
    o = trip.origin
    origin = resolve_place(o.place, hint=o.hint or None)
    dest = resolve_place(trip.destination)
    return ConvoySpec(
        code=trip.code,
        mode=trip.mode,
        vehicle=trip.vehicle,
        origin_name=origin.full_name,
        origin=(origin.lat, origin.lon),
        origin_adcode=origin.adcode or next(iter(origin.area_codes), ""),
        destination_name=dest.full_name,
        destination=(dest.lat, dest.lon),
        destination_adcode=dest.adcode or next(iter(dest.area_codes), ""),
        planned_departure=trip.depart,
        planned_arrival=trip.arrive,
        campaign=plan.name,
        notes=f"simulated: {trip.incident}" if trip.incident else "simulated",
    )


def load_campaign(plan: CampaignPlan, settings: Settings | None = None) -> Loaded:
    """Write the plan's files and load them into the database through the real imports.
    Loading the same plan again adds nothing (convoys under way keep their manifests)."""
    settings = settings or get_settings()
    loaded = _prepare(plan, settings)
    _load_people(plan, loaded, settings)
    for trip in plan.trips:
        _load_trip(plan, trip, loaded, settings)
    return loaded


def _prepare(plan: CampaignPlan, settings: Settings) -> Loaded:
    """Before the people load: the campaign (refused if one of its convoys belongs to another
    campaign of this database), the manifests of an earlier run cleared, each convoy's
    incident noted."""
    with session_scope(settings) as session:
        others = {
            code: cid
            for code, cid in session.execute(
                select(col(Convoy.code), col(Convoy.campaign_id)).where(
                    col(Convoy.code).in_([t.code for t in plan.trips])
                )
            ).all()
        }
        camp = upsert_campaign(session, plan.name, city=CITY, description="Simulated operation.")
        clash = sorted(code for code, cid in others.items() if cid != camp.id)
        if clash:
            raise ValidationError(
                f"Convoy {clash[0]} already belongs to another campaign in this database; "
                "simulate into a fresh one (set CONVOY_VAR_DIR to another folder)."
            )
    folder = campaign_folder(plan.name, settings)
    manifests = folder / "manifests"
    if manifests.exists():
        shutil.rmtree(manifests)
    for trip in plan.trips:
        INCIDENTS[trip.code] = trip.incident
    return Loaded(plan.name, folder, [t.code for t in plan.trips])


def _load_people(plan: CampaignPlan, loaded: Loaded, settings: Settings) -> None:
    """The campaign's enterprise list and its escorts (the manifests come trip by trip)."""
    with session_scope(settings) as session:
        ent = import_enterprises(session, write_enterprises(plan, loaded.folder), within=CITY)
        for e in plan.escorts:
            upsert_escort(session, e.badge, name=e.name, unit=e.unit, phone=e.phone)
    loaded.enterprises = ent.as_dict()


def _load_trip(plan: CampaignPlan, trip: Trip, loaded: Loaded, settings: Settings) -> None:
    """One trip: its manifest written as the field writes it, its convoy and escorts (one
    transaction), then the manifest imported as ``convoy manifest import`` does (another: the
    file is read and checked before its first write)."""
    path = write_manifest(plan, trip, loaded.folder / "manifests")
    with session_scope(settings) as session:
        convoy = upsert_convoy(session, _spec(plan, trip))
        for i, badge in enumerate(trip.escorts):
            assign_escort(
                session, convoy, upsert_escort(session, badge), "lead" if i == 0 else "escort"
            )
        planned = convoy.stage == Stage.PLANNED.value
    if planned:
        with session_scope(settings) as session:
            report = import_manifest(session, trip.code, path, settings=settings)
            loaded.imports[trip.code] = report.as_dict()


class Loading:
    """Loading a campaign while its convoys already run, in a thread of its own (``start``
    returns once the plan is checked, ``_prepare``): the enterprises and escorts first, while
    the campaign flow makes its convoys' flow runs, then the trips' manifests one by one, in
    the plan's order, which is the order the campaign flow starts the convoys.
    A convoy's flow starts once its own manifest is in (``wait``), not once every manifest is:
    a 10x operation's first trains leave while its last buses still load."""

    def __init__(self, plan: CampaignPlan, settings: Settings, loaded: Loaded) -> None:
        self.plan, self.settings, self.loaded = plan, settings, loaded
        self._done: dict[str, threading.Event] = {t.code: threading.Event() for t in plan.trips}
        self._error: BaseException | None = None
        # The imports are audited as the caller's, not as a thread's default actor.
        self._actor = current_actor()
        self._thread = threading.Thread(target=self._run, name="campaign-loading", daemon=True)

    @classmethod
    def start(cls, plan: CampaignPlan, settings: Settings | None = None) -> Loading:
        settings = settings or get_settings()
        loading = cls(plan, settings, _prepare(plan, settings))
        loading._thread.start()
        return loading

    def _run(self) -> None:
        try:
            with acting_as(*self._actor):
                _load_people(self.plan, self.loaded, self.settings)
                for trip in self.plan.trips:
                    _load_trip(self.plan, trip, self.loaded, self.settings)
                    self._done[trip.code].set()
        except BaseException as exc:  # given to every convoy still waiting, and by ``join``
            self._error = exc
        finally:
            for done in self._done.values():
                done.set()

    def wait(self, code: str) -> None:
        """Until ``code``'s manifest is in; raises the loading's error if it stopped first."""
        done = self._done.get(code)
        if done is None:
            return
        done.wait()
        if self._error is not None and code not in self.loaded.imports:
            raise self._error

    def join(self) -> Loaded:
        """Every manifest in: the load (raises the loading's error, if any)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.loaded


# The loading under way in this process, if any (``simulate`` sets it; the convoys' simulated
# escorts wait for their convoy's manifest through ``wait_loaded`` before the flow starts).
_loading: Loading | None = None


def wait_loaded(code: str) -> None:
    """Return once convoy ``code``'s manifest is loaded (at once when no loading runs)."""
    loading = _loading
    if loading is not None:
        loading.wait(code)


# One delay check at a time in this process (``CampaignEscorts._check``).
_CHECKING = threading.Lock()


class CampaignEscorts(ConvoySimulator):
    """The escorts of one convoy of a simulated campaign (see the module doc)."""

    CHECK_EVERY = 4  # position reports between two delay checks

    def __init__(
        self,
        code: str,
        *,
        speed: float = 0.0,
        incident: str | None = None,
        settings: Settings | None = None,
    ):
        """``incident``: the convoy's incident, if not the one ``load_campaign`` noted."""
        super().__init__(code, speed=speed, settings=settings)
        self.incident = INCIDENTS.get(code, "") if incident is None else incident
        self.convoy_id = 0
        self.positions = 0

    def script(self, convoy: Convoy) -> list[Report]:
        reports = super().script(convoy)
        self.convoy_id = convoy.id or 0
        if self.incident == "late":
            dep = next(r.at for r in reports if r.kind is Kind.DEPART)
            for r in reports:
                if r.at >= dep:
                    r.at += timedelta(minutes=LATE_MINUTES)
        elif self.incident == "off_route":
            moving = [r for r in reports if r.kind is Kind.POSITION]
            third = len(moving) // 3
            for r in moving[third : 2 * third]:
                payload = dict(r.build(None) or {})
                payload["lat"] = round(payload["lat"] + OFF_ROUTE_DEG, 6)
                r.build = _constant(payload)
        return sorted(reports)

    def _wait_for_flow(self, kind: Kind) -> bool:
        """Positions and the arrival are reported once the departure is recorded (the checks
        then see the convoy under way); the rest as the plain simulator does."""
        if kind in (Kind.POSITION, Kind.ARRIVE) and not self.reached(Stage.DEPARTED):
            return False
        return super()._wait_for_flow(kind)

    def before_recording(self, report: Report) -> None:
        # A report the flow acts on is checked before it is recorded: the check sees the
        # convoy as the report found it, however soon the flow moves on.
        if report.kind in (Kind.DEPART, Kind.ARRIVE, Kind.ARRIVAL_SCREENING):
            self._check(report.at)

    def after_report(self, report: Report) -> None:
        if report.kind is Kind.POSITION:  # no step reads a position: checked once it is in
            self.positions += 1
            if self.positions % self.CHECK_EVERY == 0:
                self._check(report.at)

    def _check(self, at: datetime) -> None:
        """The delay monitor's check of this convoy at field time ``at`` (positions of every
        convoy folded first, as the monitor folds them); the coordinator acknowledges what it
        opens, except an off-route alert. The checks of this process take turns."""
        with _CHECKING, checking(at, self.settings, convoy_ids=[self.convoy_id]) as (s, result):
            for change in result.changes:
                if change.action == "opened" and change.kind != "off_route" and change.alert_id:
                    acknowledge(s, change.alert_id, "值班协调员 (simulated)", at)


@dataclass
class Simulated:
    """What ``simulate`` did: the load, the convoys' results, the files written."""

    loaded: Loaded
    results: list[dict[str, Any]]
    overview: Path
    report: dict[str, Any]
    files: dict[str, Path]

    @property
    def not_closed(self) -> list[str]:
        return [r["code"] for r in self.results if r.get("waiting_for")]


@batch_collection()
def simulate(
    plan: CampaignPlan,
    *,
    concurrency: int = 6,
    speed: float = 0.0,
    max_wait: float = 1800.0,
    passes: bool = True,
    on_loaded: Any = None,
) -> Simulated:
    """The whole operation: load it (as ``load_campaign`` does), run every convoy flow with its
    simulated escorts through the campaign flow (``concurrency`` at a time), draw the overview
    map and write the report (HTML, XLSX, CSV, JSON) and the import totals into the campaign's
    folder. With ``passes`` the campaign's vehicle passes go through the permit workflow too
    (``flows.sim.campaign_passes``). Each convoy's flow starts once its own manifest is in
    (``Loading``). ``on_loaded(loaded)`` is called once every manifest is in and every flow
    has run (its totals are then final). Garbage is collected as in a long batch
    (``batch_collection``)."""
    from flows.campaign import campaign_flow
    from flows.cli.campaign import build_report, write_report_files
    from flows.sim.escort_process import escorts_in_own_process
    from maps.files import save_campaign_map

    # The escorts play in a process of their own (another core), started first: it gets ready
    # while the enterprises load. The manifests load trip by trip beside the flows (``Loading``).
    global _loading
    with escorts_in_own_process():
        loading = _loading = Loading.start(plan)
        try:
            if passes:
                from flows.sim.campaign_passes import issue_passes

                issue_passes(plan)
            # A waiting step looks when the escorts say they reported (``waits.wake``); its
            # poll is only the fallback.
            results = campaign_flow(
                plan.name, loading.loaded.codes, poll_seconds=1.0, max_wait_seconds=max_wait,
                concurrency=concurrency, simulate_speed=speed,
            )  # fmt: skip
        finally:
            _loading = None
            loaded = loading.join()  # a loading error is the one to report
        if on_loaded is not None:
            on_loaded(loaded)
    overview = save_campaign_map(plan.name)
    report = build_report(plan.name)
    folder = loaded.folder
    files = write_report_files(
        report, plan.name, html=folder / "report.html", xlsx=folder / "report.xlsx",
        csv=folder / "report.csv", json_file=folder / "report.json",
    )  # fmt: skip
    imports = {"totals": loaded.totals(), "convoys": loaded.imports,
               "enterprises": loaded.enterprises}  # fmt: skip
    (folder / "imports.json").write_text(
        json.dumps(imports, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8"
    )
    return Simulated(loaded, results, overview, report, files)
