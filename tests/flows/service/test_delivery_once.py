"""Delivery once: four real sender processes on one database deliver each message once, claims
are atomic even without the lease, a monitor that lost its lease stops sending, and one-off
senders are refused beside a running monitor."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from config import Settings, reset_settings
from flows.cli.main import app
from flows.service.monitor import Monitor, current_holder, run_monitor
from models.db import session_scope
from models.notify.messages import render
from models.notify.outbox import OutboxMessage, Recipient, counts, enqueue, message_id
from models.tracking.lease import Lease
from tests.conftest import child_env
from tests.flows.service.test_sender import HttpReceiver, free_port

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2020, 2, 20, 6, 0, tzinfo=UTC)
N = 56

# Each worker delivers in small batches until nothing is left, taking the sender lease for each
# batch (another worker holding it: wait and try again); prints how many it sent.
SENDER = """
import sys, time
from datetime import datetime
from pathlib import Path
from flows.service.sender import deliver_due
from models.db import session_scope
from models.errors import MonitorBusyError
from models.notify.outbox import counts
now = datetime.fromisoformat(sys.argv[1])
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
sent = 0
while True:
    with session_scope() as s:
        left = counts(s)
    if not (left.get("pending") or left.get("sending")):
        break
    try:
        sent += deliver_due(now, limit=3).sent
    except MonitorBusyError:
        time.sleep(0.01)
print(sent)
"""

# Each worker claims and marks in a loop with no lease at all: only the claim's atomicity keeps
# two of them from taking one message. Prints the ids it claimed.
CLAIMER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from models.db import session_scope
from models.notify.outbox import claim_due, mark_sent
now = datetime.fromisoformat(sys.argv[1])
while not Path(sys.argv[2]).exists():
    time.sleep(0.01)
mine = []
while True:
    with session_scope() as s:
        got = [(m.id, m.lease_until) for m in claim_due(s, now, limit=2)]
    if not got:
        break
    for msg_id, token in got:
        with session_scope() as s:
            assert mark_sent(s, msg_id, now, token)
        mine.append(msg_id)
print(json.dumps(mine))
"""


def _queue(hook: str, n: int = N) -> None:
    msg = render("alert.stale_position", "en", code="B1", minutes=25, last="14:00")
    with session_scope() as s:
        for i in range(n):
            enqueue(s, f"m{i}", msg, [Recipient(hook, "role duty")], kind="alert", now=NOW)


def _run_four(script: str, settings: Settings, tmp_path: Path) -> list[str]:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, NOW.isoformat(), str(go)],
            env=child_env(settings),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(3)  # every worker has imported and waits for the signal
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        outs.append(out.strip().splitlines()[-1])
    return outs


def test_four_concurrent_senders_deliver_each_message_once(
    settings: Settings, tmp_path: Path
) -> None:
    receiver = HttpReceiver(free_port())
    receiver.start()
    try:
        _queue(f"json://127.0.0.1:{receiver.port}/duty")
        sent = [int(x) for x in _run_four(SENDER, settings, tmp_path)]
    finally:
        receiver.stop()
    assert sum(sent) == N
    ids = Counter(receiver.ids.items)
    assert len(ids) == N and set(ids.values()) == {1}  # each message once, by its stable id
    with session_scope() as s:
        assert counts(s) == {"sent": N}
        keys = set(s.execute(select(OutboxMessage.dedupe_key)).scalars())
    assert set(ids) == {message_id(k) for k in keys}


def test_claims_are_atomic_without_the_lease(settings: Settings, tmp_path: Path) -> None:
    _queue("json://127.0.0.1:9/unused")
    claimed = [i for out in _run_four(CLAIMER, settings, tmp_path) for i in json.loads(out)]
    assert len(claimed) == N and len(set(claimed)) == N
    with session_scope() as s:
        assert counts(s) == {"sent": N}


def test_a_monitor_that_lost_its_lease_stops_sending(settings: Settings) -> None:
    fast = reset_settings(
        monitor_interval_minutes=0.005, outbox_poll_seconds=0.3, prefect_events=False
    )
    receiver = HttpReceiver(free_port())
    receiver.start()
    outcome: dict[str, bool] = {}
    thread = threading.Thread(target=lambda: outcome.update(ok=run_monitor(fast)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while current_holder() is None:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        # It was frozen past its lease and another process took the roles over.
        with session_scope() as s:
            s.execute(update(Lease).values(holder="elsewhere:1:intruder"))
        _queue(f"json://127.0.0.1:{receiver.port}/duty", n=17)
        thread.join(timeout=60)
    finally:
        receiver.stop()
    assert not thread.is_alive() and outcome == {"ok": False}
    assert receiver.ids.items == []  # nothing sent once the lease was gone
    with session_scope() as s:
        assert counts(s) == {"pending": 17}
        holders = set(s.execute(select(Lease.holder)).scalars())
    assert holders == {"elsewhere:1:intruder"}  # the new holder's leases are left alone


def test_one_off_senders_wait_for_a_running_monitor(settings: Settings) -> None:
    fast = reset_settings(prefect_events=False)
    runner = CliRunner()
    with Monitor(fast):
        for args in (["outbox", "--send"], ["monitor", "--once"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            assert "runs on this database" in result.output, result.output
            assert "Traceback" not in result.output and result.output.count("\n") == 1
    result = runner.invoke(app, ["outbox", "--send"])
    assert result.exit_code == 0 and "0 sent" in result.output, result.output
