"""``convoy permit …``: vehicle passes (通行证) for construction trucks.

``register(app)`` adds the ``permit`` sub-app to the ``convoy`` command:

* ``apply`` (one truck, or a fleet: ``--plate`` repeated or ``--fleet FILE``),
  ``survey ID --ok/--reject --note``, ``route ID --via …``, ``issue ID`` (one pass per
  vehicle), ``deliver ID --to NAME``: the permit officer's steps;
* ``run ID [--max-wait S]``: the application's flow (waits for those steps, writes the map);
* ``list``, ``show ID``, ``stats`` (same-day service), ``extend`` (bulk extension: expiring,
  listed, by unit or project, the emergency policy; ``--dry-run``), ``import FILE``;
* ``project list``; ``trip plan/list/show/deliver``: delivery trips by major project.

Thin: every command calls one function of ``models.permits`` (or the flow) and turns its errors
into one red line and exit code 1. ID is the application number (``TX-20200220-0001``) or its
numeric id. Phones are masked in every output.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.db import session_scope
from models.errors import ValidationError
from models.permits.extension import extend_permits, policy_end
from models.permits.fleet import read_fleet
from models.permits.lifecycle import (
    Vehicle,
    Via,
    apply_for_permit,
    deliver_permit,
    issue_permit,
    plan_route,
    survey_site,
)
from models.permits.queries import get_application, list_applications
from models.permits.records import permit_record
from models.permits.stats import same_day_stats

__all__ = ["permit_app", "register"]

permit_app = typer.Typer(
    help="Vehicle passes (通行证) for construction trucks: apply, survey, route, issue, "
    "deliver, extend.",
    no_args_is_help=True,
)

IdArg = Annotated[str, typer.Argument(help="Application number (TX-…) or id.")]
AtOpt = Annotated[
    str | None, typer.Option("--at", help="When it happened (default now), e.g. 2020-02-20 14:05.")
]
ActorOpt = Annotated[str, typer.Option("--officer", help="Who records it (badge or name).")]


def _date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"The {what} {value!r} is not a date like 2020-03-31.") from None


def _via(text: str) -> Via:
    """'宁波站' (a place) or '29.90,121.62' (a point)."""
    parts = text.replace("，", ",").split(",")
    if len(parts) == 2:
        try:
            return Via(lat=float(parts[0]), lon=float(parts[1]))
        except ValueError:
            pass
    return Via(name=text.strip())


def _resume(number: str, json_out: bool) -> None:
    """After an officer's step: resume the application's suspended flow run, if it waited."""
    from flows.service.live import resume_after

    line = resume_after("permit", number)
    if line and not json_out:
        console.print(line, highlight=False)


def _say(record: dict[str, Any], json_out: bool, text: str) -> None:
    if json_out:
        print_json(record)
    else:
        console.print(text, highlight=False, soft_wrap=True)


@permit_app.command("apply")
@friendly
def apply_command(
    enterprise: Annotated[str, typer.Option(help="The applicant enterprise.")],
    site: Annotated[str, typer.Option(help="The construction site's name.")],
    until: Annotated[str, typer.Option("--until", help="Last day requested, e.g. 2020-03-31.")],
    plate: Annotated[
        list[str] | None,
        typer.Option(help="A truck's plate, e.g. 浙B12345 or 浙BD12345 (repeatable: a fleet)."),
    ] = None,
    fleet: Annotated[
        Path | None,
        typer.Option(help="A fleet list (CSV/XLSX: 车牌号, 车辆类型, 驾驶员, 联系电话)."),
    ] = None,
    vehicle_type: Annotated[
        str, typer.Option(help="e.g. 渣土车, 混凝土搅拌车 (the default type of a fleet list).")
    ] = "",
    project: Annotated[str, typer.Option(help="The major project the site belongs to.")] = "",
    valid_from: Annotated[
        str | None, typer.Option("--from", help="First day requested (default today).")
    ] = None,
    contact: Annotated[str, typer.Option(help="The enterprise's contact person.")] = "",
    phone: Annotated[str, typer.Option(help="The contact's mobile (masked in every output).")] = "",
    address: Annotated[str, typer.Option(help="The site's address.")] = "",
    place: Annotated[
        str | None, typer.Option(help="A place the gazetteer knows, for the site's point.")
    ] = None,
    hint: Annotated[str | None, typer.Option(help="Hint for an ambiguous place name.")] = None,
    lat: Annotated[float | None, typer.Option(help="The site's latitude.")] = None,
    lon: Annotated[float | None, typer.Option(help="The site's longitude.")] = None,
    crs: Annotated[str, typer.Option(help="wgs84, gcj02 or bd09 (for --lat/--lon).")] = "wgs84",
    campaign: Annotated[str | None, typer.Option(help="Link to this campaign.")] = None,
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """File a vehicle-pass application for one truck or a fleet (--plate repeated, or --fleet
    FILE); the site by --place or --lat/--lon. A fleet list with a bad row files nothing: every
    bad row is in the report files it names."""
    last = _date(until, "end date")
    assert last is not None
    plates = [Vehicle(p, vehicle_type) for p in plate or []]
    with session_scope() as session:
        if fleet is not None:
            vehicles, report = read_fleet(session, fleet, default_type=vehicle_type)
            if report.rejected:
                where = report.files.get("errors_csv") or report.files.get("errors_xlsx")
                raise ValidationError(
                    f"{fleet.name}: {report.rejected} of {report.read} vehicle row(s) have "
                    f"problems (first: {report.first_problem()}); nothing was filed. Every "
                    f"problem is in {where}, the rows to fix in {report.files.get('for_fixing')}."
                )
            plates.extend(vehicles)
        app = apply_for_permit(
            session,
            enterprise=enterprise,
            vehicles=plates,
            vehicle_type=vehicle_type,
            project=project,
            site_name=site,
            valid_until=last,
            valid_from=_date(valid_from, "start date"),
            contact_name=contact,
            contact_phone=phone,
            site_address=address,
            place=place,
            hint=hint,
            lat=lat,
            lon=lon,
            crs=crs,
            campaign=campaign,
            at=parse_time(at),
            actor=officer,
        )
        record = permit_record(session, app)
    days = f"{record['requested_from']} – {record['requested_until']}"
    n = len(record["vehicles"])
    what = record["plate"] if n == 1 else f"{n} vehicles ({record['plate']})"
    text = f"Application {record['number']} filed for {what} ({record['site']}, {days})."
    _say(record, json_out, text)


@permit_app.command("survey")
@friendly
def survey_command(
    key: IdArg,
    ok: Annotated[
        bool, typer.Option("--ok/--reject", help="The site survey passed, or rejects it.")
    ] = True,
    note: Annotated[str, typer.Option(help="Findings; the reason when rejecting.")] = "",
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Record the site survey: --ok, or --reject with the reason in --note."""
    with session_scope() as session:
        app = survey_site(session, key, ok=ok, note=note, at=parse_time(at), actor=officer)
        record = permit_record(session, app)
    verdict = "surveyed" if ok else f"rejected: {record['reason']}"
    _say(record, json_out, f"Application {record['number']} {verdict}.")
    _resume(record["number"], json_out)


@permit_app.command("route")
@friendly
def route_command(
    key: IdArg,
    via: Annotated[
        list[str],
        typer.Option(help="A waypoint, in order from the start: a place or LAT,LON (repeatable)."),
    ],
    crs: Annotated[
        str, typer.Option(help="wgs84, gcj02 or bd09 (for LAT,LON waypoints).")
    ] = "wgs84",
    hint: Annotated[str | None, typer.Option(help="Hint for ambiguous place names.")] = None,
    note: Annotated[str, typer.Option(help="Remarks on the route.")] = "",
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Plan the permitted route: the waypoints in order, then the site.

    The route may be planned again until the pass is issued.
    """
    vias = [v if v.name else Via(lat=v.lat, lon=v.lon, crs=crs) for v in map(_via, via)]
    with session_scope() as session:
        app = plan_route(session, key, vias, hint=hint, note=note, at=parse_time(at), actor=officer)
        record = permit_record(session, app)
    path = " → ".join([*record["route"], record["site"]])
    _say(record, json_out, f"Application {record['number']}: route {path}.")
    _resume(record["number"], json_out)


@permit_app.command("issue")
@friendly
def issue_command(
    key: IdArg,
    until: Annotated[
        str | None, typer.Option("--until", help="Last valid day (default: as requested).")
    ] = None,
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Issue the pass of a routed application."""
    with session_scope() as session:
        permits = issue_permit(
            session, key, valid_until=_date(until, "end date"), at=parse_time(at), actor=officer
        )
        record = permit_record(session, get_application(session, key))
    valid = f"valid {record['valid_from']} – {record['valid_until']}"
    if len(permits) == 1:
        text = f"Pass {record['number']} issued for {record['plate']}, {valid}."
    else:
        text = (
            f"{len(permits)} passes issued for application {record['number']} "
            f"({permits[0].number} … {permits[-1].number}), {valid}."
        )
    _say(record, json_out, text)
    _resume(record["number"], json_out)


@permit_app.command("deliver")
@friendly
def deliver_command(
    key: IdArg,
    to: Annotated[str, typer.Option("--to", help="Who received the pass.")],
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Record the door-to-door delivery of an issued pass."""
    with session_scope() as session:
        deliver_permit(session, key, to=to, at=parse_time(at), actor=officer)
        record = permit_record(session, get_application(session, key))
    _say(
        record,
        json_out,
        f"Pass {record['number']} delivered to {record['delivered_to']} "
        f"at {record['delivered_at']}."
        if len(record["passes"]) == 1
        else f"{len(record['passes'])} passes of application {record['number']} delivered to "
        f"{record['delivered_to']} at {record['delivered_at']}.",
    )
    _resume(record["number"], json_out)


@permit_app.command("run")
@friendly
def run_command(
    key: IdArg,
    max_wait: Annotated[
        float | None, typer.Option(help="Stop after waiting this many s for a step (exit 3).")
    ] = None,
    poll: Annotated[float | None, typer.Option(help="Seconds between polls.")] = None,
    here: Annotated[
        bool, typer.Option("--here", help="Run the flow in this process even when served.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Start (or resume) the one flow run of an application.

    When `convoy serve` serves the permit deployment, this starts its deployment run (or
    attaches to the live one), which suspends until each step is recorded. Otherwise (or with
    --here, --max-wait) it runs here: it waits for the officer's steps and writes the route map
    once the pass is issued; with --max-wait it stops at a step still waiting (exit code 3) and
    resumes there next time.
    """
    from flows.service import live
    from models.errors import RunBusyError

    with session_scope() as session:  # fail fast on an unknown application
        number = get_application(session, key).number
    if not (here or max_wait is not None or poll is not None) and live.deployment_served("permit"):
        info = live.start_run("permit", number, {"number": number}, [])
        console.print(info.line(f"Application {number}"), highlight=False)
        console.print(f"  follow it in the Prefect UI: {live.ui_url(info.flow_run_id)}")
        return
    holder = live.live_holder("permit", number)
    if holder is not None:
        raise RunBusyError(
            f"Application {number} already has an active flow run ({holder}); a second run is "
            "not started."
        )
    from flows.permits import permit_flow  # imports Prefect: only when needed
    from flows.service.waits import run_here

    result, _state = run_here(permit_flow, number, poll, max_wait)
    if json_out:
        print_json(result)
    else:
        console.print(f"Application {number}: {result['status']}.", highlight=False)
        if result["map"]:
            console.print(f"  map: {result['map']}", highlight=False, soft_wrap=True)
    if result.get("waiting_for"):
        if not json_out:
            console.print(
                f"Application {number} is waiting for the {result['waiting_for']} step: record "
                f"it with '{result['next_command']}', then run it again to resume.",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(3)


@permit_app.command("list")
@friendly
def list_command(
    status: Annotated[str | None, typer.Option(help="Only this stored status.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this major project.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List vehicle-pass applications (phones masked)."""
    with session_scope() as session:
        rows = [
            permit_record(session, a)
            for a in list_applications(session, status=status, campaign=campaign, project=project)
        ]
    if json_out:
        print_json(rows)
        return
    t = Table(title="Vehicle passes")
    for name in (
        "number",
        "status",
        "plate",
        "enterprise",
        "contact",
        "phone",
        "site",
        "applied",
        "valid until",
    ):
        t.add_column(name)
    for r in rows:
        t.add_row(
            r["number"],
            r["status"],
            r["plate"],
            r["enterprise"],
            r["contact"],
            r["phone"],
            r["site"],
            r["applied_at"],
            r["valid_until"] or "—",
        )
    console.print(t)


@permit_app.command("show")
@friendly
def show_command(key: IdArg, json_out: JsonOpt = False) -> None:
    """One application, its pass and its history (phone masked)."""
    with session_scope() as session:
        r = permit_record(session, get_application(session, key), events=True)
    if json_out:
        print_json(r)
        return
    console.print(
        f"[bold]{r['number']}[/bold] {r['status']}: {r['plate']} ({r['vehicle_type']}) of "
        f"{r['enterprise']}, contact {r['contact'] or '—'} {r['phone']}",
        highlight=False,
    )
    site = " ".join(filter(None, [r["site"], r["address"], str(r["site_point"])]))
    console.print(f"site {site}; route {' → '.join(r['route']) or '—'}", highlight=False)
    if r["valid_until"]:
        delivered = f"{r['delivered_at'] or '—'} {r['delivered_to']}"
        console.print(f"valid {r['valid_from']} – {r['valid_until']}; delivered {delivered}")
    if len(r["passes"]) > 1:
        passes = Table(
            "pass", "plate", "type", "status", "valid until", "received by", "at", "trip"
        )
        for p in r["passes"]:
            passes.add_row(p["number"], p["plate"], p["vehicle_type"], p["status"],
                           p["valid_until"], p["delivered_to"] or "—", p["delivered_at"] or "—",
                           p["trip"] or "—")  # fmt: skip
        console.print(passes)
    elif len(r["vehicles"]) > 1:
        console.print("vehicles " + ", ".join(v["plate"] for v in r["vehicles"]), highlight=False)
    t = Table("at", "step", "from → to", "by", "note")
    for e in r["events"]:
        t.add_row(e["at"], e["kind"], f"{e['from'] or '—'} → {e['to']}", e["actor"], e["note"])
    console.print(t)


@permit_app.command("extend")
@friendly
def extend_command(
    until: Annotated[str | None, typer.Option("--until", help="The new last valid day.")] = None,
    expiring_within: Annotated[
        int | None, typer.Option("--expiring-within", help="Every pass expiring within DAYS.")
    ] = None,
    number: Annotated[
        list[str] | None,
        typer.Option("--number", help="This pass, or every pass of this application (repeatable)."),
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only the passes of this applicant unit.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Only the passes of this major project.")
    ] = None,
    policy: Annotated[
        bool,
        typer.Option(
            "--policy",
            help="The emergency policy: every pass expiring by --emergency-end is extended to "
            "three months after it.",
        ),
    ] = False,
    emergency_end: Annotated[
        str | None, typer.Option("--emergency-end", help="The emergency's last day (--policy).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="The time it is done (default now): the clock.")
    ] = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Extend passes in bulk: every pass expiring within DAYS, listed, of a unit or project, or
    the emergency policy (--policy --emergency-end DAY: to three months after it).

    One transaction; safe to run again: a pass already valid until then is left alone.
    """
    last = _date(until, "new end date")
    end = _date(emergency_end, "emergency's last day")
    if policy != (end is not None):
        raise ValidationError("The emergency policy needs both --policy and --emergency-end DAY.")
    with session_scope() as session:
        changed = extend_permits(
            session, last, expiring_within_days=expiring_within, numbers=number, unit=unit,
            project=project, emergency_end=end, dry_run=dry_run, now=parse_time(at),
            actor=officer,
        )  # fmt: skip
    if json_out:
        print_json(changed)
        return
    to = changed[0]["to"] if changed else str(last or (policy_end(end) if end else ""))
    verb = "would be extended" if dry_run else "extended"
    console.print(f"{len(changed)} pass(es) {verb} to {to}.", highlight=False)
    for c in changed:
        console.print(
            f"  {c['number']} {c['plate']} {c['unit']}: {c['from']} → {c['to']}", highlight=False
        )
    if dry_run:
        console.print("Dry run: nothing was changed.", highlight=False)


@permit_app.command("stats")
@friendly
def stats_command(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="The time to report at (default now).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Same-day service: the rate over delivered passes and the open applications at risk."""
    with session_scope() as session:
        s = same_day_stats(session, campaign=campaign, now=parse_time(at)).as_dict()
    if json_out:
        print_json(s)
        return
    rate = "—" if s["same_day_rate"] is None else f"{s['same_day_rate']:.0%}"
    console.print(
        f"Same-day service: {s['same_day']} of {s['delivered']} delivered pass(es) "
        f"({rate}); today {s['day']}.",
        highlight=False,
    )
    for r in s["at_risk"]:
        console.print(
            f"  at risk: {r['number']} {r['plate']} {r['status']}, filed "
            f"{r['applied_at']}, {r['hours_left']} h left",
            highlight=False,
        )
    for r in s["overdue"]:
        console.print(
            f"  overdue: {r['number']} {r['plate']} {r['status']}, filed {r['applied_at']}",
            highlight=False,
        )


@permit_app.command("import")
@friendly
def import_command(
    file: Annotated[Path, typer.Argument(help="A pass list (CSV/XLSX, Chinese headers).")],
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Import existing passes and applications; safe to run again (rows already there are
    counted, never doubled). Every bad row is in the report files printed."""
    from models.permits.imports import import_passes

    with session_scope() as session:
        report = import_passes(session, file, actor=officer)
    d = report.as_dict()
    if json_out:
        print_json(d)
    else:
        console.print(
            f"{file.name}: {d['read']} row(s) read (header on row {d['header_row']}): "
            f"{d['imported']} imported ({d['applications_added']} application(s), "
            f"{d['passes_added']} pass(es)), {d['already']} already there, "
            f"{d['rejected']} rejected.",
            highlight=False,
            soft_wrap=True,
        )
        for code, n in sorted(d["reasons"].items()):
            console.print(f"  {code}: {n}", highlight=False)
        for key in ("errors_csv", "errors_file", "fixing_file"):
            if d[key]:
                console.print(f"  {key.replace('_', ' ')}: {d[key]}", highlight=False)
    if report.rejected:
        raise typer.Exit(2)


project_app = typer.Typer(help="Major projects: their passes and deliveries.", no_args_is_help=True)
trip_app = typer.Typer(
    help="Delivery trips: many passes taken to one major project's site.", no_args_is_help=True
)
permit_app.add_typer(project_app, name="project")
permit_app.add_typer(trip_app, name="trip")
TripArg = Annotated[str, typer.Argument(help="Trip number (SD-…) or id.")]


@project_app.command("list")
@friendly
def project_list_command(json_out: JsonOpt = False) -> None:
    """Every major project: applications, units, passes delivered and waiting, trips."""
    from models.permits.trips import project_summary

    with session_scope() as session:
        rows = project_summary(session)
    if json_out:
        print_json(rows)
        return
    t = Table(title="Major projects")
    for c in ("project", "applications", "units", "passes", "delivered", "waiting", "trips"):
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(r[c]) for c in ("project", "applications", "units", "passes",
                                         "delivered", "waiting", "trips")))  # fmt: skip
    console.print(t)


@trip_app.command("plan")
@friendly
def trip_plan_command(
    project: Annotated[str, typer.Option(help="The major project.")],
    number: Annotated[
        list[str] | None, typer.Option("--number", help="Only this pass (repeatable).")
    ] = None,
    note: Annotated[str, typer.Option(help="Remarks.")] = "",
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Plan a delivery trip with the project's issued passes waiting for delivery."""
    from models.permits.trips import plan_trip, trip_record

    with session_scope() as session:
        trip = plan_trip(
            session, project, numbers=number, at=parse_time(at), officer=officer, note=note
        )
        record = trip_record(session, trip)
    _say(
        record,
        json_out,
        f"Trip {record['number']} to {record['project']}: {record['passes']} pass(es).",
    )


@trip_app.command("list")
@friendly
def trip_list_command(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Delivery trips: project, when, officer, passes delivered of all."""
    from models.permits.trips import list_trips, trip_record

    with session_scope() as session:
        rows = [trip_record(session, t) for t in list_trips(session, project)]
    if json_out:
        print_json([{k: v for k, v in r.items() if k != "list"} for r in rows])
        return
    t = Table(title="Delivery trips")
    for c in ("number", "project", "planned", "officer", "status", "delivered"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["number"], r["project"], r["planned_at"], r["officer"], r["status"],
                  f"{r['delivered']}/{r['passes']}")  # fmt: skip
    console.print(t)


@trip_app.command("show")
@friendly
def trip_show_command(
    key: TripArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the printable delivery list: FILE.html, FILE.xlsx or FILE.csv.",
        ),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            help="Write it as html, xlsx or csv to var/output/permits/trips/NUMBER.EXT.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """A trip's delivery list (phones masked); --sheet or --out writes it to print or sign."""
    from config import get_settings
    from models.permits.trips import get_trip, trip_record, write_delivery_list

    with session_scope() as session:
        record = trip_record(session, get_trip(session, key))
    if sheet is not None:
        if sheet.lower() not in ("html", "xlsx", "csv"):
            raise ValidationError(f"The sheet kind {sheet!r} is not html, xlsx or csv.")
        folder = get_settings().output_dir / "permits" / "trips"
        out = out or folder / f"{record['number']}.{sheet.lower()}"
    if out is not None:
        write_delivery_list(record, out)
    if json_out:
        print_json(record)
        return
    t = Table(title=f"{record['number']} {record['project']} ({record['status']})")
    for c in ("#", "pass", "plate", "unit", "site", "valid until", "received by", "at"):
        t.add_column(c)
    for r in record["list"]:
        t.add_row(str(r["seq"]), r["number"], r["plate"], r["unit"], r["site"],
                  r["valid_until"], r["delivered_to"] or "—", r["delivered_at"] or "—")  # fmt: skip
    console.print(t)
    if out is not None:
        console.print(f"delivery list: {out}", highlight=False, soft_wrap=True)


@trip_app.command("deliver")
@friendly
def trip_deliver_command(
    key: TripArg,
    to: Annotated[str, typer.Option("--to", help="Who received the passes.")],
    number: Annotated[
        list[str] | None,
        typer.Option("--number", help="Only this pass (repeatable; default: all not yet)."),
    ] = None,
    at: AtOpt = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Record who received the trip's passes and when (all of them, or those listed)."""
    from models.permits.trips import deliver_trip, get_trip, trip_record

    with session_scope() as session:
        done = deliver_trip(session, key, to=to, numbers=number, at=parse_time(at), actor=officer)
        record = trip_record(session, get_trip(session, key))
    _say(
        record,
        json_out,
        f"Trip {record['number']}: {len(done)} pass(es) delivered to {to}; "
        f"{record['delivered']} of {record['passes']} delivered.",
    )


def register(app: typer.Typer) -> None:
    """Add ``convoy permit …`` to the ``convoy`` application."""
    app.add_typer(permit_app, name="permit")
