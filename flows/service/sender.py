"""Delivering the outbox with Apprise (mailto, dingtalk, wecombot, feishu, json webhooks …).

Exactly one sender at a time per database: whoever delivers (the monitor of ``convoy serve`` or
``convoy monitor``, ``convoy monitor --once``, ``convoy outbox --send``) holds the ``sender``
lease (``models.tracking.lease``) and checks it still does before every claim and every send
(the fencing check). A sender that finds it lost the lease gives back what it claimed and stops.
Each due message is claimed atomically, sent to its one recipient with its stable message id
(a header on webhooks, so a receiver can drop a repeat), and marked sent under its claim's token;
a failure leaves it queued with the error and a later retry time (``models.notify.outbox``).
Delivery runs apart from the checks that queue messages, so a slow or dead channel never holds
up the monitor.

What remains: a sender that crashes (or is frozen past its lease) after the channel accepted a
message and before its record is written leaves the message claimed; once the claim expires it
is sent again, with the same message id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

import apprise

from config import Settings, get_settings
from models.convoy.lifecycle import Stage
from models.db import session_scope, utcnow
from models.intake.identity import scrub
from models.notify.escort_tasks import queue_stage_notices
from models.notify.outbox import (
    Backoff,
    claim_due,
    mark_failed,
    mark_sent,
    message_id,
    release_claims,
)
from models.tracking.lease import acquire_lease, holder_id, release_lease, renew_lease

log = logging.getLogger("convoy.notify")

# A sender gets (url, subject, body, message id) and returns None when the message went out,
# or the reason it did not.
Sender = Callable[[str, str, str, str], str | None]

SENDER_ROLE = "sender"
# Apprise's HTTP webhooks take extra request headers as "+Name=value" URL arguments.
_WEBHOOK_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms")
MESSAGE_ID_HEADER = "X-Convoy-Message-Id"


def with_message_id(url: str, msg_id: str) -> str:
    """The Apprise URL with the message id as a request header, for HTTP webhooks."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _WEBHOOK_SCHEMES or not msg_id:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{quote('+' + MESSAGE_ID_HEADER)}={quote(msg_id)}"


def apprise_send(url: str, subject: str, body: str, msg_id: str = "") -> str | None:
    """Send one message to one Apprise URL; None on success, else the reason."""
    ap = apprise.Apprise()
    if not ap.add(with_message_id(url, msg_id)):
        return "the address is not a valid Apprise URL"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = ap.notify(title=subject, body=body)
        text = captured.getvalue() if hasattr(captured, "getvalue") else ""
    if ok:
        return None
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else "the channel refused the message"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lease_lost: bool = False


def lease_seconds(settings: Settings) -> float:
    """How long a sender's or the monitor's lease lasts without renewal."""
    return max(30.0, 3 * min(settings.monitor_interval_minutes * 60, settings.outbox_poll_seconds))


@contextmanager
def held_lease(role: str, settings: Settings | None = None) -> Iterator[str]:
    """Hold the ``role`` lease for a one-off piece of work (``MonitorBusyError`` if another
    process, e.g. a running monitor, holds it); yields the holder name."""
    settings = settings or get_settings()
    holder = holder_id()
    expires = timedelta(seconds=lease_seconds(settings))
    with session_scope(settings) as session:
        acquire_lease(session, holder, utcnow(), expires, role)
    try:
        yield holder
    finally:
        with session_scope(settings) as session:
            release_lease(session, holder, role)


def still_sender(holder: str, settings: Settings | None = None) -> bool:
    """The fencing check: ``holder`` still holds the sender lease (and has renewed it)."""
    with session_scope(settings) as session:
        return renew_lease(session, holder, utcnow(), SENDER_ROLE)


def deliver_due(
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    send: Sender = apprise_send,
    limit: int = 100,
    holder: str | None = None,
) -> DeliveryReport:
    """Send every message due at ``now`` once; failures are rescheduled with backoff.

    ``holder`` is the caller's sender lease (the monitor's); without one, the lease is taken
    for this call (``MonitorBusyError`` if another sender holds it)."""
    settings = settings or get_settings()
    if holder is None:
        with held_lease(SENDER_ROLE, settings) as own:
            return _deliver(now or utcnow(), settings, send, limit, own)
    return _deliver(now or utcnow(), settings, send, limit, holder)


def _deliver(
    now: datetime, settings: Settings, send: Sender, limit: int, holder: str
) -> DeliveryReport:
    backoff = Backoff.from_settings(settings)
    report = DeliveryReport()
    with session_scope(settings) as session:
        # The fencing check and the claim in one transaction: the check's write takes SQLite's
        # one write lock first, so nobody takes the lease between the two.
        if not renew_lease(session, holder, utcnow(), SENDER_ROLE):
            report.lease_lost = True
            return report
        claimed = claim_due(session, now, limit)
        batch = [(m.id or 0, m.recipient, m.subject, m.body, m.dedupe_key) for m in claimed]
        token = claimed[0].lease_until if claimed else None
    for n, (msg_id, url, subject, body, key) in enumerate(batch):
        if not still_sender(holder, settings):  # another sender took over: stop here
            with session_scope(settings) as session:
                release_claims(session, [m[0] for m in batch[n:]], token)  # type: ignore[arg-type]
            report.lease_lost = True
            log.error("Another notification sender took over this database; this one stops.")
            break
        try:
            error = send(url, subject, body, message_id(key))
        except Exception as exc:  # a plug-in bug must not lose the message
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:  # channels' errors may quote numbers: store and log them masked
            error = scrub(error)
        with session_scope(settings) as session:
            if error is None:
                mark_sent(session, msg_id, now, token)
                report.sent += 1
            else:
                mark_failed(session, msg_id, now, error, backoff, token)
                report.failed += 1
                report.errors.append(error)
                log.warning("notification %s not delivered: %s", msg_id, error)
    return report


def deliver_job() -> None:
    """The scheduler's outbox job (text reference ``flows.service.sender:deliver_job``): delivers
    under the running monitor's sender lease; a lost lease stops the monitor."""
    from flows.service.monitor import clock, current_holder, lease_lost

    holder = current_holder()
    if holder is None:
        return
    if deliver_due(clock(), holder=holder).lease_lost:
        lease_lost(SENDER_ROLE)


def queue_task_notices(code: str, stage: Stage) -> int:
    """Queue the escort tasks due once ``stage`` of convoy ``code`` is complete (idempotent)."""
    with session_scope() as session:
        return queue_stage_notices(session, code, stage)
