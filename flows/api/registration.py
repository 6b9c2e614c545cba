"""The returning-worker registration form (HTTP, FastAPI) behind the enterprises' QR codes.

``GET /r/{token}`` shows the enterprise's form; ``POST /r/{token}`` validates it like the
manifest import and adds the worker to the enterprise's pool. Tampered links get 403, expired
ones 410, invalid forms 422 with the problems listed. Run it with
``convoy serve-registration`` or ``uvicorn flows.api.registration:create_app --factory``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from config import Settings, get_settings
from models.db import session_scope
from models.intake.identity import mask_id
from models.intake.manifest import LABELS
from models.intake.registration import (
    FORM_FIELDS,
    FormError,
    LinkError,
    enterprise_for,
    register_worker,
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


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _form(enterprise: str, values: dict[str, str], errors: dict[str, str]) -> str:
    rows = []
    for f in FORM_FIELDS:
        err = f"<div class='error'>{escape(errors[f])}</div>" if f in errors else ""
        value = "" if f == "id_number" and errors else values.get(f, "")
        rows.append(
            f"<p><label>{escape(LABELS[f])} ({f})<br><input name='{f}' "
            f"value='{escape(value)}' placeholder='{escape(_PLACEHOLDERS[f])}'></label>{err}</p>"
        )
    return (
        f"<p>{escape(enterprise)} — 返岗人员登记 / returning-worker registration</p>"
        f"<form method='post'>{''.join(rows)}<button type='submit'>提交 Submit</button></form>"
    )


def _link_error(exc: LinkError) -> HTMLResponse:
    return _page("链接无效 / Link refused", f"<p>{escape(str(exc))}</p>",
                 410 if exc.expired else 403)  # fmt: skip


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="Convoy Ops registration", docs_url=None, redoc_url=None)

    def cfg() -> Settings:
        return settings or get_settings()

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/r/{token}", response_class=HTMLResponse)
    def show(token: str) -> HTMLResponse:
        try:
            with session_scope(cfg()) as session:
                ent = enterprise_for(session, token, cfg())
                name = ent.name
        except LinkError as exc:
            return _link_error(exc)
        return _page("返岗人员登记", _form(name, {}, {}))

    @app.post("/r/{token}", response_class=HTMLResponse)
    async def submit(token: str, request: Request) -> HTMLResponse:
        body = (await request.body()).decode("utf-8", errors="replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        try:
            with session_scope(cfg()) as session:
                reg, created = register_worker(session, token, form, cfg())
                ent_name = enterprise_for(session, token, cfg()).name
                masked = mask_id(reg.id_number)
        except LinkError as exc:
            return _link_error(exc)
        except FormError as exc:
            with session_scope(cfg()) as session:
                ent_name = enterprise_for(session, token, cfg()).name
            errors = {p.column: p.reason for p in exc.problems}
            return _page("请更正 / Please correct", _form(ent_name, form, errors), 422)
        what = "登记成功 / Registered" if created else "已更新 / Updated"
        return _page(what, f"<p>{escape(ent_name)}: {escape(masked)}</p>")

    return app
