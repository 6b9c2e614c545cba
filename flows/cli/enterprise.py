"""CLI commands of enterprises: ``convoy enterprise import FILE``, ``convoy enterprise code
NAME`` (registration QR code), ``convoy enterprise link NAME`` (its own page), ``convoy
enterprise draw NAME CONVOY`` (registered workers → manifest). ``flows.cli.main`` calls
``register(app)``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import JsonOpt, console, friendly, print_json
from models.db import session_scope

enterprise_app = typer.Typer(
    help="Enterprises: the list, registration codes, drawing workers.", no_args_is_help=True
)


@enterprise_app.command("import")
@friendly
def enterprise_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/XLSX: 企业名称/name, 所在区县/district, 地址, 联系人, 联系电话, 通知."
        ),
    ],
    within: Annotated[
        str | None,
        typer.Option(help="Resolve districts in this city first (default: the campaign's)."),
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="The campaign whose destination city is the default.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create or update the enterprises of a list (again with the same list: nothing changes);
    warns about names that differ only in width, punctuation or legal-form suffix."""
    from models.intake.enterprises import campaign_city, import_enterprises

    with session_scope() as session:
        city = within or campaign_city(session, campaign)
        r = import_enterprises(session, file, within=city)
    if json_out:
        print_json(r.as_dict())
        return
    console.print(
        f"{file.name} (header on row {r.header_row}; districts within {r.within or 'anywhere'}): "
        f"{r.read} enterprise(s) read, {r.added} added, {r.updated} updated, {r.unchanged} "
        f"unchanged, {r.rejected} rejected."
    )
    for p in r.problems:
        console.print(f"  row {p['row']} {p['name']}: {p['reason']}", highlight=False)
    for w in r.collisions:
        console.print(f"  [yellow]warning:[/yellow] {w}", highlight=False)


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


def register(app: typer.Typer) -> None:
    """Add ``convoy enterprise …`` to the ``convoy`` application."""
    app.add_typer(enterprise_app, name="enterprise")
