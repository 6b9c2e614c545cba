"""``convoy permit …`` through Typer (``register(app)`` on a fresh app), on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from config import Settings
from flows.cli.permits import register

runner = CliRunner()
PHONE = "13712345678"


def app() -> typer.Typer:
    a = typer.Typer()

    @a.command()
    def noop() -> None:  # a second command so that sub-commands keep their names
        """Nothing."""

    register(a)
    return a


def invoke(*args: str) -> tuple[int, str]:
    out = runner.invoke(app(), ["permit", *args])
    return out.exit_code, out.output


def apply(plate: str = "浙B88888", *extra: str) -> str:
    code, output = invoke(
        "apply", "--enterprise", "宁波建工集团有限公司", "--plate", plate,
        "--vehicle-type", "渣土车", "--site", "北仑工地", "--place", "北仑",
        "--until", "2099-12-31", "--contact", "王经理", "--phone", PHONE, "--json", *extra,
    )  # fmt: skip
    assert code == 0, output
    data = json.loads(output)
    assert data["phone"] == "137****5678" and PHONE not in output
    number: str = data["number"]
    return number


def test_officer_steps_then_list_show_stats(settings: Settings) -> None:
    n = apply()
    assert invoke("survey", n, "--ok", "--note", "gate 6 m")[0] == 0
    code, out = invoke("route", n, "--via", "宁波站", "--via", "29.93,121.85", "--crs", "gcj02")
    assert code == 0 and "宁波站 → 29." in out and "→ 北仑工地" in out, out
    code, out = invoke("issue", n)
    assert code == 0 and f"Pass {n} issued" in out and "2099-12-31" in out
    code, out = invoke("deliver", n, "--to", "王经理", "--officer", "NB3001")
    assert code == 0 and "delivered to 王经理" in out

    code, out = invoke("show", n, "--json")
    shown = json.loads(out)
    assert shown["status"] == "delivered"
    assert [e["kind"] for e in shown["events"]] == [
        "applied", "surveyed", "route_planned", "issued", "delivered",
    ]  # fmt: skip
    assert shown["events"][-1]["actor"] == "NB3001"
    for args in (("show", n), ("list",), ("list", "--json"), ("stats",), ("stats", "--json")):
        code, out = invoke(*args)
        assert code == 0, out
        assert PHONE not in out
    stats = json.loads(invoke("stats", "--json")[1])
    assert (stats["delivered"], stats["same_day"], stats["same_day_rate"]) == (1, 1, 1.0)
    assert n in invoke("list")[1] and "137****5678" in invoke("show", n)[1]


def test_bulk_extend_command(settings: Settings) -> None:
    n = apply(
        "浙B77777", "--until", "2020-03-27", "--from", "2020-03-01", "--at", "2020-03-01 09:00"
    )
    for args in (("survey", n), ("route", n, "--via", "宁波站"), ("issue", n)):
        assert invoke(*args, "--at", "2020-03-01 10:00")[0] == 0
    # 2020 is long past: "expiring within" looks ahead of now, so name the pass
    code, out = invoke("extend", "--number", n, "--until", "2099-06-30", "--json")
    assert code == 0, out
    assert json.loads(out) == [
        {
            "number": n,
            "plate": "浙B77777",
            "unit": "宁波建工集团有限公司",
            "from": "2020-03-27",
            "to": "2099-06-30",
        }
    ]
    code, out = invoke("extend", "--expiring-within", "36500", "--until", "2099-06-30")
    assert code == 0 and "0 pass(es) extended" in out
    code, out = invoke("extend", "--expiring-within", "36500", "--until", "2099-07-31")
    assert code == 0 and "1 pass(es) extended to 2099-07-31" in out and n in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("survey", "TX-NOPE", "--ok"), "There is no vehicle-pass application 'TX-NOPE'."),
        (("issue", "1"), "is applied; it can only be issued when it is route_planned."),
        (("survey", "1", "--reject"), "A failed survey needs the reason (--note)."),
        (("deliver", "1", "--to", "x", "--at", "soon"), "'soon' is not a time"),
        (("route", "1", "--via", "宁波站"), "can only be routed when it is"),
        (("extend", "--until", "2099-01-01"), "Extend either the passes expiring within"),
        (("extend", "--until", "31/12", "--number", "1"), "is not a date like"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    settings: Settings, args: tuple[str, ...], message: str
) -> None:
    apply()
    code, out = invoke(*args)
    assert code == 1, out
    assert len(out.strip().splitlines()) == 1 and message in out, out
    assert "Traceback" not in out


def test_bad_plate_is_one_line(settings: Settings) -> None:
    code, out = invoke(
        "apply", "--enterprise", "x", "--plate", "浙BI2345", "--vehicle-type", "渣土车",
        "--site", "工地", "--place", "北仑", "--until", "2099-01-01", "--phone", "23812345678",
    )  # fmt: skip
    assert code == 1 and len(out.strip().splitlines()) == 1
    assert "The plate number '浙BI2345' is not valid: plates never use the letters I and O." in out


def test_run_stops_with_exit_3_and_resumes(settings: Settings) -> None:
    n = apply("浙B99999")
    code, out = invoke("run", n, "--max-wait", "0.1", "--poll", "0.05")
    assert code == 3, out
    assert f"waiting for the survey step: record it with 'convoy permit survey {n} --ok'" in out
    for args in (("survey", n), ("route", n, "--via", "宁波站"), ("issue", n)):
        assert invoke(*args)[0] == 0
    code, out = invoke("run", n, "--max-wait", "0.1", "--poll", "0.05", "--json")
    assert code == 3
    data = json.loads(out)
    assert data["waiting_for"] == "deliver" and Path(data["map"]).is_file()
    assert invoke("deliver", n, "--to", "王经理")[0] == 0
    code, out = invoke("run", n, "--max-wait", "0.1")
    assert code == 0 and f"Application {n}: delivered." in out and "map:" in out


def test_fleet_import_and_trip_commands_fail_in_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet.csv"
    fleet.write_text(
        "车辆清单\n车牌号,车辆类型\n浙B11111,渣土车\n浙BO1111,渣土车\n", encoding="utf-8"
    )
    code, out = invoke(
        "apply", "--enterprise", "宁波建工集团有限公司", "--site", "北仑工地", "--place", "北仑",
        "--until", "2099-12-31", "--fleet", str(fleet),
    )  # fmt: skip
    assert code == 1 and len(out.strip().splitlines()) == 1, out
    assert "1 of 2 vehicle row(s) have problems (first: row 4, 车牌号:" in out
    assert "nothing was filed" in out and "fleet.errors.csv" in out
    code, out = invoke("list", "--json")
    assert json.loads(out) == []
    code, out = invoke(
        "apply", "--enterprise", "宁波建工集团有限公司", "--site", "北仑工地", "--place", "北仑",
        "--until", "2099-12-31", "--plate", "浙B11111", "--plate", "浙BD11112",
        "--vehicle-type", "渣土车", "--project", "地铁3号线",
    )  # fmt: skip
    assert code == 0 and "filed for 2 vehicles (浙B11111 +1)" in out, out
    bad = tmp_path / "passes.csv"
    bad.write_text(
        "通行证编号,申请单位,车牌号,工地名称,所在区域,有效期止\n"
        "TX-1,宁波建工,浙B22222,北仑工地,北仑,2099-12-31\n"
        "TX-2,宁波建工,浙B2222,北仑工地,北仑,2099-12-31\n",
        encoding="utf-8",
    )
    code, out = invoke("import", str(bad))
    assert code == 2 and "2 row(s) read" in out and "1 imported" in out and "bad_plate: 1" in out
    for args, message in (
        (("extend", "--policy"), "needs both --policy and --emergency-end"),
        (("extend", "--emergency-end", "2099-01-01"), "needs both --policy and --emergency-end"),
        (("trip", "plan", "--project", "地铁3号线"), "no issued pass waiting"),
        (("trip", "show", "SD-1", "--sheet", "pdf"), "no delivery trip"),
        (("trip", "deliver", "SD-1", "--to", "王"), "no delivery trip"),
    ):
        code, out = invoke(*args)
        assert code == 1 and message in out and len(out.strip().splitlines()) == 1, (args, out)
    code, out = invoke("extend", "--until", "2099-01-01", "--unit", "无此单位", "--dry-run")
    assert code == 0 and "0 pass(es) would be extended" in out and "nothing was changed" in out
