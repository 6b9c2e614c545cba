"""CLI commands of manifest intake, pre-verification lists, entry follow-up and enterprise
registration. ``flows.cli.main`` calls ``register(app)`` to add them to ``convoy``:

* ``convoy manifest import CONVOY FILE``
* ``convoy registry add FILE`` / ``convoy registry list`` /
  ``convoy registry check CONVOY`` / ``convoy registry check --all``
* ``convoy entry missing CONVOY``
* ``convoy serve-registration``

(enterprises: ``flows.cli.enterprise``; the seat roster: ``flows.cli.roster``)

Thin: every command calls one library function and turns its errors into one red line and
exit code 1.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from config import get_settings
from flows.cli.common import JsonOpt, console, friendly, print_json
from models.db import session_scope
from models.errors import ValidationError

manifest_app = typer.Typer(help="Passenger manifests.", no_args_is_help=True)
registry_app = typer.Typer(help="Registry lists for batch pre-verification.", no_args_is_help=True)
entry_app = typer.Typer(help="Entry applications (入甬申请) during travel.", no_args_is_help=True)


@manifest_app.command("import")
@friendly
def manifest_import(
    convoy: Annotated[str, typer.Argument(help="The convoy code.")],
    file: Annotated[Path, typer.Argument(help="Manifest CSV (UTF-8 or GBK) or XLSX.")],
    json_out: JsonOpt = False,
) -> None:
    """Import a manifest: good rows are added at their seats, rows with warnings are added and
    flagged, rejected rows go to a file for fixing. Importing the same (or a corrected) file
    again is safe."""
    from models.intake.importer import import_manifest

    with session_scope() as session:
        report = import_manifest(session, convoy, file)
    if json_out:
        print_json(report.as_dict())
        return
    console.print(
        f"{file.name} → {report.convoy} (header on row {report.header_row}): {report.read} "
        f"row(s) read, {report.added} added, {report.already} already on the manifest, "
        f"{report.rejected} rejected"
        + (f" ({report.conflicts} conflicting with the manifest)" if report.conflicts else "")
        + (f", {report.warnings} imported with warnings" if report.warnings else "")
        + (f"; {report.blank} blank row(s) skipped" if report.blank else "")
        + "."
    )
    if report.reasons:
        console.print(f"  rejected: {_counts(report.reasons)}")
    if report.warning_reasons:
        console.print(f"  warnings: {_counts(report.warning_reasons)}")
    if report.unknown_columns:
        console.print(f"  columns kept as extra data: {', '.join(report.unknown_columns[:12])}")
    if report.file_of("errors_xlsx"):
        console.print(
            f"  report (values masked): {report.file_of('errors_xlsx')}"
            + "".join(f"\n                          {report.file_of(k)}"
                      for k in ("errors_csv", "warnings_csv") if report.file_of(k))
        )  # fmt: skip
    if report.file_of("for_fixing"):
        console.print(
            f"  rows for fixing (full personal data, owner-only; fix and import again): "
            f"{report.file_of('for_fixing')}"
        )


def _counts(counter: Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1]))


@registry_app.command("add")
@friendly
def registry_add(
    file: Annotated[Path, typer.Argument(help="CSV/XLSX with id_number, category, reason.")],
) -> None:
    """Copy a registry list into the registry folder used by pre-verification, and store its
    entries for campaign-wide checks."""
    from models.intake.registry_store import sync_registry
    from models.intake.verification import Registry, registry_folder

    stats = Registry().add_file(file)  # refuse unreadable lists now, not at departure
    if stats.lines == 0:
        raise ValidationError(f"The registry list {file.name} has a header but no entries.")
    folder = registry_folder(get_settings())
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(file, folder / file.name)
    with session_scope() as session:
        sync_registry(session)
    console.print(f"Registry list {stats.describe()}; kept in {folder}.")


@registry_app.command("list")
@friendly
def registry_list(json_out: JsonOpt = False) -> None:
    """The registry lists pre-verification uses, with their sizes and repeated IDs."""
    from models.intake.registry_store import stored_lists, sync_registry

    with session_scope() as session:
        sync_registry(session)
        rows = stored_lists(session)
    if json_out:
        print_json(rows)
        return
    t = Table("file", "entries", "lines", "repeated IDs", "other category", "bad rows")
    for r in rows:
        t.add_row(r["file"], *(str(r[k]) for k in
                  ("entries", "lines", "repeated", "conflicting", "bad_rows")))  # fmt: skip
    console.print(t)


@registry_app.command("check")
@friendly
def registry_check(
    convoy: Annotated[str | None, typer.Argument(help="The convoy code.")] = None,
    all_convoys: Annotated[
        bool, typer.Option("--all", help="Every convoy that is not closed, in one query.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Compare manifests with the registry lists now (changes nothing; the convoy flow's
    pre-verification step holds the flagged passengers)."""
    from models.convoy.store import get_convoy
    from models.intake.registry_store import check_stored

    if (convoy is None) == (not all_convoys):
        raise ValidationError("Give a convoy code or --all (not both).")
    with session_scope() as session:
        if convoy is not None:
            get_convoy(session, convoy)  # a clear error for an unknown code
        results = check_stored(session, None if all_convoys else [convoy or ""])
    if convoy is not None:
        r = results[0]
        if json_out:
            print_json({"passengers": r.checked, "flagged": r.flagged})
            return
        console.print(f"{convoy}: {r.checked} passenger(s), {len(r.flagged)} flagged.")
    else:
        checked, flagged = sum(r.checked for r in results), sum(len(r.flagged) for r in results)
        if json_out:
            print_json({"checked": checked, "flagged": flagged, "convoys": [
                {"code": r.code, "checked": r.checked, "flagged": len(r.flagged)}
                for r in results]})  # fmt: skip
            return
        console.print(f"{len(results)} convoy(s), {checked} passenger(s), {flagged} flagged.")
    rows = [(r.code, f) for r in results for f in r.flagged]
    if rows:
        t = Table("convoy", "seat", "ID", "category", "reason", "list")
        for code, f in rows:
            t.add_row(code, str(f["seat"]), f["id"], f["category"], f["reason"], f["source"])
        console.print(t)


@entry_app.command("missing")
@friendly
def entry_missing(
    convoy: Annotated[str, typer.Argument(help="The convoy code.")],
    json_out: JsonOpt = False,
) -> None:
    """Who still has no entry application / health-code enrolment (the escorts' call list)."""
    from models.convoy.screening import entry_followup
    from models.convoy.store import get_convoy

    with session_scope() as session:
        rows = entry_followup(session, get_convoy(session, convoy).id or 0)
    if json_out:
        print_json(rows)
        return
    console.print(f"{convoy}: {len(rows)} passenger(s) without an entry application.")
    if rows:
        t = Table("seat", "name", "phone", "employer")
        for r in rows:
            t.add_row(str(r["seat"]), r["name"], r["phone"], r["employer"])
        console.print(t)


def serve_registration(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Serve the enterprises' registration form (the links in their QR codes)."""
    import uvicorn

    from flows.api.registration import create_app
    from models.db import init_db

    s = get_settings()
    init_db(s)
    uvicorn.run(create_app(), host=host or s.registration_host, port=port or s.registration_port)


def register(app: typer.Typer) -> None:
    """Add the intake commands to the ``convoy`` application."""
    app.add_typer(manifest_app, name="manifest")
    app.add_typer(registry_app, name="registry")
    app.add_typer(entry_app, name="entry")
    app.command("serve-registration")(friendly(serve_registration))
