"""``convoy campaign simulate`` (a whole operation like the model case, generated and run) and
the campaign report's outputs (``convoy report --html/--xlsx/--csv/--json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flows.cli.common import JsonOpt, console, friendly, print_json
from models.errors import ValidationError

__all__ = ["register", "show_report", "write_report_files"]

campaign_app = typer.Typer(help="Whole campaigns: simulate one like the model operation.",
                           no_args_is_help=True)  # fmt: skip


def _maps(report: dict[str, Any], name: str | None) -> dict[str, Path]:
    """The map files already written for the campaign (overview first), by title."""
    from config import get_settings
    from models.labels import label

    folder = get_settings().output_dir / "maps"
    loc = report["locale"]
    out: dict[str, Path] = {}
    if name:
        from maps.files import campaign_file_name

        overview = folder / campaign_file_name(name)
        if overview.exists():
            out[label("report", "overview_map", loc)] = overview
    for code in report.get("convoys", []):
        p = folder / f"{code}.html"
        if p.exists():
            out[code] = p
    return out


def build_report(name: str | None) -> dict[str, Any]:
    from models.convoy.store import list_convoys
    from models.db import session_scope
    from models.views.report_sections import campaign_report

    with session_scope() as session:
        report = campaign_report(session, name)
        report["convoys"] = [c.code for c in list_convoys(session, name)]
    return report


def write_report_files(
    report: dict[str, Any],
    name: str | None,
    *,
    html: Path | None = None,
    xlsx: Path | None = None,
    csv: Path | None = None,
    json_file: Path | None = None,
) -> dict[str, Path]:
    """Write the asked formats; returns format → file."""
    from models.db import utcnow
    from models.views.report_render import write_csv, write_xlsx

    done: dict[str, Path] = {}
    for target in (html, xlsx, csv, json_file):
        if target is not None and target.is_dir():
            raise ValidationError(f"{target} is a folder; give a file name for the report.")
    if html is not None:
        from models.views.report_html import write_html

        done["html"] = write_html(report, html, maps=_maps(report, name), generated=utcnow())
    if xlsx is not None:
        done["xlsx"] = write_xlsx(report, xlsx)
    if csv is not None:
        done["csv"] = write_csv(report, csv)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        json_file.write_text(
            json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", "utf-8"
        )
        done["json"] = json_file
    return done


def show_report(report: dict[str, Any]) -> None:
    """The report as one terminal table, section by section."""
    from rich.table import Table

    from models.labels import label
    from models.views.report_render import show

    loc = report["locale"]
    t = Table(title=label("report", "title", loc, campaign=report["campaign"]))
    t.add_column(label("report", "figure", loc))
    t.add_column(label("report", "value", loc), justify="right")
    for s in report["sections"]:
        if not s["rows"]:
            continue
        t.add_row(f"[bold]{s['title']}[/bold]", "", end_section=False)
        for r in s["rows"]:
            t.add_row(f"  {r['label']}", show(r["value"], r["unit"]))
    console.print(t)


@campaign_app.command("simulate")
@friendly
def simulate(
    scale: Annotated[
        float,
        typer.Option(help="1 = the model operation (43 trips, ~20,000 workers); 10 = ten times."),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Same seed, same operation, same figures.")] = 2020,
    name: Annotated[
        str | None, typer.Option(help="Campaign name (default from scale and seed).")
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Convoy flows running at the same time.")
    ] = 6,
    speed: Annotated[
        float, typer.Option(help="Simulated escorts' speed (field s per real s; 0 = no waiting).")
    ] = 0.0,
    max_wait: Annotated[
        float, typer.Option(help="Give up on a convoy waiting this many seconds for a report.")
    ] = 1800.0,
    passes: Annotated[
        bool,
        typer.Option(
            help="Also carry the vehicle passes (7,092 × scale) through the permit workflow."
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Generate an operation like the model case, import its manifests through the real import,
    run every convoy flow through Prefect with simulated escorts to closed, and write the maps
    and the report (HTML, XLSX, CSV, JSON) into var/campaigns/NAME/."""
    import os

    # Hundreds of convoy flows can put the temporary Prefect server behind (it answers 503):
    # the client tries again for longer before it gives up.
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "12")
    from flows.sim.campaign import plan_campaign
    from flows.sim.campaign_run import simulate as run_simulation

    plan = plan_campaign(scale, seed, name)
    if not json_out:
        people = sum(t.size for t in plan.trips)
        console.print(
            f"Campaign [bold]{plan.name}[/bold]: {len(plan.trips)} trips from "
            f"{len({t.origin.place for t in plan.trips})} places in {len(plan.provinces)} "
            f"provinces, about {people:,} workers, {len(plan.escorts)} officers, "
            f"{len(plan.enterprises)} enterprises. Importing the manifests and running the "
            f"{len(plan.trips)} convoy flows, {concurrency} at a time, each once its manifest "
            "is in…",
            highlight=False,
        )

    def loaded_(loaded: Any) -> None:
        if json_out:
            return
        totals = loaded.totals()
        console.print(
            f"  imported {totals['imported']:,} of {totals['read']:,} rows "
            f"({totals['rejected']:,} rejected, {totals['warnings']:,} with warnings) "
            f"for {len(loaded.codes)} convoys",
            highlight=False,
        )

    done = run_simulation(
        plan,
        concurrency=concurrency,
        speed=speed,
        max_wait=max_wait,
        passes=passes,
        on_loaded=loaded_,
    )
    if json_out:
        print_json({"campaign": plan.name, "folder": str(done.loaded.folder),
                    "imports": done.loaded.totals(), "convoys": len(done.results),
                    "not_closed": done.not_closed, "overview": str(done.overview),
                    "files": {k: str(v) for k, v in done.files.items()},
                    "figures": done.report["figures"]})  # fmt: skip
    else:
        show_report(done.report)
        console.print(f"  operations overview: {done.overview}", highlight=False)
        for kind, path in done.files.items():
            console.print(f"  report ({kind}): {path}", highlight=False)
    if done.not_closed:
        raise ValidationError(
            f"{len(done.not_closed)} convoy(s) did not close ({', '.join(done.not_closed[:5])}); "
            "run the command again to resume them."
        )


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")
