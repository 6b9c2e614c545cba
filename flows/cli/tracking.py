"""CLI commands for tracking, alerts, escort tasks and notifications (issue 4).

``register(app)`` adds them to the ``convoy`` command: ``alerts`` (with ``ack``, ``snooze``,
``resolve``, ``history``), ``tasks``, ``track``, ``monitor``, ``outbox``, ``serve`` and
``device`` (``bind``, ``list``, ``revoke``). Each is a thin layer over a library function.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from config import get_settings
from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.access.actors import acting_as, service
from models.db import session_scope, utcnow
from models.errors import MonitorBusyError, ValidationError
from models.labels import local_time


def _local(at: datetime | str | None) -> str:
    return local_time(at)


# --- alerts -----------------------------------------------------------------------------------

alerts_app = typer.Typer(
    help="Delay alerts: list open ones (or --all), acknowledge, snooze, resolve.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def alert_rows(include_resolved: bool, code: str | None) -> list[dict[str, Any]]:
    from models.tracking.alerts.lifecycle import list_alerts

    with session_scope() as session:
        rows = list_alerts(session, include_resolved, code)
        return [
            {
                "id": a.id,
                "convoy": c.code,
                "kind": a.kind,
                "state": a.state,
                "summary": a.summary,
                "opened_at": a.opened_at.isoformat(),
                "last_seen_at": a.last_seen_at.isoformat(),
                "acknowledged_by": a.acknowledged_by or None,
                "snoozed_until": a.snoozed_until.isoformat() if a.snoozed_until else None,
                "escalation_level": a.escalation_level,
                "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
                "resolve_reason": a.resolve_reason or None,
            }
            for a, c in rows
        ]


@alerts_app.callback()
@friendly
def alerts(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    convoy: Annotated[str | None, typer.Option(help="Only this convoy.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List open alerts (acknowledged ones included); --all adds resolved ones."""
    if ctx.invoked_subcommand is not None:
        return
    rows = alert_rows(all_, convoy)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("No open alerts." if not all_ else "No alerts.")
        return
    t = Table(title="Alerts" if all_ else "Open alerts")
    for col in ("id", "convoy", "kind", "state", "opened", "esc.", "summary"):
        t.add_column(col)
    for r in rows:
        state = r["state"] + (" (snoozed)" if r["snoozed_until"] else "")
        t.add_row(
            str(r["id"]),
            r["convoy"],
            r["kind"],
            state,
            _local(datetime.fromisoformat(r["opened_at"])),
            str(r["escalation_level"]),
            r["summary"],
        )
    console.print(t)


@alerts_app.command("ack")
@friendly
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="The alert number.")],
    by: Annotated[
        str | None, typer.Option(help="Who acknowledges (default: the operator).")
    ] = None,
) -> None:
    """Acknowledge an alert: you take care of it, it no longer escalates."""
    from models.tracking.alerts.lifecycle import acknowledge

    with session_scope() as session:
        a = acknowledge(session, alert_id, by or get_settings().operator, utcnow())
    console.print(f"Alert #{a.id} acknowledged by {a.acknowledged_by}.")


@alerts_app.command("snooze")
@friendly
def alerts_snooze(
    alert_id: Annotated[int, typer.Argument(help="The alert number.")],
    minutes: Annotated[float | None, typer.Option(help="How long (default: setting).")] = None,
    by: Annotated[str | None, typer.Option(help="Who snoozes it (default: the operator).")] = None,
) -> None:
    """Hold an alert's escalation for a while."""
    from models.tracking.alerts.lifecycle import snooze

    with session_scope() as session:
        minutes = minutes or get_settings().alert_snooze_minutes
        a = snooze(session, alert_id, minutes, by or get_settings().operator, utcnow())
    console.print(f"Alert #{a.id} snoozed until {_local(a.snoozed_until)}.")


@alerts_app.command("resolve")
@friendly
def alerts_resolve(
    alert_id: Annotated[int, typer.Argument(help="The alert number.")],
    reason: Annotated[str, typer.Option(help="Why it is over.")] = "resolved by hand",
    by: Annotated[str | None, typer.Option(help="Who resolves it (default: the operator).")] = None,
) -> None:
    """Resolve an alert by hand (the monitor opens a new one if the condition persists)."""
    from models.tracking.alerts.lifecycle import resolve

    with session_scope() as session:
        a = resolve(session, alert_id, by or get_settings().operator, reason, utcnow())
    console.print(f"Alert #{a.id} resolved: {a.resolve_reason}.")


@alerts_app.command("history")
@friendly
def alerts_history(alert_id: int, json_out: JsonOpt = False) -> None:
    """Everything that happened to one alert."""
    from models.tracking.alerts.lifecycle import alert_history

    with session_scope() as session:
        rows = [
            {"at": e.at.isoformat(), "action": e.action, "actor": e.actor, "note": e.note}
            for e in alert_history(session, alert_id)
        ]
    if json_out:
        print_json(rows)
        return
    t = Table("at", "action", "by", "note", title=f"Alert #{alert_id}")
    for r in rows:
        t.add_row(_local(datetime.fromisoformat(r["at"])), r["action"], r["actor"], r["note"])
    console.print(t)


# --- devices ----------------------------------------------------------------------------------

device_app = typer.Typer(help="Phone trackers (Traccar Client): bind, list, revoke.")


@device_app.command("bind")
@friendly
def device_bind(
    device_id: Annotated[str, typer.Argument(help="The device identifier set in the app.")],
    escort: Annotated[str, typer.Option(help="Badge (or unique name) of the escort.")],
    convoy: Annotated[str, typer.Option(help="The convoy the device travels with.")],
    port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port 'convoy serve --port' listens on (when CONVOY_PUBLIC_URL is not set).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Bind a tracker to an escort and a convoy (the escort must be assigned to it); prints its
    token (shown only once) and the Traccar Client settings."""
    from models.tracking.devices import bind_device

    s = get_settings()
    with session_scope() as session:
        device, token = bind_device(session, device_id, escort, convoy)
    base = s.api_url(port)
    url = f"{base}/osmand/{token}"
    if json_out:
        print_json(
            {
                "device_id": device.device_id,
                "convoy": convoy,
                "token": token,
                "server_url": url,
                "api_url": base,
            }
        )
        return
    console.print(f"Device [bold]{device.device_id}[/bold] is bound to {escort} on {convoy}.")
    console.print(f"Token (shown once): {token}", highlight=False)
    console.print("Traccar Client settings:", highlight=False)
    console.print(f"  Device identifier: {device.device_id}", highlight=False, soft_wrap=True)
    console.print(f"  Server URL:        {url}", highlight=False, soft_wrap=True)
    if not s.public_url:
        console.print(
            f"Set CONVOY_PUBLIC_URL to the address phones reach (now {base}); HTTPS behind "
            "the agency's reverse proxy is recommended.",
            highlight=False,
        )


@device_app.command("list")
@friendly
def device_list(json_out: JsonOpt = False) -> None:
    """Bound trackers, their escort, convoy and when they last reported."""
    from models.tracking.devices import list_devices

    with session_scope() as session:
        rows = [
            {
                "device_id": d.device_id,
                "escort": e.badge,
                "convoy": c.code,
                "active": d.active,
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
                # a value stored before reports were checked may not be a number JSON has
                "battery": d.battery
                if d.battery is not None and math.isfinite(d.battery)
                else None,
            }
            for d, e, c in list_devices(session)
        ]
    if json_out:
        print_json(rows)
        return
    t = Table("device", "escort", "convoy", "active", "last seen", "battery %")
    for r in rows:
        seen = _local(datetime.fromisoformat(r["last_seen_at"])) if r["last_seen_at"] else ""  # type: ignore[arg-type]
        batt = "" if r["battery"] is None else f"{r['battery']:.0f}"
        t.add_row(r["device_id"], r["escort"], r["convoy"], str(r["active"]), seen, batt)  # type: ignore[arg-type]
    console.print(t)


@device_app.command("revoke")
@friendly
def device_revoke(device_id: str) -> None:
    """Stop accepting reports from a tracker."""
    from models.tracking.devices import revoke_device

    with session_scope() as session:
        revoke_device(session, device_id)
    console.print(f"Device {device_id} revoked.")


# --- single commands --------------------------------------------------------------------------


@friendly
def tasks(
    escort: Annotated[str, typer.Argument(help="Badge or unique name of the escort.")],
    json_out: JsonOpt = False,
) -> None:
    """What an escort has to do next: what, where, when, across their convoys."""
    from models.notify.escort_tasks import escort_tasks

    with session_scope() as session:
        rows: list[dict[str, Any]] = [
            {
                "convoy": t.convoy,
                "step": t.step,
                "what": t.what,
                "where": t.where,
                "when": t.when.isoformat() if t.when else None,
                "status": t.status,
                **t.details,
            }
            for t in escort_tasks(session, escort)
        ]
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(f"{escort} has no convoy in progress.")
        return
    t = Table("convoy", "status", "when", "what", "where", title=f"Tasks of {escort}")
    for r in rows:
        when = _local(datetime.fromisoformat(r["when"])) if r["when"] else ""
        style = {"done": "dim", "next": "bold"}.get(r["status"], "")
        t.add_row(r["convoy"], r["status"], when, r["what"], r["where"], style=style)
    console.print(t)


@friendly
def track_cmd(
    code: Annotated[str, typer.Argument(help="The convoy.")],
    import_file: Annotated[
        Path | None, typer.Option("--import", help="Import a GPX or CSV track file first.")
    ] = None,
    crs: Annotated[str, typer.Option(help="Datum of the file: wgs84, gcj02 or bd09.")] = "wgs84",
    limit: Annotated[int, typer.Option(help="Recent positions to show.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """A convoy's track: last positions, remaining distance and ETA (optionally import one)."""
    if crs not in ("wgs84", "gcj02", "bd09"):
        raise ValidationError(f"{crs!r} is not a datum; use wgs84, gcj02 or bd09.")
    imported: dict[str, Any] | None = None
    if import_file is not None:
        from models.tracking.trackfiles import import_track_file

        with session_scope() as session:
            r = import_track_file(session, code, import_file, datum=crs)  # type: ignore[arg-type]
        imported = {
            "read": r.read,
            "stored": r.stored,
            "duplicates": r.duplicates,
            "stale": r.stale,
            "rejected": [{"where": w, "reason": why} for w, why in r.rejected],
        }
    from models.tracking.ingest import track_summary

    with session_scope() as session:
        s = track_summary(session, code, limit)
    if imported is not None:
        s["import"] = imported
    if json_out:
        print_json(s)
        return
    if imported is not None:
        console.print(
            f"Imported {import_file}: {imported['stored']} stored, {imported['duplicates']} "
            f"already there, {len(imported['rejected'])} rejected of {imported['read']}."
        )
        for rej in imported["rejected"][:20]:
            console.print(f"  point/line {rej['where']}: {rej['reason']}")
    console.print(f"[bold]{code}[/bold] ({s['mode']}, {s['stage']}): {s['positions']} positions")
    if s["eta"]:
        late = s["late_minutes"]
        console.print(
            f"last fix {_local(datetime.fromisoformat(s['last']['at']))} at "
            f"{s['last']['lat']:.5f},{s['last']['lon']:.5f}; {s['remaining_km']} km to go; "
            f"ETA {_local(datetime.fromisoformat(s['eta']))} ({late:+d} min vs plan); "
            f"{s['off_route_km']} km from the route"
        )
    t = Table("at", "lat", "lon", "km/h", "source", title="Recent positions")
    for p in s["recent"]:
        kmh = "" if p["speed_kmh"] is None else f"{p['speed_kmh']:.0f}"
        t.add_row(
            _local(datetime.fromisoformat(p["at"])),
            f"{p['lat']:.5f}",
            f"{p['lon']:.5f}",
            kmh,
            p["source"],
        )
    console.print(t)


@friendly
def monitor(
    once: Annotated[bool, typer.Option(help="Run one check and deliver, then exit.")] = False,
    at: Annotated[str | None, typer.Option(help="With --once: check as of this time.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run the delay monitor (scheduler with its checks and notification delivery)."""
    from flows.service.monitor import check_once, run_monitor

    if once:
        now = parse_time(at) or utcnow()
        with acting_as(service("monitor"), "flow"):  # the monitor acts, not the operator
            report, delivered = check_once(now)
        data = {
            "checked": report.checked,
            "changes": [
                {"action": c.action, "convoy": c.code, "kind": c.kind, "alert_id": c.alert_id}
                for c in report.changes
            ],
            "sent": delivered.sent,
            "failed": delivered.failed,
        }
        if json_out:
            print_json(data)
        else:
            console.print(
                f"Checked {report.checked} convoys: {report.count('opened')} opened, "
                f"{report.count('escalated')} escalated, {report.count('resolved')} resolved; "
                f"{delivered.sent} notifications sent, {delivered.failed} failed."
            )
        return
    s = get_settings()
    console.print(
        f"Delay monitor: checks every {s.monitor_interval_minutes:g} min, delivers every "
        f"{s.outbox_poll_seconds:g} s. Ctrl-C stops it."
    )
    with acting_as(service("monitor"), "flow"):
        kept = run_monitor(s)
    if not kept:
        raise MonitorBusyError(
            "Another monitor took over this database while this one was not renewing its lease; "
            "this one stopped."
        )


@friendly
def outbox(
    status: Annotated[
        str | None, typer.Option(help="Only pending, sending, sent, dead or unaddressed.")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Deliver what is due now.")] = False,
    retry_dead: Annotated[bool, typer.Option(help="Queue dead messages again.")] = False,
    limit: Annotated[int, typer.Option(help="Messages to list.")] = 30,
    json_out: JsonOpt = False,
) -> None:
    """Notifications: what is queued, sent or failing (addresses masked)."""
    from flows.service.sender import deliver_due
    from models.notify.outbox import counts, list_messages, mask_url
    from models.notify.outbox import retry_dead as requeue

    if retry_dead:
        with session_scope() as session:
            n = requeue(session, utcnow())
        console.print(f"{n} dead message(s) queued again.")
    if send:
        delivered = deliver_due(utcnow())
        console.print(f"{delivered.sent} sent, {delivered.failed} failed.")
    with session_scope() as session:
        totals = counts(session)
        rows = [
            {
                "id": m.id,
                "kind": m.kind,
                "to": m.recipient_label,
                "address": mask_url(m.recipient) if m.recipient else "",
                "subject": m.subject,
                "status": m.status,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "last_error": m.last_error or None,
            }
            for m in list_messages(session, status, limit)
        ]
    if json_out:
        print_json({"counts": totals, "messages": rows})
        return
    console.print(", ".join(f"{k} {v}" for k, v in sorted(totals.items())) or "Outbox empty.")
    t = Table("id", "kind", "to", "address", "status", "tries", "subject", "last error")
    for r in rows:
        t.add_row(
            str(r["id"]), r["kind"], r["to"], r["address"], r["status"], str(r["attempts"]),  # type: ignore[arg-type]
            r["subject"], r["last_error"] or "",  # type: ignore[arg-type]
        )  # fmt: skip
    console.print(t)


@friendly
def serve(
    host: Annotated[str | None, typer.Option(help="Address of the HTTP API.")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the HTTP API (default 5055, Traccar's OsmAnd).")
    ] = None,
    prefect_port: Annotated[
        int, typer.Option(help="Port of the Prefect server it starts (without PREFECT_API_URL).")
    ] = 4200,
    registration_port: Annotated[
        int | None,
        typer.Option(help="Port of the enterprises' registration form and pages (default 8765)."),
    ] = None,
) -> None:
    """Run an operation: a Prefect server, the deployments, the HTTP API (with the escorts' and
    coordinators' pages), the enterprises' registration form and pages, the delay monitor.

    The Prefect server is started here on the SQLite under var/prefect unless PREFECT_API_URL
    points at one. Ctrl-C stops every part; killing this process stops them too.
    """
    from flows.service.operation import serve_operation

    with acting_as(service("convoy serve"), "api"):  # requests do not act as the operator
        code = serve_operation(
            host,
            port,
            prefect_port,
            say=lambda line: console.print(line, highlight=False, soft_wrap=True),
            registration_port=registration_port,
        )
    if code:
        raise typer.Exit(code)


@friendly
def deploy(
    pool: Annotated[str, typer.Option(help="The Prefect work pool (type process).")],
) -> None:
    """Register the convoy, permit and campaign deployments on a work pool for workers
    (`prefect worker start --pool POOL`); needs PREFECT_API_URL."""
    from flows.service.deployments import deploy_to_pool
    from flows.service.live import server_url

    if not server_url():
        raise ValidationError("Set PREFECT_API_URL to the Prefect server to deploy to.")
    names = deploy_to_pool(pool)
    console.print(f"Deployed {', '.join(names)} to the work pool {pool}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the tracking, alert and notification commands to the ``convoy`` app."""
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(device_app, name="device")
    app.command("tasks")(tasks)
    app.command("track")(track_cmd)
    app.command("monitor")(monitor)
    app.command("outbox")(outbox)
    app.command("serve")(serve)
    app.command("deploy")(deploy)
