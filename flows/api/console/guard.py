"""Who is asking: the signed-in user of a console request, their rights (the role matrix of
``models.access.roles``), and the checks every POST passes before it does anything — signed in,
allowed by the role, same origin, the session's CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from sqlmodel import Session

from config import Settings
from flows.api.console.sessions import (
    COOKIE,
    SessionError,
    Signed,
    csrf_ok,
    csrf_token,
    read_cookie,
    session_user,
)
from models.access.actors import Actor, acting_as
from models.access.roles import ACTIONS, allowed
from models.access.users import actor_for
from models.db import session_scope
from models.errors import ConvoyOpsError, PermissionDeniedError

MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class SignInNeeded(ConvoyOpsError):
    """A page asked for without a valid session (GET: sent to the sign-in page)."""

    def __init__(self, reason: str, code: str = "signin", next_path: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.next_path = next_path


class Refused(ConvoyOpsError):
    """A request refused before any work, with its HTTP status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Who:
    """The signed-in user of one request."""

    name: str
    full_name: str
    role: str
    actor: Actor
    signed: Signed
    csrf: str

    def may(self, action: str) -> bool:
        return allowed(self.role, action)

    @contextmanager
    def acting(self, settings: Settings) -> Iterator[Session]:
        """A database session in which everything read is checked and everything written is
        audited as this user (via ``api``)."""
        with acting_as(self.actor, "api"), session_scope(settings) as session:
            yield session


def who(request: Request, settings: Settings) -> Who:
    """The signed-in user, or ``SignInNeeded`` saying why not."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        signed = read_cookie(request.cookies.get(COOKIE, ""), settings)
        with session_scope(settings) as session:
            user = session_user(session, signed)
    except SessionError as exc:
        raise SignInNeeded(str(exc), exc.code, path) from None
    return Who(
        user.name,
        user.full_name,
        user.role,
        actor_for(user),
        signed,
        csrf_token(signed, settings),
    )


def need(w: Who, action: str) -> None:
    """Refuse (403) unless the user's role may take ``action``."""
    if not w.may(action):
        raise PermissionDeniedError(f"{w.name} ({w.role}) may not {ACTIONS[action]}.")


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    host = request.headers.get("host", "")
    if origin != f"{request.url.scheme}://{host}":
        raise Refused(403, "The form was sent from another site; open the console again.")


async def writer(
    request: Request, settings: Settings, action: str | None
) -> tuple[Who, dict[str, Any]]:
    """The checks of every POST, in order: signed in (401), the role's right (403), same
    origin (403), a body within limits (413), the session's CSRF token (403). Returns the user
    and the form (uploads as Starlette ``UploadFile``)."""
    from starlette.concurrency import run_in_threadpool

    try:
        w = await run_in_threadpool(who, request, settings)
    except SignInNeeded as exc:
        raise Refused(401, str(exc)) from None
    if action:
        need(w, action)
    same_origin(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise Refused(413, "The upload is too large (at most 64 MB).")
    try:
        form = await request.form(max_files=2, max_fields=30)
    except Exception:
        raise Refused(400, "The form could not be read; send it from the console's page.") from None
    if not csrf_ok(w.signed, str(form.get("csrf") or ""), settings):
        raise Refused(
            403, "This form is stale or did not come from the console; reload the page and "
            "send it again."
        )  # fmt: skip
    return w, dict(form)


def login_path(code: str, next_path: str) -> str:
    return f"/console/login?next={quote(safe_next(next_path), safe='/')}&why={quote(code)}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if not value or not value.startswith("/console") or "//" in value or "\\" in value:
        return "/console/"
    return value
