"""The ``convoy`` command: a thin layer over the library. Errors become one clear line and a
non-zero exit code, never a traceback."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import flows  # noqa: F401  (prepares the Prefect environment before Prefect is imported)
from config import get_settings
from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.errors import ValidationError

if TYPE_CHECKING:
    from rich.table import Table

app = typer.Typer(
    name="convoy",
    help="Convoy Ops: orchestrated, auditable convoy escort operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
@friendly
def _start() -> None:
    """Convoy Ops: orchestrated, auditable convoy escort operations."""
    get_settings()  # a wrong setting or rule file is one clear line before any command runs


def _seats(text: str | None) -> list[int]:
    if not text:
        return []
    out: list[int] = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out += list(range(int(a), int(b) + 1))
        elif part.isdigit():
            out.append(int(part))
        else:
            raise ValidationError(f"{part!r} is not a seat number or a range like 3-7.")
    return out


@app.command()
@friendly
def init() -> None:
    """Create the database and the output folder (safe to run again)."""
    from models.db import init_db

    s = get_settings()
    init_db(s)
    s.output_dir.mkdir(parents=True, exist_ok=True)
    from models.dbapi import shown_url

    console.print(f"Database ready: {shown_url(s.db_url)}\nOutputs go to: {s.output_dir}")


def _short(place: str) -> str:
    """'陕西省渭南市蒲城县' → '蒲城县' (the last division or the place itself)."""
    for marker in ("自治州", "地区", "盟", "省", "市", "区", "县"):
        if marker in place[:-1]:
            place = place[place.rindex(marker, 0, len(place) - 1) + len(marker) :] or place
    return place


def summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    from rich.table import Table

    t = Table(title=title)
    right = ("passengers", "handed off", "held", "withdrawn", "late")
    for col in ("convoy", "mode", "from → to", "stage", *right[:4],
                "planned arrival", "actual arrival", "late"):  # fmt: skip
        t.add_column(col, justify="right" if col in right else "left")
    for r in rows:
        late = "" if r["late_minutes"] is None else f"{r['late_minutes']:+d} min"
        t.add_row(
            r["code"], r["mode"], f"{_short(r['origin'])} → {_short(r['destination'])}",
            r["stage"], str(r["passengers"]), str(r["handed_off"]), str(r["held"]),
            str(r["withdrawn"]), r["planned_arrival"][5:], r["actual_arrival"][5:], late,
        )  # fmt: skip
    return t


@app.command()
@friendly
def demo(
    speed: Annotated[
        float, typer.Option(help="Field seconds per real second for the simulated escorts.")
    ] = 20000.0,
    json_out: JsonOpt = False,
) -> None:
    """Run the demo campaign end to end with simulated escorts.

    Builds the demo campaign, runs every convoy flow to the end, prints the summary and the
    campaign figures, and writes one route map per convoy.
    """
    from flows.campaign import campaign_flow
    from flows.sim.demo import CAMPAIGN, build_demo
    from flows.sim.escorts import simulated_escorts
    from models.db import session_scope

    with session_scope() as session:
        codes = build_demo(session)
    if not json_out:
        console.print(f"Demo campaign [bold]{CAMPAIGN}[/bold]: {len(codes)} convoys. Running…")
    with simulated_escorts(codes, speed=speed):
        results = campaign_flow(CAMPAIGN, codes, poll_seconds=0.1, max_wait_seconds=600)
    if json_out:
        print_json(results)
        return
    from maps.files import save_campaign_map

    overview = save_campaign_map(CAMPAIGN)
    console.print(summary_table(results, f"{CAMPAIGN}: convoys"))
    for r in results:
        console.print(f"  map {r['code']}: {r['map']}")
    console.print(f"  operations overview: {overview}")
    from flows.cli.campaign import build_report, show_report

    show_report(build_report(CAMPAIGN))


@app.command()
@friendly
def plan(file: Annotated[Path, typer.Argument(help="A convoy plan in YAML.")]) -> None:
    """Load convoy plans (campaign, enterprises, escorts, convoys, manifests) from YAML."""
    from models.db import session_scope
    from models.intake.plans import load_plan

    with session_scope() as session:
        result = load_plan(session, file)
    console.print(
        f"Loaded {len(result.convoys)} convoy(s) ({', '.join(result.convoys) or '—'}), "
        f"{result.enterprises} enterprise(s), {result.escorts} escort(s); "
        f"{result.passengers_added} passenger(s) added, {result.passengers_rejected} rejected."
    )
    for f in result.rejection_files:
        console.print(f"  rejected rows: {f}")
    for w in result.warnings:
        console.print(f"  warning: {w}", highlight=False)


@app.command()
@friendly
def convoys(
    code: Annotated[str | None, typer.Argument(help="Show one convoy in detail.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List convoys, or show one."""
    from models.dbapi import reading
    from models.views.summaries import convoy_summaries

    with reading() as read:  # no ORM: listing is the command people run most
        rows = convoy_summaries(read, code=code, campaign=None if code else campaign)
    if json_out:
        print_json(rows[0] if code else rows)
    elif code:
        _show(rows[0])
    else:
        console.print(summary_table(rows, "Convoys"))


def _show(s: dict[str, Any]) -> None:
    console.print(
        f"[bold]{s['code']}[/bold] {s['mode']} {s['vehicle']}: {s['origin']} → {s['destination']}"
    )
    console.print(
        f"stage {s['stage']}; planned {s['planned_departure']} → {s['planned_arrival']}"
        f"; actual {s['actual_departure'] or '—'} → {s['actual_arrival'] or '—'}"
    )
    from rich.table import Table

    from models.views.summaries import stage_details

    t = Table("stage", "at", "details")
    for st in s["stages"]:
        t.add_row(st["label"], st["at"], stage_details(st))
    console.print(t)


@app.command()
@friendly
def status(code: str, json_out: JsonOpt = False) -> None:
    """Stage and custody counts of a convoy, and what it waits for."""
    from models.db import session_scope
    from models.views.reports import convoy_status

    with session_scope() as session:
        s = convoy_status(session, code)
    if json_out:
        print_json({k: v for k, v in s.items() if k != "stages"})
        return
    console.print(
        f"[bold]{code}[/bold]: stage {s['stage']}"
        + (f", next {s['next_step']}" if s["next_step"] else "")
        + (f" (waits for the {s['waiting_for']} check-in)" if s["waiting_for"] else "")
        + (", which has arrived" if s["checkin_received"] else "")
    )
    from rich.table import Table

    t = Table("custody", "passengers")
    for state, n in sorted(s["by_state"].items()):
        t.add_row(state, str(n))
    t.add_row("[bold]total[/bold]", str(s["passengers"]))
    console.print(t)


@app.command()
@friendly
def run(
    code: str,
    simulate: Annotated[bool, typer.Option(help="Play the escorts with the simulator.")] = False,
    speed: Annotated[float, typer.Option(help="Simulator speed (field s per real s).")] = 0.0,
    max_wait: Annotated[
        float | None, typer.Option(help="Give up waiting for a check-in after this many s.")
    ] = None,
    poll: Annotated[float | None, typer.Option(help="Seconds between check-in polls.")] = None,
    here: Annotated[
        bool, typer.Option("--here", help="Run the flow in this process even when served.")
    ] = False,
) -> None:
    """Start (or resume) the one flow run of a convoy.

    When `convoy serve` (or a worker) serves the convoy deployment, this starts its deployment
    run, or attaches to the live one; it suspends while waiting for check-ins, which resume it.
    Otherwise (or with --here, --simulate, --max-wait) the flow runs in this process and waits
    for the escorts' check-ins; with --max-wait it stops at a step still waiting (exit code 3,
    the run ends Cancelled) and resumes there next time.
    """
    from contextlib import nullcontext

    from flows.service import live
    from models.convoy.store import get_convoy
    from models.db import session_scope
    from models.errors import RunBusyError

    with session_scope() as session:  # fail fast on an unknown code
        get_convoy(session, code)
    in_process = here or simulate or max_wait is not None or poll is not None
    if not in_process and live.deployment_served("convoy"):
        info = live.start_run("convoy", code, {"code": code}, [])
        console.print(info.line(f"Convoy {code}"), highlight=False)
        console.print(f"  follow it in the Prefect UI: {live.ui_url(info.flow_run_id)}")
        return
    if not in_process and live.server_url():
        console.print(
            f"No convoy deployment is served at {live.server_url()} (is convoy serve running?); "
            "the flow runs in this process and waits here for the check-ins.",
            highlight=False,
        )
    holder = live.live_holder("convoy", code)
    if holder is not None:  # before the simulator starts reporting twice
        raise RunBusyError(
            f"Convoy {code} already has an active flow run ({holder}); a second run is not "
            "started. Follow that one, or cancel it first."
        )
    from flows.convoy import convoy_flow
    from flows.service.waits import run_here
    from flows.sim.escorts import simulated_escorts

    ctx = simulated_escorts([code], speed=speed) if simulate else nullcontext()
    with ctx:
        every = poll if poll is not None else (0.1 if simulate else None)
        result, _state = run_here(convoy_flow, code, every, max_wait)
    console.print(summary_table([result], f"Convoy {code}"))
    console.print(f"  map: {result['map']}")
    if result.get("waiting_for"):
        console.print(
            f"Convoy {code} is waiting for the {result['waiting_for']} check-in: record it with "
            f"'convoy checkin {code} {result['waiting_for']} …', then run it again to resume."
        )
        raise typer.Exit(3)


@app.command()
@friendly
def checkin(
    code: Annotated[str, typer.Argument(help="The convoy.")],
    kind: Annotated[
        str,
        typer.Argument(
            help="muster, screening, depart, position, entry, arrive, arrival_screening or handoff."
        ),
    ],
    absent: Annotated[
        str | None, typer.Option(help="Seats absent (muster, depart): 3,7,10-12.")
    ] = None,
    missing: Annotated[str | None, typer.Option(help="Seats missing on arrival.")] = None,
    seats: Annotated[str | None, typer.Option(help="Seats (entry, handoff).")] = None,
    reason: Annotated[str | None, typer.Option(help="Reason for absences.")] = None,
    result_file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Screening results CSV: "
            "seat,temperature,retemperature,nat_result,nat_time,health_code.",
        ),
    ] = None,
    result: Annotated[
        list[str] | None, typer.Option(help="One screening result SEAT:TEMP[:RETEMP] (repeatable).")
    ] = None,
    enterprise: Annotated[str | None, typer.Option(help="Enterprise receiving (handoff).")] = None,
    received_by: Annotated[str | None, typer.Option(help="Who received them (handoff).")] = None,
    location: Annotated[str | None, typer.Option(help="Where it happened.")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude (position).")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude (position).")] = None,
    crs: Annotated[str, typer.Option(help="wgs84, gcj02 or bd09 (position).")] = "wgs84",
    at: Annotated[
        str | None, typer.Option(help="When (default now), e.g. 2020-02-20 14:05.")
    ] = None,
    escort: Annotated[str | None, typer.Option(help="Badge of the reporting escort.")] = None,
) -> None:
    """Report from the field: what the convoy flow waits for."""
    from models.convoy.checkins import record_checkin
    from models.convoy.store import get_escort
    from models.db import session_scope
    from models.geo.datums import to_wgs84

    kind = kind.replace("-", "_")
    payload: dict[str, Any] = {}
    if kind in ("muster", "depart"):
        payload["absent"] = _seats(absent)
        if reason:
            payload["reason"] = reason
    elif kind == "arrive":
        payload["missing"] = _seats(missing)
        if reason:
            payload["reason"] = reason
    elif kind in ("screening", "arrival_screening"):
        payload["results"] = _screening_results(result_file, result or [])
    elif kind == "entry":
        payload["seats"] = _seats(seats)
    elif kind == "handoff":
        payload = {"enterprise": enterprise or "", "received_by": received_by or ""}
        if seats:
            payload["seats"] = _seats(seats)
        if not enterprise or not received_by:
            raise ValidationError("A handoff needs --enterprise and --received-by.")
    elif kind == "position":
        if lat is None or lon is None:
            raise ValidationError("A position needs --lat and --lon.")
        wlat, wlon = to_wgs84(lat, lon, crs)  # type: ignore[arg-type]
        payload = {"lat": wlat, "lon": wlon}
    if location and kind in ("screening", "arrival_screening", "arrive", "handoff"):
        payload["location"] = location
    with session_scope() as session:
        who = get_escort(session, escort) if escort else None
        ci = record_checkin(session, code, kind, payload, at=parse_time(at), escort=who)
        recorded = f"Recorded {ci.kind} check-in #{ci.id} for {code}."
    console.print(recorded)
    from flows.service.live import resume_after

    resumed = resume_after("convoy", code)  # the convoy's suspended run, if it waited for this
    if resumed:
        console.print(resumed, highlight=False)


def _screening_results(path: Path | None, inline: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if path is not None:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for n, rec in enumerate(csv.DictReader(fh), start=2):
                try:
                    entry: dict[str, Any] = {"seat": int(rec["seat"])}
                    for key in ("temperature", "retemperature"):
                        if rec.get(key):
                            entry[key] = float(rec[key])
                except (KeyError, ValueError):
                    raise ValidationError(
                        f"{path} row {n}: seat must be a whole number and temperatures numbers."
                    ) from None
                for key in ("nat_result", "nat_time", "health_code"):
                    if rec.get(key):
                        entry[key] = rec[key]
                rows.append(entry)
    for item in inline:
        parts = item.split(":")
        try:
            entry = {"seat": int(parts[0]), "temperature": float(parts[1])}
            if len(parts) > 2:
                entry["retemperature"] = float(parts[2])
        except (IndexError, ValueError):
            raise ValidationError(f"{item!r} is not SEAT:TEMP or SEAT:TEMP:RETEMP.") from None
        rows.append(entry)
    return rows


@app.command()
@friendly
def hold(
    code: str,
    seat: int,
    reason: Annotated[str, typer.Option(help="Why (required).")],
    withdraw: Annotated[bool, typer.Option(help="Withdrawn (left) rather than held.")] = False,
    location: Annotated[str, typer.Option(help="Where the passenger is now.")] = "",
    escort: Annotated[str, typer.Option(help="Badge of the reporting escort.")] = "",
) -> None:
    """Take one passenger out of the trip at any point: held (e.g. ill) or --withdraw (left)."""
    from models.convoy.lifecycle import Custody
    from models.convoy.operations import hold_or_withdraw
    from models.db import session_scope, utcnow

    to = Custody.WITHDRAWN if withdraw else Custody.HELD
    with session_scope() as session:
        hold_or_withdraw(
            session,
            code,
            seat,
            to,
            reason,
            at=utcnow(),
            actor=escort or get_settings().operator,
            location=location,
        )
    console.print(f"Seat {seat} of {code} is now {to.value}: {reason}.")


@app.command()
@friendly
def report(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")
    ] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Also write an XLSX report.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write a CSV report.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The figures a manager reports, computed from the data: a terminal table, --json, and
    --html (offline, with charts, linking the maps), --xlsx, --csv files."""
    from flows.cli.campaign import build_report, show_report, write_report_files

    rep = build_report(campaign)
    files = write_report_files(rep, campaign, html=html, xlsx=xlsx, csv=csv_file)
    if json_out:
        print_json(rep["figures"] | {"sections": rep["sections"], "tables": rep["tables"]})
        return
    show_report(rep)
    for kind, path in files.items():
        console.print(f"  report ({kind}): {path}", highlight=False)


# Commands of the intake (manifests, registries, registration codes), tracking and alerts, maps,
# permits, people and campaigns live beside their code; each module adds its own to this app.
# Started as the `convoy` command, only the module of the command asked for is imported (the
# others import much that this command does not need); anywhere else (tests, `--help`, an
# unknown command) all of them. tests/flows/cli/test_lazy.py checks this table.
COMMANDS_OF: dict[str, tuple[str, ...]] = {
    "flows.cli.intake": ("serve-registration", "manifest", "registry", "entry"),
    "flows.cli.enterprise": ("enterprise",),
    "flows.cli.roster": ("roster",),
    "flows.cli.tracking": ("tasks", "track", "monitor", "outbox", "serve", "deploy", "alerts",
                           "device"),
    "flows.cli.maps": ("map",),
    "flows.cli.permits": ("permit",),
    "flows.cli.access": ("audit", "users"),
    "flows.cli.campaign": ("campaign",),
    "flows.cli.desk": ("service",),
    "flows.cli.escort": ("escort",),
}  # fmt: skip
OWN_COMMANDS = frozenset(
    c.name or c.callback.__name__ for c in app.registered_commands if c.callback
)


def modules_for(argv: list[str]) -> list[str]:
    """The command modules a command line needs (all unless it is the `convoy` command naming
    a known command)."""
    everything = list(COMMANDS_OF)
    if not argv or Path(argv[0]).name != "convoy":
        return everything
    first = next((a for a in argv[1:] if not a.startswith("-")), None)
    if first is None:
        return everything
    if first in OWN_COMMANDS:
        return []
    return [m for m, names in COMMANDS_OF.items() if first in names] or everything


def register_modules(modules: list[str]) -> None:
    import importlib

    for module in modules:
        importlib.import_module(module).register(app)


register_modules(modules_for(sys.argv))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
