"""Delivering the outbox with Apprise (mailto, dingtalk, wecombot, feishu, json webhooks …).

Each due message is leased, sent to its one recipient, and marked sent; a failure leaves it
queued with the error and a later retry time (``models.notify.outbox``). Delivery runs apart from
the checks that queue messages, so a slow or dead channel never holds up the monitor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import apprise

from config import Settings, get_settings
from models.convoy.lifecycle import Stage
from models.db import session_scope, utcnow
from models.intake.identity import scrub
from models.notify.escort_tasks import queue_stage_notices
from models.notify.outbox import Backoff, claim_due, mark_failed, mark_sent

log = logging.getLogger("convoy.notify")

# A sender returns None when the message went out, or the reason it did not.
Sender = Callable[[str, str, str], str | None]


def apprise_send(url: str, subject: str, body: str) -> str | None:
    """Send one message to one Apprise URL; None on success, else the reason."""
    ap = apprise.Apprise()
    if not ap.add(url):
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


def deliver_due(
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    send: Sender = apprise_send,
    limit: int = 100,
) -> DeliveryReport:
    """Send every message due at ``now`` once; failures are rescheduled with backoff."""
    settings = settings or get_settings()
    now = now or utcnow()
    backoff = Backoff.from_settings(settings)
    with session_scope(settings) as session:
        batch = [(m.id, m.recipient, m.subject, m.body) for m in claim_due(session, now, limit)]
    report = DeliveryReport()
    for msg_id, url, subject, body in batch:
        try:
            error = send(url, subject, body)
        except Exception as exc:  # a plug-in bug must not lose the message
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:  # channels' errors may quote numbers: store and log them masked
            error = scrub(error)
        with session_scope(settings) as session:
            if error is None:
                mark_sent(session, msg_id, now)  # type: ignore[arg-type]
                report.sent += 1
            else:
                mark_failed(session, msg_id, now, error, backoff)  # type: ignore[arg-type]
                report.failed += 1
                report.errors.append(error)
                log.warning("notification %s not delivered: %s", msg_id, error)
    return report


def deliver_job() -> None:
    """The scheduler's outbox job (text reference ``flows.service.sender:deliver_job``)."""
    from flows.service.monitor import clock

    deliver_due(clock())


def queue_task_notices(code: str, stage: Stage) -> int:
    """Queue the escort tasks due once ``stage`` of convoy ``code`` is complete (idempotent)."""
    with session_scope() as session:
        return queue_stage_notices(session, code, stage)
