"""Outbox delivery through Apprise to a real local SMTP server and a local HTTP receiver."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from config import Settings, reset_settings
from flows.service.sender import MESSAGE_ID_HEADER, deliver_due
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.db import session_scope
from models.notify.messages import render
from models.notify.outbox import OutboxMessage, Recipient, counts, enqueue, message_id

NOW = datetime(2020, 2, 20, 6, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    items: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Any) -> None:
        with self.lock:
            self.items.append(item)


class _SMTPHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.inbox.add((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    ctl = Controller(_SMTPHandler(inbox), hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, inbox
    ctl.stop()


class HttpReceiver:
    """A JSON webhook receiver that can be started later on a fixed port (a channel down)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.ids = Inbox()  # the message id header of every request
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        inbox, ids = self.inbox, self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                ids.add(self.headers.get(MESSAGE_ID_HEADER))
                inbox.add((self.path, json.loads(self.rfile.read(n))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver(free_port())
    yield r
    r.stop()


def _msg(i: int) -> Any:
    return render("alert.stale_position", "en", code=f"B{i}", minutes=25, last="14:00")


def test_mail_and_webhook_each_get_every_message_once(
    settings: Settings, smtp: tuple[int, Inbox], http_receiver: HttpReceiver
) -> None:
    port, mail = smtp
    http_receiver.start()
    mailto = f"mailto://127.0.0.1:{port}?from=convoy@example.com&to=escort@example.com"
    hook = f"json://127.0.0.1:{http_receiver.port}/duty"
    with session_scope() as s:
        for i in range(3):
            enqueue(s, f"m{i}", _msg(i), [Recipient(mailto, "escort"), Recipient(hook, "role")],
                    kind="alert", now=NOW)  # fmt: skip
    report = deliver_due(NOW, settings=settings)
    assert (report.sent, report.failed) == (6, 0)
    assert deliver_due(NOW + timedelta(hours=1), settings=settings).sent == 0
    assert len(mail.items) == 3 and all(to == ["escort@example.com"] for to, _ in mail.items)
    assert sorted(body["title"] for _, body in http_receiver.inbox.items) == [
        "[No position] B0 silent for 25 min",
        "[No position] B1 silent for 25 min",
        "[No position] B2 silent for 25 min",
    ]
    with session_scope() as s:
        assert counts(s) == {"sent": 6}
        rows = list(s.execute(select(OutboxMessage)).scalars())
        assert all(r.sent_at == NOW and r.attempts == 1 for r in rows)


def test_a_channel_that_refuses_then_recovers_loses_nothing(
    settings: Settings, http_receiver: HttpReceiver
) -> None:
    s_ = reset_settings(outbox_backoff_seconds=30, outbox_backoff_max_seconds=120)
    hook = f"json://127.0.0.1:{http_receiver.port}/duty"
    with session_scope() as s:
        for i in range(5):
            enqueue(s, f"m{i}", _msg(i), [Recipient(hook, "role duty")], kind="alert", now=NOW)
    t = NOW
    for _ in range(4):  # the channel is down: every attempt fails, nothing is dropped
        r = deliver_due(t, settings=s_)
        assert r.sent == 0
        t += timedelta(minutes=2)
    with session_scope() as s:
        rows = list(s.execute(select(OutboxMessage)).scalars())
        assert all(r.status == "pending" and r.attempts >= 3 for r in rows)
        assert all("Connection error" in r.last_error for r in rows)
    http_receiver.start()
    sent = 0
    for _ in range(3):
        sent += deliver_due(t, settings=s_).sent
        t += timedelta(minutes=2)
    assert sent == 5
    titles = [body["title"] for _, body in http_receiver.inbox.items]
    assert sorted(titles) == sorted(set(titles)) and len(titles) == 5
    with session_scope() as s:
        assert counts(s) == {"sent": 5}
        keys = [m.dedupe_key for m in s.execute(select(OutboxMessage)).scalars()]
    # Every webhook carried the message's stable id (the same one on every attempt).
    assert sorted(http_receiver.ids.items) == sorted(message_id(k) for k in keys)


def test_convoy_flow_queues_escort_tasks_delivered_masked(
    make_convoy: Callable[..., str], settings: Settings, http_receiver: HttpReceiver
) -> None:
    from flows.convoy import convoy_flow
    from flows.sim.escorts import simulated_escorts

    http_receiver.start()
    code = make_convoy("BUS-NTF", n=20)
    with session_scope() as s:
        e = upsert_escort(s, "P4001", name="钱警官",
                          notify_url=f"json://127.0.0.1:{http_receiver.port}/escort")  # fmt: skip
        assign_escort(s, get_convoy(s, code), e)
    with simulated_escorts([code], speed=0):
        convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    deliver_due(datetime.now(UTC), settings=settings)
    titles = [body["title"] for _, body in http_receiver.inbox.items]
    assert any("始发地集结" in t for t in titles)
    assert any("出发前健康筛查" in t for t in titles)
    assert any("交接" in t for t in titles)
    assert len(titles) == len(set(titles))
    with session_scope() as s:
        people = passengers(s, get_convoy(s, code))
    text = json.dumps([b for _, b in http_receiver.inbox.items], ensure_ascii=False)
    for p in people:
        assert p.id_number not in text and p.phone not in text
