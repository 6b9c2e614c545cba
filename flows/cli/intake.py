"""CLI commands of manifest intake, pre-verification lists, entry follow-up and enterprise
registration. ``flows.cli.main`` calls ``register(app)`` to add them to ``convoy``:

* ``convoy manifest import CONVOY FILE``
* ``convoy registry add FILE`` / ``convoy registry list`` / ``convoy registry check CONVOY``
* ``convoy entry missing CONVOY``
* ``convoy enterprise code NAME`` / ``convoy enterprise link NAME`` /
  ``convoy enterprise draw NAME CONVOY``
* ``convoy serve-registration``

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

manifest_app = typer.Typer(help="Passenger manifests.", no_args_is_help=True)
registry_app = typer.Typer(help="Registry lists for batch pre-verification.", no_args_is_help=True)
entry_app = typer.Typer(help="Entry applications (入甬申请) during travel.", no_args_is_help=True)
enterprise_app = typer.Typer(help="Enterprises and their registration codes.", no_args_is_help=True)


@manifest_app.command("import")
@friendly
def manifest_import(
    convoy: Annotated[str, typer.Argument(help="The convoy code.")],
    file: Annotated[Path, typer.Argument(help="Manifest CSV (UTF-8 or GBK) or XLSX.")],
    json_out: JsonOpt = False,
) -> None:
    """Import a manifest: good rows are added, bad rows go to error files for fixing.
    Importing the same (or a corrected) file again is safe."""
    from models.intake.importer import import_manifest

    with session_scope() as session:
        report = import_manifest(session, convoy, file)
    if json_out:
        print_json(report.as_dict())
        return
    console.print(
        f"{file.name} → {report.convoy}: {report.read} row(s) read, {report.added} added, "
        f"{report.unchanged} already on the manifest, {report.rejected} rejected"
        + (f" ({report.blank} blank row(s) skipped)" if report.blank else "")
        + "."
    )
    if report.rejected:
        by = ", ".join(f"{k} {v}" for k, v in sorted(report.problems.items()))
        console.print(f"  problems by column: {by}")
        console.print(f"  error report: {report.errors_csv}\n                {report.errors_xlsx}")
        console.print(f"  rows for fixing (fix and import again): {report.for_fixing}")


@registry_app.command("add")
@friendly
def registry_add(
    file: Annotated[Path, typer.Argument(help="CSV/XLSX with id_number, category, reason.")],
) -> None:
    """Copy a registry list into the registry folder used by pre-verification."""
    from models.intake.verification import load_registry, registry_folder

    reg = load_registry([file])  # refuse unreadable lists now, not at departure
    folder = registry_folder(get_settings())
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(file, folder / file.name)
    console.print(
        f"Registry list {file.name}: {len(reg)} ID number(s)"
        + (f", {reg.bad_rows} row(s) without a usable ID skipped" if reg.bad_rows else "")
        + f"; kept in {folder}."
    )


@registry_app.command("list")
@friendly
def registry_list(json_out: JsonOpt = False) -> None:
    """The registry lists pre-verification uses, with their sizes."""
    from models.intake.verification import load_registry, registry_paths

    rows: list[dict[str, Any]] = []
    for p in registry_paths():
        reg = load_registry([p])
        rows.append({"file": str(p), "entries": len(reg), "bad_rows": reg.bad_rows})
    if json_out:
        print_json(rows)
        return
    t = Table("file", "entries", "bad rows")
    for r in rows:
        t.add_row(r["file"], str(r["entries"]), str(r["bad_rows"]))
    console.print(t)


@registry_app.command("check")
@friendly
def registry_check(
    convoy: Annotated[str, typer.Argument(help="The convoy code.")],
    json_out: JsonOpt = False,
) -> None:
    """Compare a convoy's manifest with the registry lists now (changes nothing; the convoy
    flow's pre-verification step holds the flagged passengers)."""
    from models.convoy.store import get_convoy
    from models.intake.verification import check_convoy

    with session_scope() as session:
        total, flagged = check_convoy(session, get_convoy(session, convoy))
    if json_out:
        print_json({"passengers": total, "flagged": flagged})
        return
    console.print(f"{convoy}: {total} passenger(s), {len(flagged)} flagged.")
    if flagged:
        t = Table("seat", "ID", "category", "reason", "list")
        for f in flagged:
            t.add_row(str(f["seat"]), f["id"], f["category"], f["reason"], f["source"])
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


@enterprise_app.command("code")
@friendly
def enterprise_code_cmd(
    name: Annotated[str, typer.Argument(help="The enterprise (exact or normalised name).")],
    days: Annotated[int | None, typer.Option(help="Days the link stays valid.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Public address of the registration form.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the enterprise's registration QR code (PNG and SVG) with its signed link."""
    from models.intake.registration import enterprise_code

    with session_scope() as session:
        code = enterprise_code(session, name, days=days, base_url=base_url)
    if json_out:
        print_json({"enterprise": code.enterprise, "url": code.url, "expires": code.expires,
               "png": str(code.png), "svg": str(code.svg)})  # fmt: skip
        return
    console.print(f"{code.enterprise}: registration link valid until {code.expires:%Y-%m-%d}")
    console.print(f"  {code.url}\n  QR code: {code.png}\n           {code.svg}")


@enterprise_app.command("link")
@friendly
def enterprise_link_cmd(
    name: Annotated[str, typer.Argument(help="The enterprise (exact or normalised name).")],
    days: Annotated[int | None, typer.Option(help="Days the link stays valid.")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Public address of the registration form.")
    ] = None,
) -> None:
    """The enterprise's own signed link: its registered workers, their versions, its handoffs."""
    from models.intake.registration import enterprise_link

    with session_scope() as session:
        url, expires = enterprise_link(session, name, days=days, base_url=base_url)
    console.print(f"{name}: its own page, valid until {expires:%Y-%m-%d} (give it to them only)")
    console.print(f"  {url}", highlight=False, soft_wrap=True)


@enterprise_app.command("draw")
@friendly
def enterprise_draw(
    name: Annotated[str, typer.Argument(help="The enterprise.")],
    convoy: Annotated[str, typer.Argument(help="The convoy whose manifest they join.")],
    limit: Annotated[int | None, typer.Option(help="At most this many workers.")] = None,
) -> None:
    """Put registered workers of an enterprise on a convoy's manifest."""
    from models.intake.registration import draw_manifest

    with session_scope() as session:
        r = draw_manifest(session, name, convoy, limit=limit)
    console.print(
        f"{name} → {convoy}: {r['added']} added, {r['already_on_manifest']} already there, "
        f"{r['riding_elsewhere']} riding another convoy, {r['left_in_pool']} left in the pool."
    )


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
    app.add_typer(enterprise_app, name="enterprise")
    app.command("serve-registration")(friendly(serve_registration))
