"""``convoy roster CODE``: a convoy's seat list as escorts hold it on paper (names and ID
numbers masked). ``flows.cli.main`` calls ``register(app)``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import JsonOpt, console, friendly, print_json
from models.db import session_scope


@friendly
def roster(
    code: Annotated[str, typer.Argument(help="The convoy code.")],
    json_out: JsonOpt = False,
) -> None:
    """The seat roster: seat, masked name and ID number, employer, custody state."""
    from models.intake.roster import seat_roster

    with session_scope() as session:
        rows = seat_roster(session, code)
    if json_out:
        print_json(rows)
        return
    t = Table("seat", "name", "ID number", "employer", "custody", title=f"{code}: seat roster")
    for r in rows:
        t.add_row(str(r["seat"]), r["name"], r["id_number"], r["employer"], r["custody"])
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``convoy roster`` to the ``convoy`` application."""
    app.command("roster")(roster)
