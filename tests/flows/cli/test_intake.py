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
from flows.cli.enterprise import register as register_enterprise
from flows.cli.intake import register
from flows.cli.roster import register as register_roster
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
    register_enterprise(a)
    register_roster(a)
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
    keys = {"read", "imported", "rejected", "warnings", "already", "conflicts", "header_row",
            "reasons", "warning_reasons", "errors_file", "fixing_file"}  # fmt: skip
    assert keys <= set(data)
    assert (data["read"], data["imported"], data["rejected"], data["header_row"]) == (6, 4, 2, 1)
    assert data["reasons"] == {"id_invalid": 2} and data["warning_reasons"] == {}
    assert Path(data["fixing_file"]).exists() and Path(data["errors_file"]).exists()
    human = runner.invoke(app(), ["manifest", "import", code, str(f)])
    assert human.exit_code == 0 and "4 already on the manifest, 2 rejected" in human.stdout
    assert "full personal data" in human.stdout
    missing = runner.invoke(app(), ["manifest", "import", "NOPE", str(f)])
    assert missing.exit_code == 1 and "no convoy with the code" in missing.output
    # The roster: the sheet's seats (rows 2 and 3 were rejected), masked.
    roster = runner.invoke(app(), ["roster", code, "--json"])
    rows = json.loads(roster.stdout)
    assert [r["seat"] for r in rows] == [4, 5, 6, 7]
    assert set(rows[0]) == {"seat", "name", "id_number", "employer", "custody"}
    assert rows[0]["name"] == "工**" and rows[0]["id_number"].startswith("6105**********")
    assert rows[0]["custody"] == "registered"


def test_bad_files_exit_non_zero_with_one_line(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-C4", n=0)
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "head.csv").write_text("姓名,身份证号,企业名称\n", encoding="utf-8")
    for name, message in (("empty.csv", "is empty"), ("head.csv", "no passenger rows")):
        out = runner.invoke(app(), ["manifest", "import", code, str(tmp_path / name)])
        assert out.exit_code == 1 and message in out.output and name in out.output
        assert out.output.count("\n") == 1 and "Traceback" not in out.output
    assert json.loads(runner.invoke(app(), ["roster", code, "--json"]).stdout) == []


def test_enterprise_import_command(settings: Settings, tmp_path: Path) -> None:
    f = tmp_path / "ents.csv"
    f.write_text(
        "企业名称,所在区县,联系人\n宁波甬城电子有限公司,江北区,王经理\n宁波甬城电子股份有限公司,江北区,李经理\n",
        encoding="utf-8",
    )
    out = runner.invoke(app(), ["enterprise", "import", str(f), "--within", "宁波市", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert (data["added"], data["rejected"], data["within"]) == (2, 0, "宁波市")
    assert len(data["collisions"]) == 1
    again = runner.invoke(app(), ["enterprise", "import", str(f), "--within", "宁波市"])
    assert "0 added, 0 updated, 2 unchanged" in again.stdout and "warning" in again.stdout
    ambiguous = runner.invoke(app(), ["enterprise", "import", str(f)])  # no campaign: no city
    assert ambiguous.exit_code == 0 and "2 rejected" in ambiguous.stdout


def test_registry_and_entry_commands(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-C2", n=5)
    with session_scope() as s:
        idn = passengers(s, get_convoy(s, code))[1].id_number
    listed = tmp_path / "quarantine.csv"
    listed.write_text(f"身份证号,类别,原因\n{idn},隔离,居家隔离\n", encoding="utf-8")
    added = runner.invoke(app(), ["registry", "add", str(listed)])
    assert added.exit_code == 0 and "1 new ID number(s)" in added.stdout
    out = runner.invoke(app(), ["registry", "check", code, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["flagged"][0]["seat"] == 2 and idn not in out.stdout
    other = make_convoy("BUS-C2B", n=3, seed=9)
    every = runner.invoke(app(), ["registry", "check", "--all", "--json"])
    assert json.loads(every.stdout) == {
        "checked": 8, "flagged": 1,
        "convoys": [{"code": code, "checked": 5, "flagged": 1},
                    {"code": other, "checked": 3, "flagged": 0}],
    }  # fmt: skip
    both = runner.invoke(app(), ["registry", "check", code, "--all"])
    assert both.exit_code == 1 and "not both" in both.output
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
