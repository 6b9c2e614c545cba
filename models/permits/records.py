"""The one serialiser of an application and its pass: times local, the contact's phone masked
(``138****5678``) in every output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from config import Settings
from models.intake.identity import mask_phone
from models.labels import local_time
from models.permits.days import local_day
from models.permits.lifecycle import effective_status
from models.permits.queries import get_permits, get_vehicles, permit_events, plates_label
from models.permits.tables import Permit, PermitApplication, PermitTrip


def permit_record(
    session: Session,
    app: PermitApplication,
    *,
    events: bool = False,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One application (and its pass) for output: times local, the phone masked."""
    permits = get_permits(session, app)
    vehicles = get_vehicles(session, app)
    permit = max(permits, key=lambda p: p.valid_until) if permits else None
    record: dict[str, Any] = {
        "number": app.number,
        "id": app.id,
        "status": effective_status(app, permit, now).value,
        "enterprise": app.enterprise,
        "contact": app.contact_name,
        "phone": mask_phone(app.contact_phone),
        "plate": plates_label([v.plate for v in vehicles]),
        "vehicle_type": ", ".join(dict.fromkeys(v.vehicle_type for v in vehicles)),
        "vehicles": [
            {
                "seq": v.seq,
                "plate": v.plate,
                "vehicle_type": v.vehicle_type,
                "driver": v.driver,
                "driver_phone": mask_phone(v.driver_phone),
            }
            for v in vehicles
        ],
        "project": app.project,
        "site": app.site_name,
        "address": app.site_address,
        "site_point": [round(app.site_lat, 6), round(app.site_lon, 6)],
        "route": [w["name"] for w in app.waypoints or []],
        "requested_from": str(app.requested_from),
        "requested_until": str(app.requested_until),
        "applied_at": local_time(app.applied_at, settings),
        "reason": app.reason,
        "issued_at": local_time(permit.issued_at, settings) if permit else "",
        "valid_from": str(local_day(permit.valid_from, settings)) if permit else "",
        "valid_until": str(local_day(permit.valid_until, settings)) if permit else "",
        "delivered_at": local_time(permit.delivered_at, settings) if permit else "",
        "delivered_to": permit.delivered_to if permit else "",
        "passes": [pass_record(session, p, vehicles, settings) for p in permits],
    }
    if len(permits) > 1 and any(p.delivered_at is None for p in permits):
        record["delivered_at"] = record["delivered_to"] = ""  # not all delivered yet
    if events:
        record["events"] = [
            {
                "at": local_time(e.at, settings),
                "kind": e.kind,
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "note": e.note,
                **({"data": e.data} if e.data else {}),
            }
            for e in permit_events(session, app)
        ]
    return record


def pass_record(
    session: Session,
    p: Permit,
    vehicles: list[Any] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One pass: number, vehicle, validity, delivery (who received it, when, on which trip)."""
    from models.permits.tables import PermitVehicle

    vehicle = next((v for v in vehicles or [] if v.id == p.vehicle_id), None)
    if vehicle is None and p.vehicle_id is not None:
        vehicle = session.get(PermitVehicle, p.vehicle_id)
    trip = session.get(PermitTrip, p.trip_id) if p.trip_id else None
    return {
        "number": p.number,
        "plate": vehicle.plate if vehicle else "",
        "vehicle_type": vehicle.vehicle_type if vehicle else "",
        "driver": vehicle.driver if vehicle else "",
        "status": p.status,
        "valid_from": str(local_day(p.valid_from, settings)),
        "valid_until": str(local_day(p.valid_until, settings)),
        "delivered_at": local_time(p.delivered_at, settings) if p.delivered_at else "",
        "delivered_to": p.delivered_to,
        "trip": trip.number if trip else "",
    }
