"""`convoy demo`: the model operation end to end, twice, with the same result and no duplicates."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from config import Settings
from flows.cli.main import app
from models.convoy.tables import CheckIn, CustodyEvent, Passenger, Position, StageRun
from models.db import session_scope
from models.permits.tables import Permit, PermitEvent

runner = CliRunner()


def _counts() -> dict[str, int]:
    with session_scope() as s:
        return {
            t.__name__: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Passenger, CustodyEvent, StageRun, CheckIn, Position, Permit, PermitEvent)
        }


def test_demo_runs_every_convoy_to_closed_and_is_repeatable(settings: Settings) -> None:
    first = runner.invoke(app, ["demo", "--speed", "0", "--json"])
    assert first.exit_code == 0, first.output
    results = json.loads(first.output)
    by_code = {r["code"]: r for r in results}
    assert set(by_code) == {"BUS-PC-01", "TRAIN-XY-01", "FLIGHT-KWE-01"}
    for r in results:
        assert r["stage"] == "closed" and r["in_custody"] == 0
        assert r["passengers"] == r["handed_off"] + r["held"] + r["withdrawn"]
        assert (settings.output_dir / "maps" / f"{r['code']}.html").exists()
    bus = by_code["BUS-PC-01"]
    assert bus["origin"] == "陕西省渭南市蒲城县" and bus["destination"] == "浙江省宁波市象山县"
    assert bus["planned_arrival"] == "2020-02-21 16:00"
    # A few fevers and no-shows somewhere in the campaign, none of them lost.
    assert sum(r["held"] for r in results) > 0 and sum(r["withdrawn"] for r in results) > 0
    before = _counts()
    # The vehicle-pass afternoon: 50 trucks of one unit, applied at 09:00, delivered by dusk.
    figures = runner.invoke(app, ["report", "--campaign", "宁波2020复工返岗", "--json"])
    assert figures.exit_code == 0, figures.output
    f = json.loads(figures.output)
    assert f["passes_issued"] == 50 and f["passes_delivered"] == 50
    assert f["units_served"] == 1 and f["passes_same_day_rate"] == 1.0
    assert (settings.output_dir / "permits" / "TX-20200220-0001.html").exists()

    second = runner.invoke(app, ["demo", "--speed", "0", "--json"])
    assert second.exit_code == 0, second.output
    strip = lambda rows: [{k: v for k, v in r.items() if k != "map"} for r in rows]  # noqa: E731
    assert strip(json.loads(second.output)) == strip(results)
    assert _counts() == before
