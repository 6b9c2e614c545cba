"""``convoy permit …``: vehicle passes (通行证) for construction trucks.

``register(app)`` adds the ``permit`` sub-app to the ``convoy`` command:

* ``apply`` (file an application), ``survey ID --ok/--reject --note``, ``route ID --via …``,
  ``issue ID``, ``deliver ID --to NAME``: the permit officer's steps;
* ``run ID [--max-wait S]``: the application's flow (waits for those steps, writes the map);
* ``list``, ``show ID``, ``stats`` (same-day service), ``extend`` (bulk extension).

Thin: every command calls one function of ``models.permits`` (or the flow) and turns its errors
into one red line and exit code 1. ID is the application number (``TX-20200220-0001``) or its
numeric id. Phones are masked in every output.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.db import session_scope
from models.errors import ValidationError
from models.permits.extension import extend_permits
from models.permits.lifecycle import (
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
    plate: Annotated[str, typer.Option(help="The truck's plate, e.g. 浙B12345 or 浙BD12345.")],
    vehicle_type: Annotated[str, typer.Option(help="e.g. 渣土车, 混凝土搅拌车.")],
    site: Annotated[str, typer.Option(help="The construction site's name.")],
    until: Annotated[str, typer.Option("--until", help="Last day requested, e.g. 2020-03-31.")],
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
    """File a vehicle-pass application (the site by --place or --lat/--lon)."""
    last = _date(until, "end date")
    assert last is not None
    with session_scope() as session:
        app = apply_for_permit(
            session,
            enterprise=enterprise,
            plate=plate,
            vehicle_type=vehicle_type,
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
    text = f"Application {record['number']} filed for {record['plate']} ({record['site']}, {days})."
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
        issue_permit(
            session, key, valid_until=_date(until, "end date"), at=parse_time(at), actor=officer
        )
        record = permit_record(session, get_application(session, key))
    _say(
        record,
        json_out,
        f"Pass {record['number']} issued for {record['plate']}, valid "
        f"{record['valid_from']} – {record['valid_until']}.",
    )
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
        f"at {record['delivered_at']}.",
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
    json_out: JsonOpt = False,
) -> None:
    """List vehicle-pass applications (phones masked)."""
    with session_scope() as session:
        rows = [
            permit_record(session, a)
            for a in list_applications(session, status=status, campaign=campaign)
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
    t = Table("at", "step", "from → to", "by", "note")
    for e in r["events"]:
        t.add_row(e["at"], e["kind"], f"{e['from'] or '—'} → {e['to']}", e["actor"], e["note"])
    console.print(t)


@permit_app.command("extend")
@friendly
def extend_command(
    until: Annotated[str, typer.Option("--until", help="The new last valid day.")],
    expiring_within: Annotated[
        int | None, typer.Option("--expiring-within", help="Every pass expiring within DAYS.")
    ] = None,
    number: Annotated[
        list[str] | None, typer.Option("--number", help="This pass (repeatable).")
    ] = None,
    officer: ActorOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Extend passes in bulk: every pass expiring within DAYS, or the ones listed.

    One transaction; safe to run again: a pass already valid until then is left alone.
    """
    last = _date(until, "new end date")
    assert last is not None
    with session_scope() as session:
        changed = extend_permits(
            session, last, expiring_within_days=expiring_within, numbers=number, actor=officer
        )
    if json_out:
        print_json(changed)
        return
    console.print(f"{len(changed)} pass(es) extended to {last}.", highlight=False)
    for c in changed:
        console.print(f"  {c['number']} {c['plate']}: {c['from']} → {c['to']}", highlight=False)


@permit_app.command("stats")
@friendly
def stats_command(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Same-day service: the rate over delivered passes and the open applications at risk."""
    with session_scope() as session:
        s = same_day_stats(session, campaign=campaign).as_dict()
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


def register(app: typer.Typer) -> None:
    """Add ``convoy permit …`` to the ``convoy`` application."""
    app.add_typer(permit_app, name="permit")
