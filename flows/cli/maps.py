"""The ``convoy map`` command: ``convoy map CODE``, ``convoy map --campaign NAME`` (HTML under
``output_dir/maps``), ``--png`` and ``--inline``. The map files themselves are written by
:mod:`maps.files`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.common import JsonOpt, console, friendly, print_json
from maps.files import save_campaign_map, save_convoy_map, save_png
from models.errors import ValidationError

if TYPE_CHECKING:
    from maps.offline import OfflineMode

__all__ = ["map_command", "register"]


@friendly
def map_command(
    code: Annotated[str | None, typer.Argument(help="Convoy code, e.g. BUS-PC-01.")] = None,
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Draw the overview of this campaign.")
    ] = None,
    png: Annotated[bool, typer.Option("--png", help="Also write a PNG screenshot.")] = False,
    inline: Annotated[
        bool,
        typer.Option("--inline", help="One self-contained HTML file (no shared assets folder)."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default: output/maps/).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a convoy's route map (CODE) or a campaign's operations overview (--campaign),
    offline HTML under the output folder; --png adds a screenshot."""
    if (code is None) == (campaign is None):
        raise ValidationError(
            "Name either a convoy code (convoy map CODE) or a campaign (convoy map --campaign "
            "NAME), not both and not neither."
        )
    mode: OfflineMode = "inline" if inline else "folder"
    if code is not None:
        html = save_convoy_map(code, path=out, mode=mode)
    else:
        assert campaign is not None
        html = save_campaign_map(campaign, path=out, mode=mode)
    files = {"html": str(html)}
    if png:
        files["png"] = str(save_png(html))
    if json_out:
        print_json(files)
        return
    for kind, path in files.items():
        console.print(f"{kind}: {path}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``convoy map`` to the ``convoy`` app."""
    app.command("map")(map_command)
