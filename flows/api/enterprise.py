"""Each enterprise's own page behind its signed link (``/e/{link}``): its registered workers and
handoffs, its liaison officer, its requests to the service desk (and a form to raise one), and
the batch check of its staff list (upload, then download the masked result sheet).

The link acts as the enterprise (``models.access.actors.link``): it sees and writes its own
records only — another enterprise's staff check is not found. Bad input is a 4xx with its
reason, never a 500: tampered links 403, expired ones 410, a missing or stale form token or a
foreign ``Origin`` 403 (CSRF, the pattern of the registration form), too large 413, not the
page's form 415, too many posts on one link 429, a refused request or an unreadable staff list
422 with the reason. ``mount(app)`` adds the routes to an app (the registration app does).
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import AsyncGenerator
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from config import Settings, get_settings
from flows.api.hardening import (
    CSRF_SECONDS,
    BodyTooLarge,
    RateLimiter,
    csrf_ok,
    csrf_token,
    read_body,
    redact_access_log,
)
from models.access.actors import acting_as, link
from models.db import session_scope
from models.desk.tables import RequestKind
from models.errors import ConvoyOpsError, NotFoundError
from models.intake.registration import LinkError, enterprise_for, signing_key
from models.labels import label, local_time

CSRF_COOKIE = "convoy_desk_csrf"
STAFF_LIST_MAX_BYTES = 5 * 1024 * 1024  # a staff list of ~50,000 people as CSV
SHEET_SUFFIXES = (".csv", ".xlsx", ".xlsm")
_LOCALE = "zh-CN"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _refusal(status: int, reason: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = _page("无法处理 / Request refused", f"<p>{escape(reason)}</p>", status)
    response.headers.update(headers or {})
    return response


def _link_error(exc: LinkError) -> HTMLResponse:
    return _page("链接无效 / Link refused", f"<p>{escape(str(exc))}</p>",
                 410 if exc.expired else 403)  # fmt: skip


def _officer(view: dict[str, Any] | None) -> str:
    if view is None:
        return "—"
    return escape(f"{view['name']}（{view['badge']}，{view['unit']}）{view['phone']}")


def _requests_html(rows: list[dict[str, Any]]) -> str:
    def cell(r: dict[str, Any]) -> str:
        outcome = r["answer"] or ""
        if r["passed_to"]:
            outcome = f"转 / passed to {r['passed_to']}" + (f": {outcome}" if outcome else "")
        return (
            f"<tr><td>{escape(r['number'])}</td>"
            f"<td>{escape(label('desk', 'kind.' + r['kind'], _LOCALE))}</td>"
            f"<td>{escape(label('desk', 'status.' + r['status'], _LOCALE))}</td>"
            f"<td>{escape(r['raised_at'])}</td><td>{escape(r['due_at'])}</td>"
            f"<td>{escape(r['text'])}</td><td>{escape(outcome) or '—'}</td></tr>"
        )

    return (
        "<table><tr><th>编号 number</th><th>类型 type</th><th>状态 status</th>"
        "<th>提出 raised</th><th>办结时限 due</th><th>内容 text</th><th>答复 answer</th></tr>"
        f"{''.join(cell(r) for r in rows)}</table>"
    )


def _checks_html(token: str, rows: list[dict[str, Any]]) -> str:
    items = "".join(
        f"<tr><td>#{c['check']}</td><td>{escape(c['at'])}</td><td>{escape(c['file'])}</td>"
        f"<td>{c['read']}</td><td>{c['cleared']}</td><td>{c['attention']}</td>"
        f"<td>{c['invalid']}</td><td><a href='/e/{escape(token)}/checks/{c['check']}.csv'>CSV</a> "
        f"<a href='/e/{escape(token)}/checks/{c['check']}.xlsx'>XLSX</a></td></tr>"
        for c in rows
    )
    return (
        "<table><tr><th>核查 check</th><th>时间 at</th><th>文件 file</th><th>人数 listed</th>"
        "<th>通过 cleared</th><th>需关注 attention</th><th>信息有误 not checked</th>"
        f"<th>结果 result (masked)</th></tr>{items}</table>"
    )


def _registrations_html(view: dict[str, Any]) -> str:
    """Each registered worker (masked) with every version, and handoffs."""
    rows = []
    for r in view["registrations"]:
        history = "".join(
            f"<li>第 {v['version']} 版 / version {v['version']}, "
            f"{escape(local_time(v['submitted_at']))}: "
            + escape("; ".join(f"{k} {val}" for k, val in v["changes"].items()) or "—")
            + "</li>"
            for v in r["versions"]
        )
        rows.append(
            f"<tr><td>{escape(r['name'])}</td><td>{escape(r['id_number'])}</td>"
            f"<td>{escape(r['phone'])}</td><td>{r['version']}</td>"
            f"<td>{escape(r['convoy'] or '—')}</td><td><ol>{history}</ol></td></tr>"
        )
    handoffs = "".join(
        f"<tr><td>{escape(h['convoy'])}</td><td>{h['handed_off']}</td>"
        f"<td>{escape(local_time(h['last_at']))}</td></tr>"
        for h in view["handoffs"]
    )
    return (
        "<h2>登记人员 / Registered workers</h2><table><tr><th>姓名 name</th><th>身份证号 ID</th>"
        "<th>手机号 phone</th><th>版本 version</th><th>车次 convoy</th><th>历史 history</th></tr>"
        f"{''.join(rows)}</table>"
        "<h2>交接 / Handoffs</h2><table><tr><th>车次 convoy</th><th>已交接 handed off</th>"
        f"<th>最近 last</th></tr>{handoffs}</table>"
    )


def _request_form(token: str, csrf: str, values: dict[str, str], error: str) -> str:
    kinds = "".join(
        f"<option value='{k.value}'{' selected' if values.get('kind') == k.value else ''}>"
        f"{escape(label('desk', 'kind.' + k.value, _LOCALE))} / "
        f"{escape(label('desk', 'kind.' + k.value, 'en'))}</option>"
        for k in RequestKind
    )
    problem = f"<p class='error'>{escape(error)}</p>" if error else ""
    return (
        f"<h2>提出诉求 / Raise a request</h2>{problem}"
        f"<form method='post' action='/e/{escape(token)}/requests'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"<p><label>类型 type<br><select name='kind'>{kinds}</select></label></p>"
        "<p><label>内容 text<br><textarea name='text' maxlength='2000' rows='4' cols='60'>"
        f"{escape(values.get('text', ''))}</textarea></label></p>"
        "<p><label>联系人 contact<br><input name='contact' maxlength='50' "
        f"value='{escape(values.get('contact', ''))}'></label></p>"
        "<p><label>联系电话 phone<br><input name='phone' maxlength='32' value=''></label></p>"
        "<button type='submit'>提交 Submit</button></form>"
    )


def _upload_form(token: str, csrf: str) -> str:
    return (
        "<h2>返岗员工名单核查 / Check your staff list</h2>"
        "<p>CSV 或 XLSX，列：姓名、身份证号（可选：手机号） / columns name, ID number "
        "(optional phone).</p>"
        f"<form method='post' action='/e/{escape(token)}/staff' enctype='multipart/form-data'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        "<input type='file' name='file' accept='.csv,.xlsx'> "
        "<button type='submit'>上传核查 Upload and check</button></form>"
    )


# What each form posts (its media type) and what a post of another type is told.
_REQUEST_FORM = ("application/x-www-form-urlencoded", "Send the request with the page's form.")
_UPLOAD_FORM = ("multipart/form-data", "Send the staff list with the page's upload form.")


def mount(app: FastAPI, settings: Settings | None = None) -> None:
    """Add the enterprise page's routes to ``app``."""
    start = settings or get_settings()
    redact_access_log((r"(/e/)[^\s?\"]+",))
    per_link = RateLimiter(start.registration_per_link_per_minute, 60.0)
    secure_cookie = start.registration_base_url.startswith("https://")

    def cfg() -> Settings:
        return settings or get_settings()

    def who(token: str) -> tuple[int, str]:
        with session_scope(cfg()) as session:
            ent = enterprise_for(session, token, cfg(), purpose="enterprise")
            return ent.id or 0, ent.name

    def page(
        token: str, eid: int, ent: str, *, notice: str = "", error: str = "",
        values: dict[str, str] | None = None, status: int = 200, nonce: str | None = None,
    ) -> HTMLResponse:  # fmt: skip
        from models.desk.liaison import liaison_view
        from models.desk.requests import list_requests
        from models.desk.staff import list_checks
        from models.views.enterprise import enterprise_view

        with acting_as(link(ent, eid), "api"), session_scope(cfg()) as session:
            view = enterprise_view(session, eid)
            officers = liaison_view(session, eid)
            requests = list_requests(session, enterprise_id=eid, settings=cfg())
            checks = list_checks(session, eid, cfg())
        fresh = nonce is None
        nonce = nonce or secrets.token_urlsafe(16)
        csrf = csrf_token(signing_key(cfg()), "desk-csrf", nonce, token, int(time.time()))
        body = (
            (f"<p class='notice'>{escape(notice)}</p>" if notice else "")
            + "<h2>联络民警 / Liaison officer</h2>"
            f"<p>负责民警 officer: {_officer(officers['officer'])}<br>"
            f"协助民警 deputy: {_officer(officers['deputy'])}</p>"
            "<h2>诉求 / Requests</h2>" + _requests_html(requests)
            + _request_form(token, csrf, values or {}, error)
            + _upload_form(token, csrf)
            + "<h2>核查结果 / Staff checks</h2>" + _checks_html(token, checks)
            + _registrations_html(view)
        )  # fmt: skip
        response = _page(f"{ent} — 企业服务 / enterprise page", body, status)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE, nonce, max_age=CSRF_SECONDS, path="/e/", httponly=True,
                samesite="strict", secure=secure_cookie,
            )  # fmt: skip
        return response

    def admitted(
        request: Request, token: str, media: str, wrong_media: str
    ) -> tuple[int, str] | HTMLResponse:
        """What every post passes first: the link (its enterprise's id and name), the rate
        limit, the origin and the body's media type; else the refusal page."""
        try:
            eid, ent = who(token)
        except LinkError as exc:
            return _link_error(exc)
        wait = per_link.hit(f"desk link {eid}")
        if wait is not None:
            return _refusal(429, "Too many submissions; wait a minute and send it again.",
                            {"Retry-After": str(max(1, round(wait)))})  # fmt: skip
        origin = request.headers.get("origin")
        public = urlsplit(cfg().registration_base_url)
        allowed = {f"{public.scheme}://{public.netloc}",
                   f"{request.url.scheme}://{request.headers.get('host', '')}"}  # fmt: skip
        # "null": what Chromium sends from a page whose referrer policy is no-referrer (ours);
        # the form token and the same-site cookie still stand between a foreign site and us.
        if origin is not None and origin != "null" and origin not in allowed:
            return _refusal(403, "The form was sent from another site; open the link again.")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != media:
            return _refusal(415, wrong_media)
        return eid, ent

    def csrf_refused(request: Request, token: str, value: str) -> HTMLResponse | None:
        nonce = request.cookies.get(CSRF_COOKIE, "")[:100]
        if csrf_ok(signing_key(cfg()), "desk-csrf", nonce, token, value, time.time()):
            return None
        return _refusal(
            403, "This form has expired or did not come from the enterprise page; open the "
            "link again and send it from there.",
        )  # fmt: skip

    @app.get("/e/{token}", response_class=HTMLResponse)
    def enterprise_page(token: str) -> HTMLResponse:
        try:
            eid, ent = who(token)
        except LinkError as exc:
            return _link_error(exc)
        return page(token, eid, ent)

    @app.post("/e/{token}/requests", response_class=HTMLResponse)
    async def raise_request(token: str, request: Request) -> HTMLResponse:
        from models.desk.requests import raise_request as raise_it

        opened = admitted(request, token, *_REQUEST_FORM)
        if isinstance(opened, HTMLResponse):
            return opened
        eid, ent = opened
        try:
            body = (await read_body(request, cfg().registration_max_body_bytes)).decode("utf-8")
            parsed = parse_qs(body, keep_blank_values=True, max_num_fields=10, errors="strict")
        except BodyTooLarge:
            return _refusal(413, "The request is too large; shorten the text.")
        except (UnicodeDecodeError, ValueError):
            return _refusal(400, "The form could not be read (not UTF-8, or too many fields).")
        form = {k: v[0] for k, v in parsed.items()}
        refused = csrf_refused(request, token, form.get("csrf", ""))
        if refused is not None:
            return refused
        nonce = request.cookies.get(CSRF_COOKIE, "")[:100]
        try:
            with acting_as(link(ent, eid), "api"), session_scope(cfg()) as session:
                req = raise_it(
                    session, eid, kind=form.get("kind", ""), text=form.get("text", ""),
                    contact_name=form.get("contact", ""), contact_phone=form.get("phone", ""),
                    settings=cfg(),
                )  # fmt: skip
                number, due = req.number, local_time(req.due_at, cfg())
        except ConvoyOpsError as exc:
            values = {k: form.get(k, "") for k in ("kind", "text", "contact")}
            return page(token, eid, ent, error=str(exc), values=values, status=422, nonce=nonce)
        notice = f"已提交 / Raised {number}; 将于 {due} 前答复 / answered by {due}."
        return page(token, eid, ent, notice=notice, nonce=nonce)

    @app.post("/e/{token}/staff", response_class=HTMLResponse)
    async def upload_staff(token: str, request: Request) -> HTMLResponse:
        opened = admitted(request, token, *_UPLOAD_FORM)
        if isinstance(opened, HTMLResponse):
            return opened
        eid, ent = opened
        try:
            body = await read_body(request, STAFF_LIST_MAX_BYTES)
        except BodyTooLarge:
            mb = STAFF_LIST_MAX_BYTES // (1024 * 1024)
            return _refusal(413, f"The file is larger than {mb} MB; split the list.")

        async def stream() -> AsyncGenerator[bytes, None]:
            yield body

        try:
            form = await MultiPartParser(
                request.headers, stream(), max_files=1, max_fields=5,
                max_part_size=STAFF_LIST_MAX_BYTES,
            ).parse()  # fmt: skip
        except MultiPartException as exc:
            return _refusal(400, f"The upload could not be read: {exc.message}.")
        value = form.get("csrf")
        refused = csrf_refused(request, token, value if isinstance(value, str) else "")
        if refused is not None:
            return refused
        nonce = request.cookies.get(CSRF_COOKIE, "")[:100]
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page(token, eid, ent, error="Choose a CSV or XLSX file to check.",
                        status=422, nonce=nonce)  # fmt: skip
        name = Path(upload.filename).name[:200]
        suffix = Path(name).suffix.lower()
        if suffix not in SHEET_SUFFIXES:
            return page(token, eid, ent, error=f"{name} is not a CSV or XLSX file.",
                        status=422, nonce=nonce)  # fmt: skip
        data = await upload.read()
        try:
            result = _check(data, suffix, name, eid, ent, cfg())
        except ConvoyOpsError as exc:
            return page(token, eid, ent, error=str(exc), status=422, nonce=nonce)
        notice = (
            f"已核查 / Checked {name}: {result.read} 人 listed, {result.cleared} 通过 cleared, "
            f"{result.attention} 需关注 need attention, {result.invalid} 信息有误 not checked "
            f"(#{result.check_id})."
        )
        return page(token, eid, ent, notice=notice, nonce=nonce)

    @app.get("/e/{token}/checks/{check_id}.{fmt}")
    def download(token: str, check_id: int, fmt: str) -> Response:
        from models.desk.staff import result_csv, result_rows, result_xlsx

        try:
            eid, ent = who(token)
        except LinkError as exc:
            return _link_error(exc)
        if fmt not in ("csv", "xlsx"):
            return _refusal(404, "The result sheet is there as .csv or .xlsx.")
        try:
            with acting_as(link(ent, eid), "api"), session_scope(cfg()) as session:
                rows = result_rows(session, check_id, eid, locale=_LOCALE)
        except NotFoundError as exc:
            return _refusal(404, str(exc))
        if fmt == "csv":
            data, media = result_csv(rows, _LOCALE), "text/csv; charset=utf-8"
        else:
            data = result_xlsx(rows, _LOCALE)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        disposition = f"attachment; filename=staff-check-{check_id}.{fmt}"
        return Response(data, media_type=media, headers={"Content-Disposition": disposition})


def _check(data: bytes, suffix: str, name: str, eid: int, ent: str, settings: Settings) -> Any:
    """Check an uploaded staff list as the enterprise's link (the file lives only meanwhile)."""
    from models.desk.staff import check_staff_list

    with tempfile.TemporaryDirectory(prefix="convoy-staff-") as folder:
        path = Path(folder) / f"staff{suffix}"
        path.write_bytes(data)
        with acting_as(link(ent, eid), "api"), session_scope(settings) as session:
            return check_staff_list(
                session, eid, path, channel="page", file_name=name, settings=settings
            )
