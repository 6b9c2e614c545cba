"""`convoy campaign simulate` at a small scale, end to end: field-written manifests through the
real import, every convoy flow run concurrently to closed, conservation for every convoy, no
lost or doubled custody event, and every report figure equal to a direct count in the database;
the same seed gives the same operation and the same figures."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, text
from typer.testing import CliRunner

from config import Settings, get_settings, reset_settings
from flows.cli.main import app
from flows.sim import escort_process
from flows.sim.campaign import Dirt, plan_campaign, write_manifest
from flows.sim.campaign_run import Loading, Simulated, simulate
from models.access.actors import acting_as, operator
from models.db import dispose_engines, get_engine
from models.views.report_sections import reason_kind

DIRTY = Dirt(bad_checksum=0.05, bad_phone=0.05, employer_variant=0.1, employer_unknown=0.04,
             duplicate=0.05, fever=0.05, positive=0.02, red_code=0.02)  # fmt: skip
runner = CliRunner()


def _run(
    scale: float = 0.05, seed: int = 7, concurrency: int = 3, passes: bool = False
) -> Simulated:
    """The simulation, with every database error any thread of this process meets recorded:
    there must be none (no "database is locked" between the concurrent convoys, their escorts
    and checks). The escorts play in a process of their own: an error there stops their convoy
    and the simulation raises it."""
    plan = plan_campaign(scale, seed)
    plan.dirt = DIRTY
    errors: list[str] = []
    escorts: list[object] = []

    def seen(context: Any) -> None:
        errors.append(str(context.original_exception))

    engine = get_engine()
    event.listen(engine, "handle_error", seen)
    try:
        with acting_as(operator("test"), "cli"):
            done = simulate(
                plan, concurrency=concurrency, max_wait=300, passes=passes,
                on_loaded=lambda _loaded: escorts.append(escort_process.current()),
            )  # fmt: skip
    finally:
        event.remove(engine, "handle_error", seen)
    assert errors == []
    assert escorts and escorts[0] is not None  # they played in the escorts' process
    return done


def _q(sql: str, **params: Any) -> list[Any]:
    with get_engine().connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _one(sql: str, **params: Any) -> Any:
    return _q(sql, **params)[0][0]


def _time(value: Any) -> datetime:
    """A time as the driver returns it (SQLite: text; PostgreSQL: a datetime)."""
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.replace(tzinfo=None)


def _same_day(campaign_id: int) -> float:
    """Delivered passes delivered on the local day they were applied for, over all delivered."""
    tz = get_settings().tz
    rows = _q(
        "SELECT a.applied_at, p.delivered_at FROM permit_application a JOIN permit p "
        "ON p.application_id = a.id WHERE a.campaign_id = :c AND a.status = 'delivered'",
        c=campaign_id,
    )
    local = lambda t: _time(t).replace(tzinfo=UTC).astimezone(tz).date()  # noqa: E731
    same = sum(local(a) == local(d) for a, d in rows)
    return round(same / len(rows), 4)


def _direct_figures(campaign: str) -> dict[str, Any]:
    """Every figure of the report, counted straight from the tables."""
    cid = _one("SELECT id FROM campaign WHERE name = :n", n=campaign)
    convoys = _q("SELECT id, mode, origin_name, origin_adcode, planned_arrival, actual_arrival "
                 "FROM convoy WHERE campaign_id = :c", c=cid)  # fmt: skip
    ids = ",".join(str(c[0]) for c in convoys)
    p = f"FROM passenger WHERE convoy_id IN ({ids})"
    custody = dict(_q(f"SELECT custody, COUNT(*) {p} GROUP BY custody"))
    rules = get_settings().rule_set
    delays, on_time = [], 0
    for _id, mode, _o, _a, planned, actual in convoys:
        if actual is None:
            continue
        late = (_time(actual) - _time(planned)).total_seconds() / 60
        delays.append(late)
        on_time += late <= rules.delay[mode].late_arrival_min
    modes: dict[str, int] = {}
    for c in convoys:
        modes[c[1]] = modes.get(c[1], 0) + 1
    held_reasons: dict[str, int] = {}
    for reason, n in _q(f"SELECT custody_reason, COUNT(*) {p} AND custody = 'held' "
                        "GROUP BY custody_reason"):  # fmt: skip
        held_reasons[reason_kind(reason)] = held_reasons.get(reason_kind(reason), 0) + n
    total = sum(custody.values())
    done = sum(custody.get(s, 0) for s in ("handed_off", "held", "withdrawn"))
    return {
        "officers_sent": _one(
            f"SELECT COUNT(DISTINCT escort_id) FROM assignment WHERE convoy_id IN ({ids})"
        ),
        "provinces": len({c[3][:2] for c in convoys}),
        "origin_places": len({c[2] for c in convoys}),
        "trips": len(convoys),
        **{f"trips.{m}": n for m, n in modes.items()},
        "passengers": total,
        "workers_escorted": custody.get("handed_off", 0),
        "held": custody.get("held", 0),
        "withdrawn": custody.get("withdrawn", 0),
        "in_custody": total - done,
        **{f"held:{r}": n for r, n in held_reasons.items()},
        "arrived_trips": len(delays),
        "on_time_trips": on_time,
        "on_time_rate": round(on_time / len(delays), 4),
        "median_delay_min": round(median(delays), 1),
        "max_delay_min": round(max(delays), 1),
        "enterprises_received": _one(
            f"SELECT COUNT(DISTINCT enterprise_id) {p} AND custody = 'handed_off'"
        ),
        "handoffs": _one(
            f"SELECT COUNT(*) FROM checkin WHERE kind = 'handoff' AND convoy_id IN ({ids})"
        ),
        "alerts_raised": _one(f"SELECT COUNT(*) FROM alert WHERE convoy_id IN ({ids})"),
        "alerts_acknowledged": _one(
            f"SELECT COUNT(*) FROM alert WHERE acknowledged_at IS NOT NULL AND convoy_id IN ({ids})"
        ),
        "alerts_escalated": _one(
            f"SELECT COUNT(*) FROM alert WHERE escalation_level > 0 AND convoy_id IN ({ids})"
        ),
        "passes_issued": _one(
            "SELECT COUNT(*) FROM permit_application WHERE campaign_id = :c "
            "AND status IN ('issued', 'delivered')",
            c=cid,
        ),
        "passes_delivered": _one(
            "SELECT COUNT(*) FROM permit_application WHERE campaign_id = :c "
            "AND status = 'delivered'",
            c=cid,
        ),
        "units_served": _one(
            "SELECT COUNT(DISTINCT enterprise) FROM permit_application WHERE campaign_id = :c "
            "AND status IN ('issued', 'delivered')",
            c=cid,
        ),
        "passes_same_day_rate": _same_day(cid),
    }


def test_small_campaign_end_to_end(settings: Settings) -> None:
    done = _run(passes=True)
    name = done.loaded.name
    assert done.not_closed == []
    assert len(done.results) == 3 and {r["mode"] for r in done.results} == {
        "train",
        "flight",
        "bus",
    }

    # The real import: every row read is imported or rejected, with the field's dirt found.
    reasons: dict[str, int] = {}
    warnings: dict[str, int] = {}
    for code, rep in done.loaded.imports.items():
        assert rep["imported"] + rep["rejected"] == rep["read"], code
        for k, n in rep["reasons"].items():
            reasons[k] = reasons.get(k, 0) + n
        for k, n in rep["warning_reasons"].items():
            warnings[k] = warnings.get(k, 0) + n
    assert {"id_invalid", "duplicate_in_file", "unknown_employer"} <= set(reasons)
    assert {"phone_invalid", "declared_unfit"} <= set(warnings)
    assert {Path(r["file"]).suffix for r in done.loaded.imports.values()} == {".csv", ".xlsx"}

    # Conservation for every convoy, and each passenger's custody state entered exactly once.
    for r in done.results:
        assert r["stage"] == "closed" and r["in_custody"] == 0
        assert r["passengers"] == r["handed_off"] + r["held"] + r["withdrawn"] > 0
    assert (
        _q(
            "SELECT p.id FROM passenger p LEFT JOIN custody_event e "
            "ON e.passenger_id = p.id AND e.to_state = p.custody "
            "GROUP BY p.id HAVING COUNT(e.id) <> 1"
        )
        == []
    )
    assert _q("SELECT passenger_id, to_state FROM custody_event "
              "GROUP BY passenger_id, to_state HAVING COUNT(*) > 1") == []  # fmt: skip
    assert _one("SELECT COUNT(*) FROM passenger WHERE custody = 'handed_off'") == _one(
        "SELECT COUNT(*) FROM custody_event WHERE to_state = 'handed_off'"
    )

    # The late train and the off-route bus raised alerts; the off-route one, unacknowledged,
    # escalated; every alert is resolved now.
    kinds = {k for (k,) in _q("SELECT kind FROM alert")}
    assert {"late_departure", "off_route"} <= kinds
    assert _one("SELECT COUNT(*) FROM alert WHERE kind = 'off_route' AND escalation_level > 0") >= 1
    assert _one("SELECT COUNT(*) FROM alert WHERE resolved_at IS NULL") == 0

    # Every figure of the report equals the direct count.
    shown = {r["key"]: r["value"] for s in done.report["sections"] for r in s["rows"]}
    direct = _direct_figures(name)
    assert {k: shown.get(k) for k in direct} == direct
    assert direct["passes_issued"] > 0 and 0 < direct["passes_same_day_rate"] < 1
    assert done.report["figures"]["workers_escorted"] == direct["workers_escorted"]

    # The campaign flow run carries the figures as a markdown artifact.
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.convoy import artifact_key

    key = artifact_key(f"campaign-{name}-report")
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    assert arts and f"| {direct['workers_escorted']} |" in str(arts[-1].data)

    # The files: a self-contained HTML page linking the maps, XLSX, CSV, JSON.
    folder = done.loaded.folder
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "echarts" in page and 'src="http' not in page and "src='http" not in page
    assert "campaign-" in page and ".html" in page
    rows = list(csv.DictReader((folder / "report.csv").open(encoding="utf-8-sig")))
    assert {r["key"]: r["value"] for r in rows}["workers_escorted"] == str(
        direct["workers_escorted"]
    )
    wb = load_workbook(folder / "report.xlsx")
    assert {"figures", "enterprises", "places"} <= set(wb.sheetnames)
    assert json.loads((folder / "report.json").read_text("utf-8"))["campaign"] == name

    # `convoy report` reads the same figures, in every format.
    out = folder / "again"
    files = [
        "--html",
        str(out / "r.html"),
        "--xlsx",
        str(out / "r.xlsx"),
        "--csv",
        str(out / "r.csv"),
    ]
    result = runner.invoke(app, ["report", "--campaign", name, *files])
    assert result.exit_code == 0, result.output
    assert all((out / f).stat().st_size > 0 for f in ("r.html", "r.xlsx", "r.csv"))
    as_json = json.loads(runner.invoke(app, ["report", "--campaign", name, "--json"]).output)
    assert as_json["workers_escorted"] == direct["workers_escorted"]
    bad = runner.invoke(app, ["report", "--campaign", "no such campaign"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output


_COUNTS = ("read", "imported", "added", "rejected", "warnings", "reasons", "warning_reasons")


def _figures_in(var: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("CONVOY_VAR_DIR", str(var))
    monkeypatch.setenv("CONVOY_DATABASE_URL", "")
    dispose_engines()
    reset_settings()
    done = _run(seed=11, concurrency=2)
    report = done.report
    return {"sections": report["sections"], "tables": report["tables"],
            "imports": {c: {k: v for k, v in r.items() if k in _COUNTS}
                        for c, r in done.loaded.imports.items()}}  # fmt: skip


def test_same_seed_same_operation_and_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = plan_campaign(0.05, 11), plan_campaign(0.05, 11), plan_campaign(0.05, 12)
    assert [(t.code, t.size, t.depart) for t in a.trips] == [
        (t.code, t.size, t.depart) for t in b.trips
    ]
    csv_trip = next(t for t in a.trips if t.fmt.startswith("csv"))
    one = write_manifest(a, csv_trip, tmp_path / "a").read_bytes()
    two = write_manifest(b, csv_trip, tmp_path / "b").read_bytes()
    other = write_manifest(c, next(t for t in c.trips if t.code == csv_trip.code), tmp_path / "c")
    assert one == two != other.read_bytes()

    first = _figures_in(tmp_path / "one", monkeypatch)
    second = _figures_in(tmp_path / "two", monkeypatch)
    assert first == second
    dispose_engines()


def test_scale_is_checked(settings: Settings) -> None:
    from models.errors import ValidationError

    with pytest.raises(ValidationError, match="scale"):
        plan_campaign(0, 1)
    bad = runner.invoke(app, ["campaign", "simulate", "--scale", "-1"])
    assert bad.exit_code == 1 and "The scale must be above 0" in bad.output
    assert "Traceback" not in bad.output
    ten = plan_campaign(10, 1)
    assert len(ten.trips) == 430 and len({t.code for t in ten.trips}) == 430
    one = plan_campaign(1, 1)
    assert len(one.trips) == 43 and len({t.origin.place for t in one.trips}) == 13
    assert len(one.provinces) == 8 and 18_000 <= sum(t.size for t in one.trips) <= 22_000


def test_each_convoy_waits_only_for_its_own_manifest(settings: Settings) -> None:
    """The manifests load beside the flows: ``wait(code)`` returns once that convoy's manifest
    is in (the ones after it may still be loading), and the imports are audited as the caller's,
    not as the loading thread's."""
    plan = plan_campaign(0.05, 5)
    with acting_as(operator("loader-test"), "cli"):
        loading = Loading.start(plan)
    first = plan.trips[0].code
    loading.wait(first)
    assert first in loading.loaded.imports
    for code in reversed(loading.loaded.codes):
        loading.wait(code)
        assert code in loading.loaded.imports
    loaded = loading.join()
    assert set(loaded.imports) == {t.code for t in plan.trips}
    actors = _q("SELECT DISTINCT actor FROM audit_event WHERE action = 'passengers.add'")
    assert [a for (a,) in actors] == ["loader-test"]


def test_a_manifest_that_cannot_load_stops_the_convoys_after_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loading that fails on one trip: the trips before it are in, every convoy from it on
    is given the error instead of waiting for ever, and ``join`` raises it."""
    from flows.sim import campaign_run

    plan = plan_campaign(0.05, 5)
    broken = plan.trips[1].code
    real = campaign_run.write_manifest

    def write(plan_: Any, trip: Any, folder: Path) -> Path:
        if trip.code == broken:
            raise OSError(f"The disk is full; the manifest of {trip.code} was not written.")
        return real(plan_, trip, folder)

    monkeypatch.setattr(campaign_run, "write_manifest", write)
    loading = Loading.start(plan)
    loading.wait(plan.trips[0].code)
    for code in (broken, plan.trips[-1].code):
        with pytest.raises(OSError, match="disk is full"):
            loading.wait(code)
    with pytest.raises(OSError, match="disk is full"):
        loading.join()
    assert set(loading.loaded.imports) == {plan.trips[0].code}


def test_nobody_is_on_two_manifests_by_chance() -> None:
    """Whether an import refuses someone already on another convoy depends on whether that
    convoy has closed by then: with the manifests loading beside the running flows, a person
    on two manifests would make the figures depend on timing (at seed 2020 random ID numbers
    put two people on two manifests at 1x, 161 at 10x)."""
    from flows.sim.campaign import manifest_rows

    plan = plan_campaign(1, 2020)
    trips_of: dict[str, set[str]] = {}
    for trip in plan.trips:
        for row in manifest_rows(plan, trip):
            trips_of.setdefault(row[2], set()).add(trip.code)
    assert sum(len(v) for v in trips_of.values()) > 20_000
    assert [idn for idn, codes in trips_of.items() if len(codes) > 1] == []
