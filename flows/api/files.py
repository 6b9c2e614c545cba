"""Signed links to the flows' maps and reports, for people who open them from the Prefect UI
(a browser sends no bearer token).

``signed_file_url(path)`` is ``<public URL>/files/<path>?sig=<expiry>.<mac>``: the signature
(HMAC-SHA256 with the key that signs registration links) covers the file's folder and the
expiry, so the map and the shared ``assets/`` beside it open with it. The first request with a
valid ``sig`` sets a cookie (``HttpOnly``, ``SameSite=Strict``, path ``/files/``) carrying the
same grant, which the map's own requests for its scripts and styles send back. Without a valid
signature or cookie ``/files/`` needs a bearer token with the right ``map.read``. The access
log never shows ``sig=``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import PurePosixPath

from config import Settings, get_settings

COOKIE = "convoy_files"
LINK_DAYS = 7


def folder_of(path: str) -> str:
    """The top folder a grant covers (``maps/BUS.html`` → ``maps``); '' for a loose file."""
    parts = PurePosixPath(path).parts
    return parts[0] if len(parts) > 1 else ""


def _mac(key: bytes, folder: str, expires: int) -> str:
    return hmac.new(key, f"files:{folder}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def sign(folder: str, settings: Settings, days: float = LINK_DAYS, now: float | None = None) -> str:
    from models.intake.registration import signing_key

    expires = int((now or time.time()) + days * 86400)
    return f"{expires}.{_mac(signing_key(settings), folder, expires)}"


def granted(path: str, grant: str, settings: Settings, now: float | None = None) -> bool:
    """Whether ``grant`` (a ``sig`` or the cookie) opens ``path``: same folder, not expired."""
    from models.intake.registration import signing_key

    expires, _, mac = (grant or "")[:100].partition(".")
    if not (expires.isascii() and expires.isdigit()) or int(expires) < (now or time.time()):
        return False
    return hmac.compare_digest(_mac(signing_key(settings), folder_of(path), int(expires)), mac)


def signed_file_path(path: str, settings: Settings, days: float = LINK_DAYS) -> str:
    """``/files/PATH?sig=…``: the server-relative link to an output file (relative to
    ``output_dir``, POSIX form, already URL-quoted) that opens without a token for ``days``."""
    rel = PurePosixPath(path).as_posix().lstrip("/")
    return f"/files/{rel}?sig={sign(folder_of(rel), settings, days)}"


def signed_file_url(path: str, settings: Settings | None = None) -> str:
    """The full link to an output file that opens without a token for ``LINK_DAYS`` days."""
    settings = settings or get_settings()
    return f"{settings.api_url()}{signed_file_path(path, settings)}"
