"""``convoy service …`` and the desk's ``convoy enterprise assign|list|show|check`` through the
real ``convoy`` app on a real database: one clear line and exit 1 for bad input or an illegal
move, phones and ID numbers masked, the campaign report showing the desk's figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from config import Settings
from flows.cli.main import app
from tests.conftest import ENTERPRISES

runner = CliRunner()
PHONE = "13812345678"
ID_A = "110101199003074514"


def convoy(*args: str) -> tuple[int, str]:
    out = runner.invoke(app, list(args))
    return out.exit_code, out.output


def test_service_desk_commands(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    from models.convoy.store import upsert_escort
    from models.db import session_scope

    make_convoy("BUS-CLI-D", n=2)
    with session_scope() as s:
        upsert_escort(s, "NB3001", name="赵警官", unit="象山分局", phone="13900001111")
    ent = ENTERPRISES[0]
    code, out = convoy("enterprise", "assign", ent, "--officer", "NB3001")
    assert code == 0 and "NB3001 赵警官" in out and "139****1111" in out, out
    code, out = convoy("enterprise", "assign", ent, "--officer", "NB9999")
    assert code == 1 and "no escort" in out and "Traceback" not in out
    code, out = convoy("enterprise", "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows[ent]["officer"]["badge"] == "NB3001" and rows[ENTERPRISES[1]]["officer"] is None
    code, out = convoy(
        "service", "log", "--enterprise", ent, "--type", "policy_question",
        "--text", "是否需要隔离", "--channel", "window", "--contact", "王经理", "--phone", PHONE,
        "--at", "2020-02-20 09:30", "--json",
    )  # fmt: skip
    assert code == 0, out
    req = json.loads(out)
    assert req["status"] == "open" and req["phone"] == "138****5678" and PHONE not in out
    number = req["number"]
    code, out = convoy("service", "resolve", number, "--answer", "否", "--at", "2020-02-20 10:00")
    assert (
        code == 1 and out.count("\n") == 1 and "it can only be resolved when it is in hand" in out
    )
    assert convoy("service", "take", number, "--at", "2020-02-20 09:40")[0] == 0
    code, out = convoy("service", "resolve", number, "--answer", "按健康码管理",
                       "--at", "2020-02-20 10:00")  # fmt: skip
    assert code == 0 and "within the same-day target" in out, out
    code, out = convoy("service", "pass", number, "--to", "卫健局")
    assert code == 1 and "is resolved" in out
    code, out = convoy("service", "log", "--enterprise", ent, "--type", "gossip", "--text", "x")
    assert code == 1 and "not a kind of request" in out
    code, out = convoy("service", "list", "--open", "--json")
    assert json.loads(out) == []
    code, out = convoy("service", "list", "--enterprise", ent)
    assert code == 0 and number in out
    staff = tmp_path / "staff.csv"
    staff.write_text(f"姓名,身份证号\n张三,{ID_A}\n李四,123\n", encoding="utf-8")
    code, out = convoy("enterprise", "check", ent, str(staff), "--json")
    assert code == 0, out
    result = json.loads(out)
    assert (result["read"], result["cleared"], result["invalid"]) == (2, 1, 1)
    sheet = Path(result["result_csv"]).read_text(encoding="utf-8-sig")
    assert ID_A not in sheet and "1101**********4514" in sheet
    assert Path(result["result_xlsx"]).exists()
    code, out = convoy("enterprise", "check", ent, str(tmp_path / "missing.csv"))
    assert code == 1 and "does not exist" in out
    code, out = convoy("enterprise", "show", ent, "--json")
    shown = json.loads(out)
    assert [r["number"] for r in shown["requests"]] == [number]
    assert shown["staff_checks"][0]["read"] == 2
    code, out = convoy("report", "--campaign", "test campaign", "--json")
    desk = json.loads(out)["desk"]
    assert desk["requests"] == 1 and desk["same_day_rate"] == 1.0 and desk["staff_checked"] == 1
    code, out = convoy("report", "--campaign", "test campaign")
    assert code == 0 and "企业服务" in out and "服务企业" in out
