"""The returning-worker registration form (HTTP, FastAPI) behind the enterprises' QR codes, and
each enterprise's own page.

``GET /r/{link}`` shows the enterprise's form; ``POST /r/{link}`` validates it like the manifest
import and adds the worker to the enterprise's pool (a known ID number with changed details
becomes a new version; the old one is kept). The enterprise's own page (``/e/{link}``) is
``flows.api.enterprise``'s, mounted here.

Bad input is a 4xx with its reason, never a 500: tampered links 403, expired ones 410, a missing
or stale form token or a foreign ``Origin`` 403 (CSRF), more than the body limit 413, not a form
415, too many submissions from one address or on one link 429 (``Retry-After``), invalid forms
422 listing the problems (typed ID and phone numbers are never shown back, only masked). Every
response carries security headers; the access log shows no signed link.
Run it with ``convoy serve-registration`` or ``uvicorn flows.api.registration:create_app
--factory``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import IntegrityError

from config import Settings, get_settings
from flows.api.enterprise import mount as mount_enterprise_page
from flows.api.hardening import (
    BodyTooLarge,
    RateLimiter,
    add_security_headers,
    read_body,
    redact_access_log,
)
from models.access.actors import acting_as, link
from models.db import session_scope
from models.errors import ConvoyOpsError
from models.intake.identity import mask_id, mask_phone
from models.intake.manifest import LABELS
from models.intake.registration import (
    FIELD_LIMITS,
    FORM_FIELDS,
    FormError,
    LinkError,
    enterprise_for,
    register_worker,
    signing_key,
)

_PLACEHOLDERS = {
    "name": "张三",
    "id_number": "18位身份证号",
    "phone": "11位手机号",
    "origin": "陕西省渭南市蒲城县",
    "health_code": "绿/黄/红",
    "nat_result": "阴性/阳性",
    "nat_time": "2020-02-19 09:30",
}
_SECRET_FIELDS = ("id_number", "phone")  # never put back into a form page
_MASK = {"id_number": mask_id, "phone": mask_phone}
CSRF_COOKIE = "convoy_csrf"
CSRF_SECONDS = 4 * 3600  # a form page stays usable this long
MAX_FIELDS = 30
# Signed links in paths: the access log keeps '/r/' and '/e/' and drops the rest.
LINK_PATHS = (r"(/[re]/)[^\s?\"]+",)


def _page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    return _page("无法处理 / Request refused", f"<p>{escape(reason)}</p>", status, headers)


def _form(enterprise: str, values: dict[str, str], errors: dict[str, str], csrf: str) -> str:
    rows = []
    for f in FORM_FIELDS:
        err = f"<div class='error'>{escape(errors[f])}</div>" if f in errors else ""
        typed = values.get(f, "")[: FIELD_LIMITS[f]]
        value, hint = typed, ""
        if f in _SECRET_FIELDS:
            value = ""
            if typed:
                hint = f"<div class='hint'>您填写的 / you typed: {escape(_MASK[f](typed))}</div>"
        rows.append(
            f"<p><label>{escape(LABELS[f])} ({f})<br><input name='{f}' "
            f"maxlength='{FIELD_LIMITS[f]}' value='{escape(value)}' "
            f"placeholder='{escape(_PLACEHOLDERS[f])}'></label>{hint}{err}</p>"
        )
    return (
        f"<p>{escape(enterprise)} — 返岗人员登记 / returning-worker registration</p>"
        f"<form method='post'><input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"{''.join(rows)}<button type='submit'>提交 Submit</button></form>"
    )


def _link_error(exc: LinkError) -> HTMLResponse:
    return _page("链接无效 / Link refused", f"<p>{escape(str(exc))}</p>",
                 410 if exc.expired else 403)  # fmt: skip


def _csrf(key: bytes, nonce: str, token: str, issued: int) -> str:
    mac = hmac.new(key, f"csrf:{nonce}:{token}:{issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac}"


def _csrf_ok(key: bytes, nonce: str, token: str, value: str, now: float) -> bool:
    issued, _, _mac = value.partition(".")
    if not nonce or not (issued.isascii() and issued.isdigit()) or len(value) > 200:
        return False
    if not now - CSRF_SECONDS <= int(issued) <= now + 60:
        return False
    return hmac.compare_digest(_csrf(key, nonce, token, int(issued)), value)


def _origins(request: Request, settings: Settings) -> set[str]:
    """Where a form may be posted from: the public address, and the address asked for."""
    public = urlsplit(settings.registration_base_url)
    host = request.headers.get("host", "")
    return {f"{public.scheme}://{public.netloc}", f"{request.url.scheme}://{host}"}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="Convoy Ops registration", docs_url=None, redoc_url=None, openapi_url=None)
    start = settings or get_settings()
    add_security_headers(app, https=start.registration_base_url.startswith("https://"))
    redact_access_log(LINK_PATHS)
    per_address = RateLimiter(start.registration_per_address_per_minute, 60.0)
    per_link = RateLimiter(start.registration_per_link_per_minute, 60.0)
    secure_cookie = start.registration_base_url.startswith("https://")

    def cfg() -> Settings:
        return settings or get_settings()

    def enterprise_name(token: str, purpose: str = "form") -> tuple[int, str]:
        with session_scope(cfg()) as session:
            ent = enterprise_for(session, token, cfg(), purpose=purpose)
            return ent.id or 0, ent.name

    def form_page(
        token: str, ent: str, values: dict[str, str], errors: dict[str, str], status: int,
        nonce: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        fresh = nonce is None
        nonce = nonce or secrets.token_urlsafe(16)
        csrf = _csrf(signing_key(cfg()), nonce, token, int(time.time()))
        title = "返岗人员登记" if not errors else "请更正 / Please correct"
        response = _page(title, _form(ent, values, errors, csrf), status)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE, nonce, max_age=CSRF_SECONDS, path="/r/", httponly=True,
                samesite="strict", secure=secure_cookie,
            )  # fmt: skip
        return response

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/r/{token}", response_class=HTMLResponse)
    def show(token: str) -> HTMLResponse:
        try:
            _, name = enterprise_name(token)
        except LinkError as exc:
            return _link_error(exc)
        return form_page(token, name, {}, {}, 200)

    @app.post("/r/{token}", response_class=HTMLResponse)
    async def submit(token: str, request: Request) -> HTMLResponse:
        s = cfg()
        wait = per_address.hit(f"address {_client(request)}")
        if wait is None:
            try:
                eid, ent = enterprise_name(token)
            except LinkError as exc:
                return _link_error(exc)
            wait = per_link.hit(f"link {eid}")
        if wait is not None:
            return _refusal(
                429, "Too many submissions; wait a minute and send the form again.",
                {"Retry-After": str(max(1, round(wait)))},
            )  # fmt: skip
        origin = request.headers.get("origin")
        if origin is not None and origin not in _origins(request, s):
            return _refusal(403, "The form was sent from another site; open the link again.")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return _refusal(415, "Send the registration as the page's form.")
        try:
            body = (await read_body(request, s.registration_max_body_bytes)).decode("utf-8")
            parsed = parse_qs(
                body, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
            )
        except BodyTooLarge:
            return _refusal(413, "The form is too large; fill in the fields only.")
        except (UnicodeDecodeError, ValueError):
            return _refusal(400, "The form could not be read (not UTF-8, or too many fields).")
        form = {k: v[0] for k, v in parsed.items()}
        nonce = request.cookies.get(CSRF_COOKIE, "")[:100]
        if not _csrf_ok(signing_key(s), nonce, token, form.get("csrf", ""), time.time()):
            return _refusal(
                403, "This form has expired or did not come from the registration page; "
                "open the link again and send it from there.",
            )  # fmt: skip
        try:
            reg, outcome = _register(token, form, eid, ent, s)
        except LinkError as exc:
            return _link_error(exc)
        except FormError as exc:
            errors = {p.column: p.reason for p in exc.problems}
            return form_page(token, ent, form, errors, 422, nonce=nonce)
        except IntegrityError:  # the same person sent twice at once, twice over
            return _refusal(
                409, "This registration was sent twice at the same moment; send it again."
            )
        except ConvoyOpsError as exc:
            return _refusal(400, str(exc))
        masked = escape(mask_id(reg.id_number))
        if outcome == "created":
            return _page("登记成功 / Registered", f"<p>{escape(ent)}: {masked}</p>")
        if outcome == "unchanged":
            return _page("已登记 / Already registered",
                         f"<p>{escape(ent)}: {masked} — 无变化 / nothing changed.</p>")  # fmt: skip
        return _page(
            "已更新 / Updated",
            f"<p>{escape(ent)}: {masked} — 第 {reg.version} 版 / saved as version "
            f"{reg.version}; 之前的版本仍保留，企业可见 / earlier versions are kept and shown "
            "to the enterprise.</p>",
        )

    mount_enterprise_page(app, settings)  # /e/{link}: the enterprise's own page
    return app


def _register(
    token: str, form: dict[str, Any], eid: int, ent: str, settings: Settings
) -> tuple[Any, str]:
    """Store the registration as the enterprise's link; a first registration of the same ID
    number sent at the same moment makes the second try a new version, not an error."""
    for attempt in (1, 2):
        try:
            with acting_as(link(ent, eid), "api"), session_scope(settings) as session:
                return register_worker(session, token, form, settings)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
