"""Every write path of the `convoy` command leaves its audit record (who, via, what, before and
after), and the operator's role decides what the CLI may write — through the real CLI on a real
database, with the convoy flow run by Prefect."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import Settings, reset_settings
from flows.cli.main import app
from models.convoy.store import get_convoy
from models.db import session_scope
from models.intake.identity import synthetic_id

ROOT = Path(__file__).resolve().parents[3]
PLAN = ROOT / "docs" / "examples" / "plan.yaml"
runner = CliRunner()


def convoy(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.fixture
def as_operator(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def switch(name: str) -> None:
        monkeypatch.setenv("CONVOY_OPERATOR", name)
        reset_settings()

    return switch


def audit(*args: str) -> list[dict]:  # type: ignore[type-arg]
    code, out = convoy("audit", "--json", "--limit", "1000", *args)
    assert code == 0, out
    return json.loads(out)  # type: ignore[no-any-return]


def new_rows(seen: list[dict], *args: str) -> list[dict]:  # type: ignore[type-arg]
    rows = audit(*args)
    ids = {r["id"] for r in seen}
    return [r for r in rows if r["id"] not in ids]


def test_every_cli_write_is_audited(
    as_operator: Callable[[str], None], settings: Settings, tmp_path: Path
) -> None:
    import random

    as_operator("root")
    assert convoy("users", "add", "root", "--role", "admin")[0] == 0
    for name, role in (("wang", "coordinator"), ("li", "permit_officer"), ("zhang", "manager")):
        assert convoy("users", "add", name, "--role", role)[0] == 0
    assert convoy("users", "token", "wang")[0] == 0
    users = audit("--action", "user")
    assert [r["action"] for r in users] == ["user.add"] * 4
    assert {(r["actor"], r["via"]) for r in users} == {("root", "cli")}
    assert [r["action"] for r in audit("--action", "token")] == ["token.add"]
    assert "token_hash" not in json.dumps(audit("--action", "token")[0]["after"]).replace(
        '"token_hash": "***"', ""
    )

    as_operator("wang")  # the coordinator loads the plan and runs the convoy
    seen = audit()
    assert convoy("plan", str(PLAN))[0] == 0
    actions = [r["action"] for r in new_rows(seen)]
    assert {"campaign.add", "enterprise.add", "escort.add", "convoy.add", "assignment.add",
            "passengers.add"} <= set(actions)  # fmt: skip
    manifest = tmp_path / "more.csv"
    idn = synthetic_id(random.Random(3), "610526")
    manifest.write_text(
        f"序号,姓名,身份证号,手机号,用工企业\n9,赵六,{idn},13812340000,宁波象山示范针织服饰有限公司\n",
        encoding="utf-8",
    )
    seen = audit()
    assert convoy("manifest", "import", "BUS-PC-02", str(manifest))[0] == 0
    (imported,) = new_rows(seen)
    assert imported["action"] == "passengers.add" and imported["convoy"] == "BUS-PC-02"
    assert imported["after"]["added"] == 1 and imported["actor"] == "wang"
    assert imported["after"]["seats"] == "9-9"

    seen = audit()
    assert convoy("checkin", "BUS-PC-02", "muster", "--absent", "3")[0] == 0
    (muster,) = new_rows(seen)
    assert (muster["action"], muster["role"], muster["via"]) == ("checkin.add", "coordinator",
                                                                 "cli")  # fmt: skip
    assert muster["after"]["kind"] == "muster"
    seen = audit()
    assert convoy("hold", "BUS-PC-02", "5", "--reason", "fever 38.5")[0] == 0
    (held,) = new_rows(seen)
    assert held["action"] == "custody.held" and held["after"]["seats"] == [5]
    assert held["after"]["reported_by"] == "wang"

    # The simulated escorts play on from the muster taken by hand (the plan shifted to it).
    code, out = convoy("run", "BUS-PC-02", "--simulate", "--speed", "20000")
    assert code == 0, out
    run = audit("--convoy", "BUS-PC-02")
    done = {r["action"] for r in run}
    assert {"convoy.mustering", "stage.add", "custody.boarded", "custody.handed_off",
            "convoy.closed"} <= done  # fmt: skip
    handoffs = [r for r in run if r["action"] == "checkin.add" and r["after"]["kind"] == "handoff"]
    assert handoffs and handoffs[0]["actor"] == "simulated escorts of BUS-PC-02"
    assert all(r["convoy"] == "BUS-PC-02" for r in run)

    # Alerts: the monitor opens one (as itself), the coordinator acks, snoozes, resolves it.
    with session_scope() as s:
        late = get_convoy(s, "TRAIN-XY-02").planned_departure + timedelta(minutes=40)
    code, out = convoy("monitor", "--once", "--at", late.isoformat(), "--json")
    assert code == 0, out
    (opened,) = audit("--action", "alert.add")
    assert (opened["actor"], opened["actor_kind"], opened["via"]) == ("monitor", "system", "flow")
    alert = str(json.loads(convoy("alerts", "--json")[1])[0]["id"])
    for args in (("ack", alert), ("snooze", alert, "--minutes", "10"), ("resolve", alert)):
        assert convoy("alerts", *args)[0] == 0
    steps = [r["action"] for r in audit("--action", "alert") if r["actor"] == "wang"]
    assert steps == ["alert.acknowledged", "alert.snoozed", "alert.resolved"]

    as_operator("li")  # the permit officer's steps
    code, out = convoy(
        "permit", "apply", "--enterprise", "宁波建工集团有限公司", "--plate", "浙B88888",
        "--vehicle-type", "渣土车", "--site", "北仑工地", "--place", "北仑", "--until",
        "2099-12-31", "--contact", "王经理", "--phone", "13712345678", "--json",
    )  # fmt: skip
    assert code == 0, out
    number = json.loads(out)["number"]
    for step in (("survey", number, "--ok"), ("route", number, "--via", "宁波站"),
                 ("issue", number), ("deliver", number, "--to", "王经理")):  # fmt: skip
        code, out = convoy("permit", *step)
        assert code == 0, out
    as_operator("wang")
    permits = [r["action"] for r in audit("--action", "permit")]
    assert permits[0] == "permit.add" and {"permit.surveyed", "permit.issued",
                                           "permit.delivered"} <= set(permits)  # fmt: skip
    assert "13712345678" not in json.dumps(audit())  # phones masked everywhere in the log

    as_operator("root")  # user changes: revocations
    assert convoy("users", "revoke", "zhang")[0] == 0
    assert audit("--action", "user.revoked")[0]["subject"] == "user zhang"
    code, out = convoy("audit", "--since", "2020-01-01")
    assert code == 0 and "user.revoked" in out


def test_the_operators_role_limits_the_cli(
    as_operator: Callable[[str], None], settings: Settings
) -> None:
    as_operator("root")
    assert convoy("plan", str(PLAN))[0] == 0  # no users yet: the operator sets up
    for args in (
        ("users", "add", "root", "--role", "admin"),
        ("users", "add", "zhang", "--role", "manager"),
        ("users", "add", "zhao", "--role", "escort", "--escort", "NB3001"),
    ):
        assert convoy(*args)[0] == 0
    before = len(audit())
    as_operator("zhang")
    for args, refusal in (
        (("hold", "BUS-PC-02", "2", "--reason", "x"), "may not hold, withdraw"),
        (("checkin", "BUS-PC-02", "muster"), "may not record check-ins"),
        (("plan", str(PLAN)), "may not import manifests"),  # the plan is unchanged
    ):
        code, out = convoy(*args)
        assert code == 1 and f"operator zhang (manager) {refusal}" in out, out
    assert convoy("convoys")[0] == 0  # reading is not refused
    as_operator("zhao")  # NB3001 escorts BUS-PC-02 only
    code, out = convoy("checkin", "TRAIN-XY-02", "muster")
    assert code == 1 and "only for the convoys they escort" in out
    assert convoy("checkin", "BUS-PC-02", "muster", "--absent", "3")[0] == 0
    assert convoy("hold", "BUS-PC-02", "4", "--reason", "left")[0] == 0
    code, out = convoy("run", "BUS-PC-02", "--max-wait", "0")
    assert code == 1 and "may not run convoy flows" in out
    as_operator("root")
    rows = audit()[before:]
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("zhao", "checkin.add"), ("zhao", "custody.held"),
    ]  # fmt: skip
