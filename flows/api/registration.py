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

import re
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
    CSRF_SECONDS,
    BodyTooLarge,
    RateLimiter,
    add_security_headers,
    csrf_ok,
    csrf_token,
    read_body,
    redact_access_log,
)
from models.access.actors import acting_as, link
from models.convoy.screening import normalise_health_code, normalise_nat_result
from models.db import session_scope
from models.errors import ConvoyOpsError
from models.intake.identity import mask_id, mask_name, mask_phone
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
}
_SECRET_FIELDS = ("id_number", "phone")  # never put back into a form page
_MASK = {"id_number": mask_id, "phone": mask_phone}
CSRF_COOKIE = "convoy_csrf"
MAX_FIELDS = 30
# Signed links in paths: the access log keeps '/r/' and '/e/' and drops the rest.
LINK_PATHS = (r"(/[re]/)[^\s?\"]+",)
_REQUIRED = ("name", "id_number", "phone", "health_code")  # the browser asks for these first
# Proper inputs on a phone: the keyboard that fits, and what a value looks like.
_INPUTS = {
    "name": "autocomplete='name'",
    "id_number": "inputmode='text' autocomplete='off' autocapitalize='characters' "
    "pattern='[0-9]{17}[0-9Xx]' title='18位身份证号 / 18-character ID number'",
    "phone": "type='tel' inputmode='numeric' autocomplete='tel' pattern='1[0-9]{10}' "
    "title='11位手机号 / 11-digit mobile number'",
    "origin": "autocomplete='off'",
}
_CHOICES = {
    "health_code": (("green", "绿码 green"), ("yellow", "黄码 yellow"), ("red", "红码 red")),
    "nat_result": (("negative", "阴性 negative"), ("positive", "阳性 positive")),
}
_NORMALISE = {"health_code": normalise_health_code, "nat_result": normalise_nat_result}
PRIVACY = (
    "<aside class='privacy'><h2>个人信息说明 / Privacy notice</h2>"
    "<p>您填写的身份证号、手机号和健康信息只用于返岗人员的健康核验、护送和交接，由您的用工企业"
    "和公安护送组使用；在页面、报表和通知中一律脱敏显示（如 3302**********1234、138****5678），"
    "不会公开。每次提交都会记录，企业可看到您登记的各个版本。</p>"
    "<p>Your ID number, phone number and health details are used only to check, escort and hand "
    "you over to your employer, by the employer and the police escort team; pages, reports and "
    "messages show them masked. Every submission is kept, and the employer sees each version.</p>"
    "</aside>"
)
_STYLE = (
    "body{margin:0;font:17px/1.45 system-ui,-apple-system,'PingFang SC','Noto Sans CJK SC',"
    "sans-serif;color:#1b1f24;background:#f3f5f7}"
    "main{max-width:34rem;margin:0 auto;padding:.6rem .8rem 3rem}"
    "h1{font-size:1.2rem;margin:0;padding:.7rem .8rem;background:#0b5cad;color:#fff}"
    "h2{font-size:1rem;margin:.2rem 0}.ent{font-weight:600;margin:.6rem 0}"
    "label{display:block;margin:.8rem 0 .2rem;font-weight:600}"
    "input,select,button{font:inherit;width:100%;box-sizing:border-box;min-height:2.9rem;"
    "padding:.4rem .6rem;border:1px solid #c5ccd4;border-radius:.45rem;background:#fff}"
    "button{margin-top:1.2rem;background:#0b5cad;color:#fff;border:0;font-weight:600}"
    ".req{color:#b3261e}.hint{font-size:.85rem;color:#5b6570}"
    ".error{color:#b3261e;font-size:.9rem;margin-top:.2rem}"
    ".privacy{background:#fff;border:1px solid #d5dae0;border-radius:.6rem;padding:.5rem .8rem;"
    "margin:1rem 0;font-size:.88rem;color:#3b434c}"
    "dl{background:#fff;border:1px solid #d5dae0;border-radius:.6rem;padding:.6rem .8rem}"
    "dt{color:#5b6570;font-size:.85rem}dd{margin:0 0 .5rem;font-weight:600}"
)


def _page(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<link rel='icon' href='data:,'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    return _page("无法处理 / Request refused", f"<p>{escape(reason)}</p>", status, headers)


def _canonical(field: str, value: str) -> str:
    try:
        return _NORMALISE[field](value)
    except ConvoyOpsError:
        return ""


def _input(f: str, typed: str, required: str) -> str:
    """One field's control: a select for the health code and test result, a date-time picker
    for the test time, a text input with the phone keyboard that fits for the others."""
    if f in _CHOICES:
        chosen = _canonical(f, typed)
        options = "".join(
            f"<option value='{v}'{' selected' if v == chosen else ''}>{escape(text)}</option>"
            for v, text in _CHOICES[f]
        )
        return (
            f"<select id='f-{f}' name='{f}'{required}><option value=''>请选择 / choose"
            f"</option>{options}</select>"
        )
    if f == "nat_time":
        shown = typed if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", typed) else ""
        return (
            f"<input id='f-{f}' name='{f}' type='datetime-local' value='{escape(shown)}'{required}>"
        )
    value = "" if f in _SECRET_FIELDS else typed
    return (
        f"<input id='f-{f}' name='{f}' maxlength='{FIELD_LIMITS[f]}' value='{escape(value)}' "
        f"placeholder='{escape(_PLACEHOLDERS[f])}' {_INPUTS[f]}{required}>"
    )


def _form(enterprise: str, values: dict[str, str], errors: dict[str, str], csrf: str) -> str:
    rows = []
    for f in FORM_FIELDS:
        err = f"<div class='error'>{escape(errors[f])}</div>" if f in errors else ""
        typed = values.get(f, "")[: FIELD_LIMITS[f]]
        hint = ""
        if f in _SECRET_FIELDS and typed:
            hint = f"<div class='hint'>您填写的 / you typed: {escape(_MASK[f](typed))}</div>"
        required = " required" if f in _REQUIRED else ""
        mark = " <span class='req' title='必填 required'>*</span>" if required else ""
        rows.append(
            f"<label for='f-{f}'>{escape(LABELS[f])} ({f}){mark}</label>"
            f"{_input(f, typed, required)}{hint}{err}"
        )
    return (
        f"<p class='ent'>{escape(enterprise)} — 返岗人员登记 / returning-worker registration</p>"
        "<p class='hint'><span class='req'>*</span> 必填 / required</p>"
        f"<form method='post'><input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"{''.join(rows)}{PRIVACY}<button type='submit'>提交 Submit</button></form>"
    )


def _confirmation(enterprise: str, reg: Any, note: str) -> str:
    """What was registered, masked: the page a worker sees after sending the form."""
    from models.labels import local_time

    shown = {v: text for choices in _CHOICES.values() for v, text in choices}
    items = [
        ("企业 / enterprise", enterprise),
        (LABELS["name"], mask_name(reg.name)),
        (LABELS["id_number"], mask_id(reg.id_number)),
        (LABELS["phone"], mask_phone(reg.phone)),
        (LABELS["origin"], reg.origin or "—"),
        (LABELS["health_code"], shown.get(reg.health_code, reg.health_code or "—")),
        (LABELS["nat_result"], shown.get(reg.nat_result, reg.nat_result or "—")),
        (LABELS["nat_time"], local_time(reg.nat_time, empty="—")),
        ("版本 / version", str(reg.version)),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f"<p>{note}</p><dl>{rows}</dl>"


def _link_error(exc: LinkError) -> HTMLResponse:
    return _page("链接无效 / Link refused", f"<p>{escape(str(exc))}</p>",
                 410 if exc.expired else 403)  # fmt: skip


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
        csrf = csrf_token(signing_key(cfg()), "csrf", nonce, token, int(time.time()))
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
        # Under 'Referrer-Policy: no-referrer' a browser sends 'Origin: null' with the form's
        # own POST: then the form token and the SameSite=Strict cookie decide (below).
        if origin not in (None, "null") and origin not in _origins(request, s):
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
        if not csrf_ok(signing_key(s), "csrf", nonce, token, form.get("csrf", ""), time.time()):
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
            return _page(
                "登记成功 / Registered", _confirmation(ent, reg, f"{escape(ent)}: {masked}")
            )
        if outcome == "unchanged":
            note = f"{escape(ent)}: {masked} — 无变化 / nothing changed."
            return _page("已登记 / Already registered", _confirmation(ent, reg, note))
        note = (
            f"{escape(ent)}: {masked} — 第 {reg.version} 版 / saved as version "
            f"{reg.version}; 之前的版本仍保留，企业可见 / earlier versions are kept and shown "
            "to the enterprise."
        )
        return _page("已更新 / Updated", _confirmation(ent, reg, note))

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
