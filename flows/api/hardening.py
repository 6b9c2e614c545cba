"""What every public HTTP app of Convoy Ops puts in front of its handlers: security headers on
every response, a bounded body read, a sliding-window rate limit, signed CSRF tokens for the
link pages' forms, and an access log that never holds a secret path (signed links, tokens)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Request, Response

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # a signed link in the address bar never leaks onward
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


CSRF_SECONDS = 4 * 3600  # a form page stays usable this long


def csrf_token(key: bytes, purpose: str, nonce: str, token: str, issued: int) -> str:
    """A form's CSRF token: bound to the page's cookie ``nonce``, its signed link ``token`` and
    the time it was issued, signed with ``key`` for one ``purpose`` (a form of one page)."""
    body = f"{purpose}:{nonce}:{token}:{issued}".encode()
    return f"{issued}.{hmac.new(key, body, hashlib.sha256).hexdigest()}"


def csrf_ok(key: bytes, purpose: str, nonce: str, token: str, value: str, now: float) -> bool:
    """Whether ``value`` is a token :func:`csrf_token` made for this cookie, link and purpose,
    issued less than ``CSRF_SECONDS`` ago."""
    issued, _, _mac = value.partition(".")
    if not nonce or not (issued.isascii() and issued.isdigit()) or len(value) > 200:
        return False
    if not now - CSRF_SECONDS <= int(issued) <= now + 60:
        return False
    return hmac.compare_digest(csrf_token(key, purpose, nonce, token, int(issued)), value)


def add_security_headers(app: FastAPI, *, https: bool = False) -> None:
    """Every response (errors and 404s too) carries ``SECURITY_HEADERS`` (and HSTS on HTTPS)."""
    headers = dict(SECURITY_HEADERS)
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response


class BodyTooLarge(Exception):
    """The request body is longer than the app takes."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (``BodyTooLarge``) as soon as it passes ``limit`` bytes, whether
    or not the client declared its length."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


class RateLimiter:
    """At most ``limit`` hits per key in any ``window`` seconds (in this process)."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count a hit; None when allowed, else the seconds until the next one would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:  # forget the quietest keys first
                    for stale in sorted(self._hits, key=lambda k: self._hits[k][-1])[:1000]:
                        del self._hits[stale]
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.0, hits[0] + self.window - now)
            hits.append(now)
            return None


class RedactPaths(logging.Filter):
    """Rewrites secret path segments in uvicorn's access log lines (and any message text)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def _clean(self, text: str) -> str:
        for p in self.patterns:
            text = p.sub(lambda m: m.group(1) + "…", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self._clean(record.msg)
        return True


def redact_access_log(patterns: Iterable[str]) -> None:
    """Install ``RedactPaths`` on uvicorn's access logger once per set of patterns.

    A pattern's first group is kept and the rest of the match replaced with '…'."""
    patterns = tuple(patterns)
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactPaths) and f.patterns == [re.compile(p) for p in patterns]
               for f in logger.filters):  # fmt: skip
        logger.addFilter(RedactPaths(patterns))
