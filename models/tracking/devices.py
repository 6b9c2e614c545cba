"""Trackers: binding a phone to an escort and a convoy by a token, and storing its reports.

A **device** (the ``id`` a Traccar Client phone sends) is bound to an escort and a convoy by a
token. Only a hash of the token is stored; the token is shown once, when it is issued. A device
is bound only to a convoy its escort is assigned to.

Credentials that do not authenticate — no token, a wrong or replaced one, a revoked device — are
an ``AuthenticationError`` (HTTP 401); a device that authenticates but asks for something it may
not do is refused with a ``PermissionDeniedError`` (403).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings
from models.convoy.store import get_convoy, get_escort
from models.convoy.tables import Convoy, Escort
from models.db import utcnow
from models.errors import AuthenticationError, NotFoundError, ValidationError
from models.tracking.eta import Router
from models.tracking.fixes import Fix, shown
from models.tracking.ingest import IngestResult, ingest_fix
from models.tracking.tables import Device, DeviceReport


def hash_token(token: str) -> str:
    """The stored form of a device token (SHA-256, hex); the token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bind_device(session: Session, device_id: str, escort_key: str, code: str) -> tuple[Device, str]:
    """Bind a tracker id to an escort and a convoy; returns the device and a new token (shown
    once). Binding again (another convoy, a lost token) issues a new token; the old one stops."""
    device_id = device_id.strip()
    if not device_id or len(device_id) > 64:
        raise ValidationError("A device id is 1 to 64 characters (the id set in the phone app).")
    escort = get_escort(session, escort_key)
    convoy = get_convoy(session, code)
    if convoy.id not in _assigned(session, escort.id):
        raise ValidationError(
            f"Escort {escort.badge} is not assigned to convoy {convoy.code}; assign them in the "
            "plan first (a device reports only for its escort's own convoys)."
        )
    token = secrets.token_urlsafe(24)
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    if found is None:
        found = Device(
            device_id=device_id,
            token_hash=hash_token(token),
            escort_id=escort.id,  # type: ignore[arg-type]
            convoy_id=convoy.id,  # type: ignore[arg-type]
        )
        session.add(found)
    else:
        found.token_hash = hash_token(token)
        found.escort_id = escort.id  # type: ignore[assignment]
        found.convoy_id = convoy.id  # type: ignore[assignment]
        found.active = True
    session.flush()
    return found, token


def _assigned(session: Session, escort_id: int | None) -> set[int]:
    from models.convoy.tables import Assignment

    rows = session.execute(
        select(col(Assignment.convoy_id)).where(col(Assignment.escort_id) == escort_id)
    ).scalars()
    return {int(r) for r in rows}


def revoke_device(session: Session, device_id: str) -> Device:
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    if found is None:
        raise NotFoundError(f"There is no device {shown(device_id)}; see 'convoy device list'.")
    found.active = False
    session.flush()
    return found


def authenticate_device(session: Session, device_id: str, token: str) -> Device:
    """The active device ``device_id`` if ``token`` is its token (constant-time comparison);
    an ``AuthenticationError`` (401) otherwise, a revoked device included."""
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    ok = (
        found is not None
        and bool(token)
        and hmac.compare_digest(found.token_hash, hash_token(token))
    )
    if not ok or found is None:
        raise AuthenticationError(
            f"Device {shown(device_id)} is not bound or its token is wrong; bind it with "
            "'convoy device bind' and put the token in the app's server URL."
        )
    if not found.active:
        raise AuthenticationError(revoked_message(found))
    return found


def revoked_message(device: Device) -> str:
    return (
        f"Device {shown(device.device_id)} has been revoked and may not report any more; ask a "
        "coordinator to bind it again with 'convoy device bind'."
    )


def list_devices(session: Session) -> list[tuple[Device, Escort, Convoy]]:
    rows = session.execute(
        select(Device, Escort, Convoy)
        .join(Escort, Escort.id == Device.escort_id)  # type: ignore[arg-type]
        .join(Convoy, Convoy.id == Device.convoy_id)  # type: ignore[arg-type]
        .order_by(Device.device_id)
    ).all()
    return [(d, e, c) for d, e, c in rows]


def ingest_device_fix(
    session: Session,
    device: Device,
    fix: Fix,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> IngestResult:
    """A tracker's report: store the fix under the device's convoy and log its telemetry."""
    now = now or utcnow()
    convoy = session.get(Convoy, device.convoy_id)
    if convoy is None:  # pragma: no cover - foreign key
        raise NotFoundError(f"Device {device.device_id} is bound to a convoy that is gone.")
    result = ingest_fix(
        session,
        convoy,
        fix,
        source=f"device:{device.device_id}",
        now=now,
        settings=settings,
        router=router,
    )
    session.add(
        DeviceReport(
            device_id=device.device_id,
            convoy_id=convoy.id,  # type: ignore[arg-type]
            at=fix.at,
            lat=fix.lat,
            lon=fix.lon,
            speed_kmh=fix.speed_kmh,
            bearing=fix.bearing,
            altitude=fix.altitude,
            accuracy=fix.accuracy,
            battery=fix.battery,
            status=result.status.value,
            received_at=now,
        )
    )
    device.last_seen_at = now
    if fix.battery is not None:
        device.battery = fix.battery
    session.add(device)
    session.flush()
    return result
