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
from models.permits.queries import get_permit, permit_events
from models.permits.tables import PermitApplication


def permit_record(
    session: Session,
    app: PermitApplication,
    *,
    events: bool = False,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One application (and its pass) for output: times local, the phone masked."""
    permit = get_permit(session, app)
    record: dict[str, Any] = {
        "number": app.number,
        "id": app.id,
        "status": effective_status(app, permit, now).value,
        "enterprise": app.enterprise,
        "contact": app.contact_name,
        "phone": mask_phone(app.contact_phone),
        "plate": app.plate,
        "vehicle_type": app.vehicle_type,
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
    }
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
