"""Escorts' personal links to their phone page (``flows.api.field``): signed and expiring.

A link is ``<base>/field/<escort id>.<expiry (unix s)>.<HMAC-SHA256>``, signed with the key of
the registration links (``models.intake.registration.signing_key``) for the purpose
``escort``, so no other signed link opens it. Whoever holds it acts as that escort (role
escort: only the convoys the escort is assigned to). ``<base>`` is ``CONVOY_PUBLIC_URL``, else
``http://HTTP_HOST:HTTP_PORT`` (where ``convoy serve`` listens; ``Settings.api_url``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from config import Settings, get_settings
from models.access.actors import Actor
from models.convoy.tables import Escort
from models.db import utcnow
from models.intake.registration import LinkError, make_token, read_token, signing_key
from models.labels import label

PURPOSE = "escort"
PATH = "/field/"


def base_url(settings: Settings | None = None) -> str:
    """Where the HTTP app of ``convoy serve`` is reached from the escorts' phones."""
    return (settings or get_settings()).api_url().rstrip("/")


def escort_token(
    escort: Escort, settings: Settings | None = None, *, days: int | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:  # fmt: skip
    """The escort's signed token and when it expires."""
    settings = settings or get_settings()
    assert escort.id is not None
    expires = (now or utcnow()) + timedelta(days=days or settings.escort_link_days)
    return make_token(escort.id, expires, signing_key(settings), purpose=PURPOSE), expires


def escort_link(
    escort: Escort, settings: Settings | None = None, *, days: int | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:  # fmt: skip
    """The escort's personal link to their phone page and when it expires."""
    settings = settings or get_settings()
    token, expires = escort_token(escort, settings, days=days, now=now)
    return f"{base_url(settings)}{PATH}{token}", expires


def escort_for_token(
    session: Session, token: str, settings: Settings | None = None, now: datetime | None = None
) -> Escort:
    """The escort a valid link names; ``LinkError`` (in the display language) when the link is
    tampered with, expired or names an escort that is gone."""
    settings = settings or get_settings()
    try:
        escort_id = read_token(token, signing_key(settings), now=now, purpose=PURPOSE)
    except LinkError as exc:
        if exc.expired:
            expires = datetime.fromtimestamp(int(token.split(".")[1]), UTC)
            date = expires.astimezone(settings.tz).strftime("%Y-%m-%d")
            raise LinkError(label("field", "link.expired", settings.locale, date=date),
                            expired=True) from None  # fmt: skip
        raise LinkError(label("field", "link.invalid", settings.locale)) from None
    escort = session.get(Escort, escort_id)
    if escort is None:
        raise LinkError(label("field", "link.invalid", settings.locale))
    return escort


def escort_actor(escort: Escort) -> Actor:
    """Whoever holds the escort's link: acts as the escort (their convoys only)."""
    return Actor("link", f"escort {escort.badge} link", role="escort", escort_id=escort.id)
