"""CLI commands of the enterprise service desk: ``convoy service log|list|take|resolve|pass``
(requests and consultations). The enterprise commands of the desk (``assign``, ``list``,
``show``, ``check``) are in ``flows.cli.enterprise``. ``flows.cli.main`` calls
``register(app)``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.db import session_scope

service_app = typer.Typer(
    help="The enterprise service desk: requests and consultations.", no_args_is_help=True
)

AtOpt = Annotated[
    str | None, typer.Option("--at", help="When it happened (default now), e.g. 2020-02-20 09:30.")
]


def _shown(r: dict[str, Any]) -> str:
    line = (
        f"{r['number']} {r['enterprise']}: {r['kind']} ({r['channel']}), {r['status']}, "
        f"due {r['due_at']}"
    )
    if r["officer"]:
        line += f", officer {r['officer']}"
    return line


@service_app.command("log")
@friendly
def service_log(
    enterprise: Annotated[str, typer.Option(help="The enterprise (exact or normalised name).")],
    kind: Annotated[
        str, typer.Option("--type", help="staff_return, vehicle_pass, policy_question or other.")
    ],
    text: Annotated[str, typer.Option(help="What the enterprise asks.")],
    channel: Annotated[str, typer.Option(help="phone or window.")] = "phone",
    contact: Annotated[str, typer.Option(help="Who asked.")] = "",
    phone: Annotated[str, typer.Option(help="Their mobile number (shown masked).")] = "",
    answer: Annotated[
        str | None, typer.Option(help="Answered on the spot: resolve it at once with this.")
    ] = None,
    officer: Annotated[
        str | None, typer.Option(help="Badge of the officer (default: the liaison officer).")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Count it in this campaign.")] = None,
    at: AtOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Log a request or consultation taken on the phone or at the window."""
    from models.desk.requests import log_request

    with session_scope() as session:
        req = log_request(
            session, enterprise, kind=kind, text=text, channel=channel, contact_name=contact,
            contact_phone=phone, answer=answer, officer=officer, at=parse_time(at),
            campaign=campaign,
        )  # fmt: skip
        row = _row(session, req)
    if json_out:
        print_json(row)
        return
    console.print(_shown(row), highlight=False)


def _row(session: Any, req: Any) -> dict[str, Any]:
    from models.convoy.tables import Enterprise, Escort
    from models.desk.requests import request_row

    ent = session.get(Enterprise, req.enterprise_id)
    officer = session.get(Escort, req.officer_id) if req.officer_id else None
    return request_row(req, ent.name if ent else "?", officer.badge if officer else None)


@service_app.command("list")
@friendly
def service_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only open or in-hand ones.")] = False,
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Requests and consultations, oldest first (contact phones masked)."""
    from models.desk.requests import list_requests

    with session_scope() as session:
        rows = list_requests(session, open_only=open_only, enterprise=enterprise)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("No requests.")
        return
    t = Table(title="Service desk requests")
    for c in ("number", "enterprise", "type", "via", "status", "raised", "due", "officer",
              "contact", "text"):  # fmt: skip
        t.add_column(c)
    for r in rows:
        t.add_row(
            r["number"], r["enterprise"], r["kind"], r["channel"], r["status"], r["raised_at"],
            r["due_at"], r["officer"] or "—", f"{r['contact']} {r['phone']}".strip(),
            r["text"][:60],
        )  # fmt: skip
    console.print(t)


@service_app.command("take")
@friendly
def service_take(
    number: Annotated[str, typer.Argument(help="The request number (FW-…).")],
    officer: Annotated[
        str | None, typer.Option(help="Badge of the officer (default: the liaison officer).")
    ] = None,
    at: AtOpt = None,
) -> None:
    """Take an open request in hand."""
    from models.desk.requests import take_request

    with session_scope() as session:
        row = _row(session, take_request(session, number, officer=officer, at=parse_time(at)))
    console.print(_shown(row), highlight=False)


@service_app.command("resolve")
@friendly
def service_resolve(
    number: Annotated[str, typer.Argument(help="The request number (FW-…).")],
    answer: Annotated[str, typer.Option(help="The answer given to the enterprise.")],
    at: AtOpt = None,
) -> None:
    """Resolve a request in hand, with the answer."""
    from models.desk.requests import resolve_request

    with session_scope() as session:
        row = _row(session, resolve_request(session, number, answer, at=parse_time(at)))
    same = "within" if row["same_day"] else "after"
    console.print(f"{_shown(row)} — resolved {same} the same-day target.", highlight=False)


@service_app.command("pass")
@friendly
def service_pass(
    number: Annotated[str, typer.Argument(help="The request number (FW-…).")],
    to: Annotated[str, typer.Option("--to", help="The office it is passed on to.")],
    note: Annotated[str, typer.Option(help="A note for the enterprise.")] = "",
    at: AtOpt = None,
) -> None:
    """Pass a request in hand on to another office."""
    from models.desk.requests import pass_on_request

    with session_scope() as session:
        row = _row(session, pass_on_request(session, number, to, note=note, at=parse_time(at)))
    console.print(f"{_shown(row)} — passed on to {row['passed_to']}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``convoy service …`` to the ``convoy`` application."""
    app.add_typer(service_app, name="service")
