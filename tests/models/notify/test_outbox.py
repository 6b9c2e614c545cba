"""The outbox bookkeeping, message templates and escort task notices (masked)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config import Settings
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.db import session_scope
from models.errors import ConfigurationError
from models.notify.escort_tasks import escort_tasks, queue_stage_notices
from models.notify.messages import render
from models.notify.outbox import (
    Backoff,
    OutboxMessage,
    Recipient,
    claim_due,
    counts,
    enqueue,
    mark_failed,
    mark_sent,
    mask_url,
    retry_dead,
)
from tests.conftest import TEST_DATABASE_URL

NOW = datetime(2020, 2, 20, 6, 0, tzinfo=UTC)
R1 = Recipient("json://127.0.0.1:9/a", "escort A")
R2 = Recipient("mailto://u:secret@127.0.0.1:25?to=x@example.com", "role duty")


def test_enqueue_once_per_recipient(settings: Settings) -> None:
    msg = render("alert.stale_position", "en", code="B1", minutes=25, last="14:00")
    with session_scope() as s:
        assert enqueue(s, "alert:1:opened", msg, [R1, R2, R1], kind="alert", now=NOW) == 2
        assert enqueue(s, "alert:1:opened", msg, [R1, R2], kind="alert", now=NOW) == 0
        assert enqueue(s, "alert:2:opened", msg, [], kind="alert", now=NOW) == 1
        assert counts(s) == {"pending": 2, "unaddressed": 1}


def test_backoff_retries_and_dead_letters(settings: Settings) -> None:
    b = Backoff(base=10, cap=60, max_attempts=0)
    assert [b.delay(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    msg = render("alert.stale_position", "en", code="B1", minutes=25, last="14:00")
    with session_scope() as s:
        enqueue(s, "k", msg, [R1], kind="alert", now=NOW)
    with session_scope() as s:
        (m,) = claim_due(s, NOW)
        assert claim_due(s, NOW) == []  # leased
        mark_failed(s, m.id or 0, NOW, "connection refused", b)
    with session_scope() as s:
        assert claim_due(s, NOW + timedelta(seconds=9)) == []
        (m,) = claim_due(s, NOW + timedelta(seconds=10))
        mark_sent(s, m.id or 0, NOW + timedelta(seconds=10))
    with session_scope() as s:
        row = s.execute(select(OutboxMessage)).scalars().one()
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    # A crashed sender's lease expires and the message is taken again.
    with session_scope() as s:
        enqueue(s, "k2", msg, [R1], kind="alert", now=NOW)
        assert len(claim_due(s, NOW)) == 1
    with session_scope() as s:
        assert claim_due(s, NOW + timedelta(minutes=1)) == []
        assert len(claim_due(s, NOW + timedelta(minutes=6))) == 1
    # With an attempt limit, a message ends dead, and can be queued again.
    limited = Backoff(base=1, cap=1, max_attempts=1)
    with session_scope() as s:
        (m,) = claim_due(s, NOW + timedelta(minutes=20))
        assert mark_failed(s, m.id or 0, NOW, "down", limited).status == "dead"  # type: ignore[union-attr]
        assert retry_dead(s, NOW) == 1


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="row locks: PostgreSQL only (SQLite has one writer)"
)
def test_two_senders_never_claim_the_same_message(settings: Settings) -> None:
    msg = render("alert.stale_position", "en", code="B1", minutes=25, last="14:00")
    with session_scope() as s:
        enqueue(s, "k", msg, [R1, R2], kind="alert", now=NOW)
    with session_scope() as first, session_scope() as second:
        mine = claim_due(first, NOW, limit=1)  # not committed yet: its row stays locked
        theirs = claim_due(second, NOW)
        assert len(mine) == len(theirs) == 1 and mine[0].id != theirs[0].id


def test_mask_url_hides_credentials_and_tokens() -> None:
    """Apprise's privacy mode: for dingtalk, wecombot and feishu the host is the token."""
    assert mask_url("dingtalk://abcdefghijklmnop/") == "dingtalk://a...p"
    assert mask_url("wecombot://abcdefghijklmnop1234") == "wecombot://a...4"
    assert mask_url("feishu://abcdefghijklmnopqrstuvwxyz123456") == "feishu://a...6"
    shown = mask_url("dingtalk://secret@abcdef1234567890/13812345678")
    assert shown == "dingtalk://****@a...0/138****5678"  # the target phone masked too
    assert (
        mask_url("mailto://user:secret@mail.example.com") == "mailto://user:****@mail.example.com"
    )
    assert mask_url("json://127.0.0.1:8080/hook/abc") == "json://127.0.0.1:8080/…"
    assert mask_url("json://u:pw@hooks.example.com/") == "json://u:****@hooks.example.com"
    assert mask_url(R2.url) == "mailto://***"  # Apprise cannot read it: nothing of it shown
    assert mask_url("not a url at all") == "***"
    for url in (
        "dingtalk://abcdefghijklmnop/",
        R2.url,
        "feishu://abcdefghijklmnopqrstuvwxyz123456",
    ):
        assert "secret" not in mask_url(url) and "bcdefghijklmno" not in mask_url(url)


def test_templates_in_both_languages() -> None:
    zh = render("task.entry_missing", "zh-CN", code="B1", count=12, people="#3 张** 138****5678")
    en = render("task.entry_missing", "en", code="B1", count=12, people="#3 Z** 138****5678")
    assert "12 人未完成入甬申请" in zh.subject and "12 passengers" in en.subject
    assert render("alert.off_route", "fr", code="B", distance_km=1, corridor_km=2, last="", lat=1,
                  lon=2).subject.startswith("[Off route]")  # fmt: skip
    with pytest.raises(ConfigurationError, match="needs"):
        render("task.muster", "en", code="B1")


def test_task_notices_are_masked_and_queued_once(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TASK", n=40)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, "P3001", name="赵警官", notify_url="json://127.0.0.1:9/e1")
        assign_escort(s, c, e)
        for p in passengers(s, c):
            p.custody = "boarded"
            p.entry_applied = p.seat > 12
        c.stage = Stage.IN_TRANSIT.value
    with session_scope() as s:
        assert queue_stage_notices(s, code, Stage.IN_TRANSIT) == 1
        assert queue_stage_notices(s, code, Stage.IN_TRANSIT) == 0
        (m,) = s.execute(select(OutboxMessage)).scalars()
        people = passengers(s, get_convoy(s, code))
    assert "12" in m.subject
    for p in people:
        assert p.id_number not in m.body and p.phone not in m.body and p.name not in m.body
    assert m.body.count("\n#") == 12  # 12 masked lines
    with session_scope() as s:
        tasks = escort_tasks(s, "P3001")
    entry = next(t for t in tasks if t.step == "entry")
    assert entry.status == "done" and entry.details["entry_missing"] == 12
    assert next(t for t in tasks if t.status == "next").step == "arrive"
