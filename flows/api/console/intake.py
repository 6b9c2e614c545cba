"""Uploads in the console (coordinators only): a convoy's manifest or the enterprise list, read
with the same import as the CLI; the error report shown on the page (masked) and the report files
and the file for fixing (full personal data) to download."""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from config import Settings
from flows.api.console.guard import Who, need, who, writer
from flows.api.console.render import SECURITY_HEADERS, Pages
from models.errors import NotFoundError, ValidationError

SUFFIXES = (".csv", ".xlsx", ".xlsm")
SHOWN_ROWS = 200  # report lines shown on the page; the files hold them all
_REPORT = re.compile(r"[\w\-]+\.(errors\.csv|errors\.xlsx|warnings\.csv|for-fixing\.(csv|xlsx))")


def _stem(filename: str) -> tuple[str, str]:
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValidationError("Upload a CSV or XLSX file (.csv, .xlsx).")
    stem = re.sub(r"[^\w\-]+", "-", Path(name).stem).strip("-")[:80] or "upload"
    return stem, suffix


def _saved(upload: Any) -> tuple[Path, Path]:
    """The upload in a private temporary folder (removed after the import)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationError("Choose a file to upload.")
    stem, suffix = _stem(upload.filename)
    folder = Path(tempfile.mkdtemp(prefix="convoy-upload-"))
    path = folder / f"{stem}{suffix}"
    with path.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh)
    return folder, path


def _report_lines(path: Path | None) -> list[dict[str, str]]:
    if path is None or not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [row for _, row in zip(range(SHOWN_ROWS), csv.DictReader(fh), strict=False)]


def _convoys(w: Who, settings: Settings) -> list[str]:
    from models.convoy.lifecycle import Stage
    from models.convoy.store import list_convoys

    with w.acting(settings) as session:
        return [c.code for c in list_convoys(session) if c.stage == Stage.PLANNED.value]


def register(app: FastAPI, settings: Settings, pages: Pages) -> None:
    def page(w: Who, status: int = 200, **result: Any) -> Response:
        return pages.render("intake.html", status, ctx=w, convoys=_convoys(w, settings), **result)

    @app.get("/intake", response_class=HTMLResponse)
    def intake_page(request: Request) -> Response:
        w = who(request, settings)
        need(w, "manifest.import")
        return page(w)

    @app.post("/intake/manifest", response_class=HTMLResponse)
    async def upload_manifest(request: Request) -> Response:
        w, form = await writer(request, settings, "manifest.import")
        code = str(form.get("convoy") or "").strip()

        def run() -> dict[str, Any]:
            from models.intake.importer import import_manifest

            folder, path = _saved(form.get("file"))
            try:
                with w.acting(settings) as session:
                    report = import_manifest(session, code, path, settings=settings)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            files = {k: p.name for k, p in report.files.items() if p is not None}
            return {
                "manifest": report.as_dict(),
                "files": files,
                "code": report.convoy,
                "errors": _report_lines(report.file_of("errors_csv")),
                "warnings": _report_lines(report.file_of("warnings_csv")),
            }

        return page(w, **await run_in_threadpool(run))

    @app.post("/intake/enterprises", response_class=HTMLResponse)
    async def upload_enterprises(request: Request) -> Response:
        w, form = await writer(request, settings, "plan.write")

        def run() -> dict[str, Any]:
            from models.intake.enterprises import campaign_city, import_enterprises

            folder, path = _saved(form.get("file"))
            try:
                with w.acting(settings) as session:
                    city = campaign_city(session, None)
                    return {"enterprises": import_enterprises(session, path, within=city).as_dict()}
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return page(w, **await run_in_threadpool(run))

    @app.get("/intake/files/{code}/{name}")
    def report_file(request: Request, code: str, name: str) -> Response:
        """A report file of a convoy's last import; the for-fixing file holds full personal
        data, so only a role that may import manifests gets it."""
        from models.convoy.store import get_convoy

        w = who(request, settings)
        need(w, "manifest.import")
        with w.acting(settings) as session:
            code = get_convoy(session, code).code
        folder = (settings.output_dir / "intake" / code).resolve()
        target = (folder / name).resolve()
        if not _REPORT.fullmatch(name) or target.parent != folder or not target.is_file():
            raise NotFoundError(f"There is no report file {name!r} for convoy {code}.")
        return FileResponse(target, filename=name, headers=SECURITY_HEADERS)
