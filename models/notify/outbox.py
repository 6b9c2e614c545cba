"""The notification outbox: every message to every recipient is a row, written in the same
transaction as the change that caused it, then delivered by ``flows.service.sender``.

* **Once per recipient**: a row's ``dedupe_key`` is the message key plus a hash of the
  recipient's address; queueing the same message again adds nothing.
* **Never dropped**: a failed attempt leaves the row pending with the error and the time of the
  next try (exponential backoff); only an explicit attempt limit moves it to ``dead``.
* **Visible**: status, attempts, last error and delivery time are columns; addresses are shown
  masked (Apprise URLs carry tokens and passwords).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Field, Session, SQLModel

from config import Settings, get_settings
from models.convoy.tables import Convoy, Enterprise, Escort
from models.db import UTCDateTime, insert_ignore, utcnow
from models.notify.messages import Message


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    UNADDRESSED = "unaddressed"  # nobody to send it to: recorded so that it is seen


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient."""

    __tablename__ = "outbox_message"
    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, index=True)
    key: str = Field(index=True, description="The message key shared by all its recipients.")
    kind: str = Field(index=True, description="task, alert, escalation, resolution, notice.")
    convoy_id: int | None = Field(default=None, foreign_key="convoy.id", index=True)
    escort_id: int | None = Field(default=None, foreign_key="escort.id", index=True)
    alert_id: int | None = Field(default=None, index=True)
    recipient: str = Field(default="", description="The Apprise URL.")
    recipient_label: str = Field(default="", description="Who: 'escort P1001', 'role duty'.")
    locale: str = "zh-CN"
    subject: str
    body: str
    status: str = Field(default=Status.PENDING.value, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_T = OutboxMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Recipient:
    url: str
    label: str
    escort_id: int | None = None


def split_urls(text: str) -> list[str]:
    """Apprise URLs in a field: separated by commas, semicolons or whitespace."""
    return [u for u in re.split(r"[\s,;]+", text or "") if u]


def escort_recipients(escorts: Iterable[Escort]) -> list[Recipient]:
    return [
        Recipient(url, f"escort {e.badge}", e.id)
        for e in escorts
        for url in split_urls(e.notify_url)
    ]


def role_recipients(roles: Iterable[str], settings: Settings | None = None) -> list[Recipient]:
    table = (settings or get_settings()).notify_roles
    return [Recipient(url, f"role {role}") for role in roles for url in table.get(role, [])]


def enterprise_recipients(enterprise: Enterprise) -> list[Recipient]:
    return [
        Recipient(url, f"enterprise {enterprise.name}") for url in split_urls(enterprise.notify_url)
    ]


def mask_url(url: str) -> str:
    """An Apprise URL as Apprise's own privacy mode shows it — passwords hidden, tokens (for
    dingtalk, wecombot and feishu the host *is* the token) cut to their first and last
    characters — without the query string, a generic webhook's path hidden, phone numbers
    masked. A URL Apprise cannot read shows its scheme only."""
    from apprise import Apprise

    from models.intake.identity import scrub

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", scheme):
        return "***"
    plugin = Apprise.instantiate(url, suppress_exceptions=True)
    if not plugin:
        return f"{scheme}://***"
    shown = str(plugin.url(privacy=True)).split("?", 1)[0].rstrip("/")
    if scheme in {"json", "jsons", "xml", "xmls", "form", "forms"}:  # the path may be a secret
        head, _, path = shown.partition("://")[2].partition("/")
        shown = f"{scheme}://{head}" + ("/…" if path.strip("/") else "")
    return scrub(shown)


def _dedupe(key: str, url: str) -> str:
    return f"{key}|{hashlib.sha256(url.encode('utf-8')).hexdigest()[:16]}"


def enqueue(
    session: Session,
    key: str,
    message: Message,
    recipients: Sequence[Recipient],
    *,
    kind: str,
    convoy: Convoy | None = None,
    alert_id: int | None = None,
    locale: str = "zh-CN",
    now: datetime | None = None,
) -> int:
    """Queue ``message`` once per recipient under ``key``; returns the rows added (0 on a repeat).

    With no recipient the message is still recorded, as ``unaddressed``."""
    now = now or utcnow()
    seen: set[str] = set()
    rows = []
    targets = list(recipients) or [Recipient("", "nobody configured")]
    for r in targets:
        if r.url in seen:
            continue
        seen.add(r.url)
        rows.append(
            {
                "dedupe_key": _dedupe(key, r.url),
                "key": key,
                "kind": kind,
                "convoy_id": convoy.id if convoy else None,
                "escort_id": r.escort_id,
                "alert_id": alert_id,
                "recipient": r.url,
                "recipient_label": r.label,
                "locale": locale,
                "subject": message.subject,
                "body": message.body,
                "status": (Status.PENDING if r.url else Status.UNADDRESSED).value,
                "attempts": 0,
                "next_attempt_at": now,
                "lease_until": None,
                "last_error": "",
                "created_at": now,
                "sent_at": None,
            }
        )
    # Rows as parameters (executemany), not a VALUES list: one compiled statement, cached.
    stmt = insert_ignore(session, _T, index_elements=["dedupe_key"])
    return int(session.connection().execute(stmt, rows).rowcount or 0)


@dataclass(frozen=True)
class Backoff:
    """Retry delays: ``base`` seconds, doubling, at most ``cap``; ``max_attempts`` 0 = forever."""

    base: float = 30.0
    cap: float = 1800.0
    max_attempts: int = 0

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Backoff:
        s = settings or get_settings()
        return cls(s.outbox_backoff_seconds, s.outbox_backoff_max_seconds, s.outbox_max_attempts)

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap, self.base * 2 ** max(0, attempts - 1)))


def _due(now: datetime) -> Any:
    return or_(
        (_T.c.status == Status.PENDING.value) & (_T.c.next_attempt_at <= now),
        (_T.c.status == Status.SENDING.value) & (_T.c.lease_until <= now),
    )


def claim_due(
    session: Session, now: datetime, limit: int = 100, lease: timedelta = timedelta(minutes=5)
) -> list[OutboxMessage]:
    """Take up to ``limit`` messages due now (pending, or sending with an expired lease, which a
    crashed sender left behind) and lease them to the caller until ``now + lease``.

    One atomic statement, ``UPDATE … WHERE id IN (SELECT … due …) RETURNING …``: on SQLite it
    holds the one write lock from choosing to marking, on PostgreSQL the chosen rows are locked
    and rows another sender is claiming are skipped (``FOR UPDATE SKIP LOCKED``). Either way two
    senders never claim one message. Each message's ``lease_until`` is the claim's token:
    ``mark_sent`` and ``mark_failed`` with that token change it only if the claim still holds."""
    due = (
        select(_T.c.id)
        .where(_due(now))
        .order_by(_T.c.next_attempt_at, _T.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(OutboxMessage)
        .where(_T.c.id.in_(due))
        .values(status=Status.SENDING.value, lease_until=now + lease)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    claimed = list(session.scalars(stmt))
    return sorted(claimed, key=lambda m: (m.next_attempt_at, m.id or 0))


def message_id(dedupe_key: str) -> str:
    """The stable id of one message to one recipient, sent with every webhook (a receiver drops
    a repeat by it): the same after any retry or re-claim."""
    return hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]


def _claimed(message_id: int, token: datetime | None) -> Any:
    where = _T.c.id == message_id
    if token is not None:
        where = where & (_T.c.status == Status.SENDING.value) & (_T.c.lease_until == token)
    return where


def mark_sent(
    session: Session, message_id: int, now: datetime, token: datetime | None = None
) -> bool:
    """Record the message delivered; with the claim's ``token``, only if the claim still holds
    (True when the row was changed)."""
    res = session.connection().execute(
        update(_T)
        .where(_claimed(message_id, token))
        .values(
            status=Status.SENT.value,
            attempts=_T.c.attempts + 1,
            sent_at=now,
            lease_until=None,
            last_error="",
        )
    )
    return bool(res.rowcount)


def mark_failed(
    session: Session,
    message_id: int,
    now: datetime,
    error: str,
    backoff: Backoff,
    token: datetime | None = None,
) -> OutboxMessage | None:
    """Record a failed attempt; the message is retried after the backoff delay. With the
    claim's ``token``, nothing changes unless the claim still holds (then None)."""
    msg = session.get(OutboxMessage, message_id, populate_existing=True)
    if msg is None or (token is not None and msg.lease_until != token):
        return None
    attempts = msg.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": (error or "delivery failed")[:500],
        "lease_until": None,
    }
    if backoff.max_attempts and attempts >= backoff.max_attempts:
        values["status"] = Status.DEAD.value
    else:
        values["status"] = Status.PENDING.value
        values["next_attempt_at"] = now + backoff.delay(attempts)
    where = _claimed(message_id, token) & (_T.c.attempts == msg.attempts)
    if not session.connection().execute(update(_T).where(where).values(**values)).rowcount:
        return None  # another sender's claim took it meanwhile
    session.refresh(msg)
    return msg


def release_claims(session: Session, message_ids: Sequence[int], token: datetime) -> int:
    """Give claimed messages back (a sender stopping before it sent them): due again at once."""
    if not message_ids:
        return 0
    res = session.connection().execute(
        update(_T)
        .where(
            _T.c.id.in_(list(message_ids)),
            _T.c.status == Status.SENDING.value,
            _T.c.lease_until == token,
        )
        .values(status=Status.PENDING.value, lease_until=None)
    )
    return int(res.rowcount or 0)


def retry_dead(session: Session, now: datetime) -> int:
    """Put every dead message back in the queue (after a channel is fixed)."""
    res = session.connection().execute(
        update(_T)
        .where(_T.c.status == Status.DEAD.value)
        .values(status=Status.PENDING.value, next_attempt_at=now)
    )
    return int(res.rowcount or 0)


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(_T.c.status, func.count()).group_by(_T.c.status)).all()
    return {status: n for status, n in rows}


def list_messages(
    session: Session, status: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(_T.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(_T.c.status == status)
    return list(session.execute(stmt).scalars())
