"""Sign-in to the console: a signed, expiring session cookie made from a user's API token, and
the CSRF token every form carries.

A user pastes a token from ``convoy users token NAME``; the cookie then holds the user, the
token's number, the end of the session and a random nonce, signed with HMAC-SHA256 (key derived
from the installation's signing key). It is HttpOnly, SameSite=Strict, limited to ``/console``,
Secure over HTTPS, and ends after ``console_session_minutes`` or with the token: every request
checks that the token is still live and the user active, so revoking the token (or the user)
ends the session at once. Signing out deletes the cookie.

Each session has its own CSRF token (HMAC of its nonce); every POST must carry it in the field
``csrf``, and a foreign ``Origin`` is refused. The sign-in form has a pre-session token bound to
a nonce cookie the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from config import Settings
from models.access.users import User, UserToken, authenticate, hash_secret
from models.db import utcnow
from models.errors import AuthenticationError
from models.intake.registration import signing_key

COOKIE = "convoy_console"
LOGIN_COOKIE = "convoy_console_login"
PATH = "/console"
CONSOLE_ROLES = ("coordinator", "manager", "permit_officer")
LOGIN_SECONDS = 3600  # a sign-in form stays usable this long
# Why the sign-in page is shown (codes in the address, texts in models.labels).
WHY = ("signin", "invalid", "expired", "revoked", "role", "signedout")


def _key(settings: Settings) -> bytes:
    return hmac.new(signing_key(settings), b"convoy console session", hashlib.sha256).digest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Signed:
    """A session as its cookie holds it."""

    user_id: int
    token_id: int
    expires: int  # unix seconds
    nonce: str

    def body(self) -> str:
        return f"{self.user_id}.{self.token_id}.{self.expires}.{self.nonce}"


def make_cookie(signed: Signed, settings: Settings) -> str:
    return f"{signed.body()}.{_mac(_key(settings), 'session:' + signed.body())}"


class SessionError(AuthenticationError):
    """No valid session: the reason says why; ``code`` names it for the sign-in page
    (``signin``, ``invalid``, ``expired``, ``revoked``, ``role``)."""

    def __init__(self, reason: str, code: str = "signin") -> None:
        super().__init__(reason)
        self.code = code


def read_cookie(value: str, settings: Settings, now: float | None = None) -> Signed:
    """The session in a cookie, checked for its signature and expiry (not yet the token)."""
    parts = value.split(".")
    if len(parts) != 5 or len(value) > 300:
        raise SessionError("You are not signed in.")
    uid, tid, exp, nonce, mac = parts
    if not (uid.isdigit() and tid.isdigit() and exp.isdigit()):
        raise SessionError("You are not signed in.")
    signed = Signed(int(uid), int(tid), int(exp), nonce)
    if not hmac.compare_digest(mac, _mac(_key(settings), "session:" + signed.body())):
        raise SessionError("The session cookie is not valid; sign in again.", "invalid")
    if (now if now is not None else time.time()) >= signed.expires:
        raise SessionError("Your session has expired; sign in again.", "expired")
    return signed


def sign_in(session: Session, token: str, settings: Settings) -> tuple[User, Signed]:
    """The user holding ``token`` and a new session for them (console roles only)."""
    user = authenticate(session, token)
    if user.role not in CONSOLE_ROLES:
        raise AuthenticationError(
            f"The console is for coordinators, managers and permit officers; {user.name} is "
            f"{user.role}. "
            "Escorts and enterprises use their signed links."
        )
    row = session.get(UserToken, _token_id(session, token))
    assert row is not None
    ends = min(time.time() + settings.console_session_minutes * 60, row.expires_at.timestamp())
    return user, Signed(user.id or 0, row.id or 0, int(ends), secrets.token_urlsafe(12))


def _token_id(session: Session, token: str) -> int:
    from sqlalchemy import select
    from sqlmodel import col

    found = session.execute(
        select(col(UserToken.id)).where(col(UserToken.token_hash) == hash_secret(token.strip()))
    ).scalar_one()
    return int(found)


def session_user(session: Session, signed: Signed) -> User:
    """The signed-in user, if the session's token is still live and the user active."""
    user = session.get(User, signed.user_id)
    token = session.get(UserToken, signed.token_id)
    if user is None or token is None or token.user_id != user.id:
        raise SessionError("You are not signed in.")
    if not user.active or token.revoked_at is not None:
        raise SessionError("Your access was revoked; ask an admin.", "revoked")
    if token.expires_at <= utcnow():
        raise SessionError("Your token has expired; ask an admin for a new one.", "expired")
    if user.role not in CONSOLE_ROLES:
        raise SessionError("Your role has no console pages.", "role")
    return user


def csrf_token(signed: Signed, settings: Settings) -> str:
    return _mac(_key(settings), "csrf:" + signed.nonce)


def csrf_ok(signed: Signed, value: str, settings: Settings) -> bool:
    return hmac.compare_digest(csrf_token(signed, settings), value[:100])


def login_csrf(nonce: str, settings: Settings, issued: int | None = None) -> str:
    issued = int(time.time()) if issued is None else issued
    return f"{issued}.{_mac(_key(settings), f'login:{nonce}:{issued}')}"


def login_csrf_ok(nonce: str, value: str, settings: Settings) -> bool:
    issued, _, _ = value.partition(".")
    if not nonce or not (issued.isascii() and issued.isdigit()) or len(value) > 200:
        return False
    if not time.time() - LOGIN_SECONDS <= int(issued) <= time.time() + 60:
        return False
    return hmac.compare_digest(login_csrf(nonce, settings, int(issued)), value)


def expires_at(signed: Signed) -> datetime:
    return datetime.fromtimestamp(signed.expires, UTC)
