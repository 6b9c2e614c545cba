"""The intake commands through Typer (``register(app)`` on a fresh app), on a real database,
and the pre-verification artifact of the convoy flow."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import Callable
from pathlib import Path

import typer
from prefect.client.orchestration import get_client
from sqlalchemy import select
from typer.testing import CliRunner

from config import Settings
from flows.cli.intake import register
from models.convoy.store import get_convoy, passengers
from models.convoy.tables import Passenger
from models.db import session_scope
from models.intake.identity import synthetic_id
from tests.conftest import ENTERPRISES

runner = CliRunner()


def app() -> typer.Typer:
    a = typer.Typer()

    @a.command()
    def noop() -> None:  # a second command so that sub-commands keep their names
        """Nothing."""

    register(a)
    return a


def write_manifest(path: Path, n: int, bad: int = 0) -> Path:
    rng = random.Random(11)
    with path.open("w", newline="", encoding="gbk") as fh:
        w = csv.writer(fh)
        w.writerow(["姓名", "身份证号", "手机号码", "企业名称"])
        for i in range(n):
            idn = synthetic_id(rng, "610526")
            w.writerow([f"工人{i}", idn if i >= bad else idn[:-1], f"139{i:08d}", ENTERPRISES[0]])
    return path


def test_manifest_import_command(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-C1", n=0)
    f = write_manifest(tmp_path / "m.csv", 6, bad=2)
    out = runner.invoke(app(), ["manifest", "import", code, str(f), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert (data["read"], data["added"], data["rejected"]) == (6, 4, 2)
    assert Path(data["for_fixing"]).exists()
    human = runner.invoke(app(), ["manifest", "import", code, str(f)])
    assert human.exit_code == 0 and "4 already on the manifest, 2 rejected" in human.stdout
    missing = runner.invoke(app(), ["manifest", "import", "NOPE", str(f)])
    assert missing.exit_code == 1 and "no convoy with the code" in missing.output


def test_registry_and_entry_commands(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-C2", n=5)
    with session_scope() as s:
        idn = passengers(s, get_convoy(s, code))[1].id_number
    listed = tmp_path / "quarantine.csv"
    listed.write_text(f"身份证号,类别,原因\n{idn},隔离,居家隔离\n", encoding="utf-8")
    assert runner.invoke(app(), ["registry", "add", str(listed)]).exit_code == 0
    out = runner.invoke(app(), ["registry", "check", code, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["flagged"][0]["seat"] == 2 and idn not in out.stdout
    entry = runner.invoke(app(), ["entry", "missing", code, "--json"])
    assert [r["seat"] for r in json.loads(entry.stdout)] == [1, 2, 3, 4, 5]


def test_flow_attaches_masked_preverification_table(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    from flows.convoy import convoy_flow
    from flows.sim.escorts import simulated_escorts

    code = make_convoy("BUS-C3", n=8)
    with session_scope() as s:
        idn = s.execute(select(Passenger.id_number).where(Passenger.seat == 3)).scalar_one()
    folder = settings.var_dir / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "restricted.csv").write_text(
        f"id_number,category,reason\n{idn},限制出行,test\n", encoding="utf-8"
    )
    with simulated_escorts([code], speed=0):
        result = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    assert result["stage"] == "closed"

    async def table() -> str:
        async with get_client() as client:
            arts = await client.read_artifacts()
        return next(str(a.data) for a in arts if a.key == "preverify-bus-c3")

    text = asyncio.run(table())
    assert "travel_restriction" in text and idn not in text and idn[:4] in text
    with session_scope() as s:
        p = s.execute(select(Passenger).where(Passenger.seat == 3)).scalar_one()
        assert p.custody == "held" and "travel_restriction" in p.custody_reason
