"""CLI commands of enterprises: ``convoy enterprise import FILE``, ``convoy enterprise code
NAME`` (registration QR code), ``convoy enterprise link NAME`` (its own page), ``convoy
enterprise draw NAME CONVOY`` (registered workers → manifest), and the service desk's
``convoy enterprise assign|list|show|check`` (liaison officers, batch staff checks).
``flows.cli.main`` calls ``register(app)``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

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


# -- the enterprise service desk (issue 16) ------------------------------------------------------


def _officer(view: dict[str, Any] | None) -> str:
    return f"{view['badge']} {view['name']} ({view['unit']}) {view['phone']}" if view else "—"


@enterprise_app.command("assign")
@friendly
def enterprise_assign(
    name: Annotated[str, typer.Argument(help="The enterprise (exact or normalised name).")],
    officer: Annotated[str, typer.Option(help="Badge of the responsible liaison officer.")],
    deputy: Annotated[str | None, typer.Option(help="Badge of a deputy (optional).")] = None,
) -> None:
    """Make one officer responsible for the enterprise (一对一负责): its requests and its
    arrival notices go to them (and the deputy)."""
    from models.desk.liaison import assign_liaison, liaison_view

    with session_scope() as session:
        link = assign_liaison(session, name, officer, deputy)
        view = liaison_view(session, link.enterprise_id)
    console.print(f"{name}: liaison officer {_officer(view['officer'])}", highlight=False)
    if view["deputy"]:
        console.print(f"  deputy {_officer(view['deputy'])}", highlight=False)


@enterprise_app.command("list")
@friendly
def enterprise_list(json_out: JsonOpt = False) -> None:
    """Every enterprise with its district, contact (masked) and liaison officer."""
    from models.desk.liaison import enterprise_rows

    with session_scope() as session:
        rows = enterprise_rows(session)
    if json_out:
        print_json(rows)
        return
    t = Table(title="Enterprises")
    for c in ("enterprise", "district", "contact", "liaison officer", "deputy"):
        t.add_column(c)
    for r in rows:
        t.add_row(
            r["name"], r["district"] or "—", f"{r['contact']} {r['phone']}".strip() or "—",
            _officer(r["officer"]), _officer(r["deputy"]),
        )  # fmt: skip
    console.print(t)


@enterprise_app.command("show")
@friendly
def enterprise_show(
    name: Annotated[str, typer.Argument(help="The enterprise (exact or normalised name).")],
    json_out: JsonOpt = False,
) -> None:
    """One enterprise: contact, liaison officer, its requests and staff checks."""
    from models.desk.liaison import liaison_view
    from models.desk.lookup import get_enterprise
    from models.desk.requests import list_requests
    from models.desk.staff import list_checks
    from models.intake.identity import mask_phone

    with session_scope() as session:
        ent = get_enterprise(session, name)
        eid = ent.id or 0
        data = {
            "name": ent.name, "district": ent.district, "address": ent.address,
            "contact": ent.contact_name, "phone": mask_phone(ent.contact_phone),
            **liaison_view(session, eid),
            "requests": list_requests(session, enterprise_id=eid),
            "staff_checks": list_checks(session, eid),
        }  # fmt: skip
    if json_out:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/bold] {data['district']} {data['address']}")
    console.print(f"  contact: {data['contact']} {data['phone']}", highlight=False)
    console.print(f"  liaison officer: {_officer(data['officer'])}", highlight=False)
    console.print(f"  deputy: {_officer(data['deputy'])}", highlight=False)
    console.print(f"  requests: {len(data['requests'])}")
    for r in data["requests"]:
        console.print(
            f"    {r['number']} {r['kind']} {r['status']} raised {r['raised_at']} "
            f"due {r['due_at']}", highlight=False,
        )  # fmt: skip
    console.print(f"  staff checks: {len(data['staff_checks'])}")
    for c in data["staff_checks"]:
        console.print(
            f"    #{c['check']} {c['at']} {c['file']}: {c['read']} read, {c['cleared']} "
            f"cleared, {c['attention']} need attention, {c['invalid']} not checkable",
            highlight=False,
        )


@enterprise_app.command("check")
@friendly
def enterprise_check(
    name: Annotated[str, typer.Argument(help="The enterprise (exact or normalised name).")],
    file: Annotated[
        Path, typer.Argument(help="Its staff list (CSV/XLSX): 姓名/name, 身份证号/id_number.")
    ],
    campaign: Annotated[str | None, typer.Option(help="Count it in this campaign.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check an enterprise's list of returning staff against the registry lists and the
    active convoys, in bulk; writes the masked result sheet (CSV and XLSX) to give back."""
    from config import get_settings
    from models.desk.lookup import get_enterprise
    from models.desk.staff import check_staff_list, write_result

    with session_scope() as session:
        ent = get_enterprise(session, name)
        r = check_staff_list(session, ent.id or 0, file, channel="cli", campaign=campaign)
        csv_path, xlsx_path = write_result(session, r.check_id, get_settings().output_dir / "desk")
    if json_out:
        print_json({**r.as_dict(), "result_csv": str(csv_path), "result_xlsx": str(xlsx_path)})
        return
    console.print(
        f"{r.enterprise}, {file.name}: {r.read} listed, {r.cleared} cleared, {r.attention} "
        f"need attention, {r.invalid} not checkable (check #{r.check_id}).", highlight=False,
    )  # fmt: skip
    for reason, n in r.by_reason.items():
        console.print(f"  {reason}: {n}", highlight=False)
    console.print(f"  result sheet (masked): {csv_path}\n                         {xlsx_path}")


def register(app: typer.Typer) -> None:
    """Add ``convoy enterprise …`` to the ``convoy`` application."""
    app.add_typer(enterprise_app, name="enterprise")
