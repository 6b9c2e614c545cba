"""Rendering the console's pages: the Jinja2 templates with the labels of ``models.labels``
(zh-CN by default, en by ``CONVOY_LOCALE``), the console's security headers and its error page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from config import Settings
from models.labels import CONSOLE, label, local_time

DONE = frozenset(k for k in CONSOLE["en"] if k.startswith("done."))
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# Scripts, styles and frames only from this server; the maps open in a frame from /files/.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def late(minutes: int | None) -> str:
    """Lateness as people read it: ``+45 min``, ``+3 h 20 min``, ``+12 d 4 h``, ``-5 min``."""
    if minutes is None:
        return "—"
    sign, m = ("+" if minutes > 0 else "-" if minutes < 0 else "±"), abs(minutes)
    if m < 60:
        return f"{sign}{m} min"
    if m < 24 * 60:
        return f"{sign}{m // 60} h {m % 60} min" if m % 60 else f"{sign}{m // 60} h"
    return f"{sign}{m // 1440} d {m % 1440 // 60} h"


class Pages:
    """The template environment of one app, in the settings' locale."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.locale = settings.locale
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.globals.update(
            t=self.t,
            when=self.when,
            late=late,
            stage=lambda v: label("stages", v, self.locale),
            mode=lambda v: label("modes", v, self.locale),
            alert_kind=lambda v: label("alert_kinds", v, self.locale),
            custody=lambda v: label("console", f"custody.{v}", self.locale),
            lang=self.locale,
            prefix="/console",
        )
        self.env = env

    def t(self, key: str, **params: Any) -> str:
        return label("console", key, self.locale, **params)

    def when(self, at: datetime | str | None, short: bool = False) -> str:
        return local_time(at, self.settings, short=short, empty="—")

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        if context.get("done") and f"done.{context['done']}" not in DONE:
            context["done"] = ""  # only the console's own notices, never text from the address
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def error(self, status: int, reason: str, ctx: Any = None) -> HTMLResponse:
        return self.render("error.html", status, ctx=ctx, code=status, reason=reason)
