"""The `convoy` command through typer's runner, on a real database and the docs' example plan."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from config import Settings
from flows.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
PLAN = ROOT / "docs" / "examples" / "plan.yaml"
runner = CliRunner()


def convoy(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_and_plan_from_the_docs(settings: Settings) -> None:
    code, out = convoy("init")
    assert code == 0 and "Database ready" in out
    code, out = convoy("plan", str(PLAN))
    assert code == 0, out
    assert "2 convoy(s)" in out and "6 passenger(s) added, 1 rejected" in out
    errors = settings.output_dir / "intake" / "BUS-PC-02" / "manifest.errors.csv"
    rejected = errors.read_text(encoding="utf-8-sig")
    assert "7,6,error,id_number,id_invalid,6105**********" in rejected and "check digit" in rejected
    code, out = convoy("plan", str(PLAN))  # idempotent
    assert "0 passenger(s) added" in out
    code, out = convoy("convoys", "--json")
    rows = json.loads(out)
    assert [r["code"] for r in rows] == ["BUS-PC-02", "TRAIN-XY-02"]
    assert rows[0]["passengers"] == 6 and rows[0]["escorts"] == 2
    # The GCJ-02 destination was converted: WGS-84 lies a few hundred metres south-west.
    code, out = convoy("status", "BUS-PC-02", "--json")
    status = json.loads(out)
    assert status["stage"] == "planned" and status["waiting_for"] == "muster"


def test_errors_are_one_line_and_non_zero(settings: Settings, tmp_path: Path) -> None:
    convoy("plan", str(PLAN))
    for args, message in [
        (("status", "BUS-PC-2"), "There is no convoy with the code 'BUS-PC-2'. Did you mean"),
        (("checkin", "BUS-PC-02", "muster", "--absent", "99"), "no passenger in seat(s) 99"),
        (("checkin", "BUS-PC-02", "muster", "--absent", "x"), "not a seat number"),
        (("checkin", "BUS-PC-02", "handoff"), "needs --enterprise and --received-by"),
        (("checkin", "BUS-PC-02", "arrive"), "has no depart check-in yet"),
        (
            (
                "checkin",
                "BUS-PC-02",
                "position",
                "--lat",
                "30",
                "--lon",
                "120",
                "--at",
                "2999-01-01",
            ),
            "later than the server clock allows",
        ),
        (("plan", str(tmp_path / "none.yaml")), "does not exist"),
    ]:
        code, out = convoy(*args)
        assert code == 1, (args, out)
        assert message in out.replace("\n", " "), (args, out)
        assert "Traceback" not in out


def test_bad_plan_places_are_reported(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "convoys:\n  - {code: X1, mode: bus, origin: 蒲城线, destination: 江北区,"
        " depart: 2020-02-20 14:00, arrive: 2020-02-21 16:00}\n",
        encoding="utf-8",
    )
    code, out = convoy("plan", str(bad))
    assert code == 1 and "X1" in out and "蒲城县" in out  # close match suggested


def test_checkins_drive_a_run_that_resumes(settings: Settings) -> None:
    convoy("plan", str(PLAN))
    code, out = convoy("checkin", "BUS-PC-02", "muster", "--absent", "3")
    assert code == 0, out
    code, out = convoy("run", "BUS-PC-02", "--max-wait", "0", "--poll", "0.05")
    assert code == 3, out
    assert "waiting for the screening check-in" in out.replace("\n", " ")
    code, out = convoy(
        "checkin",
        "BUS-PC-02",
        "screening",
        "--result",
        "1:36.5",
        "--result",
        "2:38.2",
        "--result",
        "4:37.5:36.8",
        "--result",
        "5:36.6",
        "--result",
        "7:36.7",
    )
    assert code == 0, out
    for args in (
        ("depart",),
        ("arrive",),
        ("arrival-screening",),
        ("handoff", "--enterprise", "宁波象山示范针织服饰有限公司", "--received-by", "王经理"),
    ):
        assert convoy("checkin", "BUS-PC-02", *args)[0] == 0
    code, out = convoy("run", "BUS-PC-02", "--max-wait", "5", "--poll", "0.05")
    assert code == 0, out
    status = json.loads(convoy("status", "BUS-PC-02", "--json")[1])
    # The manifest has no NAT results, so screening holds everyone measured: nobody is lost.
    assert status["stage"] == "closed"
    assert status["passengers"] == status["handed_off"] + status["held"] + status["withdrawn"]
    assert status["withdrawn"] == 1


def test_the_readme_tour_runs_as_written(settings: Settings) -> None:
    """The README's field check-ins, in its order and with its words, take BUS-PC-02 of the
    example plan from planned to closed with nobody lost."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(
        b
        for b in re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
        if "checkin BUS-PC-02 arrival-screening" in b
    )
    lines = [ln.split(" #")[0].strip() for ln in block.splitlines()]
    commands = [shlex.split(ln)[1:] for ln in lines if ln.startswith("convoy ")]
    assert len(commands) >= 10
    assert convoy("plan", str(PLAN))[0] == 0
    for args in commands:
        code, out = convoy(*args)
        assert code == 0, f"{shlex.join(['convoy', *args])}: {out}"
    status = json.loads(convoy("status", "BUS-PC-02", "--json")[1])
    assert status["stage"] == "closed"
    assert (status["handed_off"], status["held"], status["withdrawn"]) == (4, 1, 1)
