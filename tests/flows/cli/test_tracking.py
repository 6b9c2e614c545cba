"""The tracking, alert and notification commands, through typer's runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from config import Settings
from flows.cli.tracking import register
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.geo.geodesy import interpolate_along
from models.tracking.eta import route_of

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Test root."""


register(app)
runner = CliRunner()


def _run(*args: str) -> typer.testing.Result:  # type: ignore[name-defined]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_cli_device_track_alerts_tasks_outbox(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-CLI", n=4)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, "P6001", name="周警官", notify_url="json://127.0.0.1:9/e")
        assign_escort(s, c, e)
        c.stage = Stage.SCREENED.value
        route = route_of(c.route())
    r = _run("device", "bind", "phone-9", "--escort", "P6001", "--convoy", code, "--json")
    assert r.exit_code == 0, r.output
    bound = json.loads(r.stdout)
    assert bound["server_url"].endswith(f"/osmand/{bound['token']}")
    assert "phone-9" in _run("device", "list").output
    # Import a CSV track and show the ETA.
    now = datetime.now(UTC).replace(microsecond=0)
    lines = ["time,lat,lon,speed_kmh"]
    for k in range(4):
        lat, lon = interpolate_along(route, 0.01 * k)
        lines.append(f"{(now - timedelta(minutes=15 * (3 - k))).isoformat()},{lat},{lon},80")
    track = tmp_path / "t.csv"
    track.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = _run("track", code, "--import", str(track), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["import"]["stored"] == 4 and data["positions"] == 4 and data["eta"]
    assert "ETA" in _run("track", code).output
    # The monitor, once, as of 40 minutes after a departure that did not happen.
    at = (c.planned_departure + timedelta(minutes=40)).isoformat()
    r = _run("monitor", "--once", "--at", at, "--json")
    assert r.exit_code == 0, r.output
    assert [ch["kind"] for ch in json.loads(r.stdout)["changes"]] == ["late_departure"]
    alerts = json.loads(_run("alerts", "--json").stdout)
    assert [a["kind"] for a in alerts] == ["late_departure"]
    aid = str(alerts[0]["id"])
    assert _run("alerts", "ack", aid, "--by", "周警官").exit_code == 0
    assert _run("alerts", "snooze", aid, "--minutes", "20").exit_code == 0
    shown = json.loads(_run("alerts", "--json").stdout)[0]
    assert shown["state"] == "acknowledged" and shown["snoozed_until"]
    assert _run("alerts", "resolve", aid, "--reason", "departed").exit_code == 0
    assert json.loads(_run("alerts", "--json").stdout) == []
    assert len(json.loads(_run("alerts", "--all", "--json").stdout)) == 1
    history = json.loads(_run("alerts", "history", aid, "--json").stdout)
    assert [h["action"] for h in history] == ["opened", "acknowledged", "snoozed", "resolved"]
    # Errors are one line and a non-zero exit code.
    r = _run("alerts", "ack", "999")
    assert r.exit_code == 1 and "no alert #999" in r.output
    # Tasks of the escort, and the outbox with masked addresses.
    tasks = json.loads(_run("tasks", "P6001", "--json").stdout)
    assert next(t for t in tasks if t["status"] == "next")["step"] == "depart"
    box = json.loads(_run("outbox", "--json").stdout)
    assert box["counts"]["pending"] >= 1
    assert all(m["address"] in ("", "json://127.0.0.1:9/…") for m in box["messages"])
