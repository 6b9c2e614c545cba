"""CLI commands of escorts: ``convoy escort link BADGE`` prints an escort's personal, signed
link to their phone page (``flows.api.field``). ``flows.cli.main`` calls ``register(app)``."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import JsonOpt, console, friendly, print_json
from models.db import session_scope

escort_app = typer.Typer(help="Escorts: their personal links to the phone page.",
                         no_args_is_help=True)  # fmt: skip


@escort_app.command("link")
@friendly
def escort_link_cmd(
    badge: Annotated[str, typer.Argument(help="The escort's badge (police number).")],
    days: Annotated[int | None, typer.Option(help="Days the link stays valid.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The escort's personal link to their phone page (their convoys, the roster, the forms
    of each step, offline): whoever holds it acts as the escort, so give it to them only."""
    from models.access.escort_links import escort_link
    from models.access.users import require
    from models.convoy.store import get_escort

    with session_scope() as session:
        require(session, "device.write")  # like binding a tracker to the escort
        escort = get_escort(session, badge)
        url, expires = escort_link(escort, days=days)
    if json_out:
        print_json({"escort": escort.badge, "url": url, "expires": expires.isoformat()})
        return
    console.print(
        f"{escort.badge} {escort.name}: phone page, valid until {expires:%Y-%m-%d} "
        "(give it to them only)"
    )
    console.print(f"  {url}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``convoy escort …`` to the ``convoy`` application."""
    app.add_typer(escort_app, name="escort")
