"""Check-ins from escorts' phones and field tablets over HTTP, with the device token.

A token issued by ``convoy device bind`` identifies one escort and one convoy: everything here
acts on that convoy only, as that escort. The functions are what the JSON API in
``flows.api.tracker`` calls (``POST /api/checkins``, ``GET /api/convoy``, ``GET /api/tasks``):

* ``device_for_token`` finds the device a bearer token belongs to. A bad token is an
  ``AuthenticationError`` (401); a revoked device or a request naming another convoy is a
  ``ForbiddenError`` (403).
* ``field_checkin`` checks the request body strictly (unknown fields are refused, so a typo
  cannot silently record "nobody absent") and records it with ``record_checkin`` (source
  ``http``). Sent again with the same ``at``, the same report is not stored twice; sent with a
  ``client_id`` (a UUID the phone made, stored unique), a repeat returns the stored check-in
  whatever else it says: an offline queue that sends again is recorded exactly once.
* ``report_checkin`` is the same for any caller that knows the escort and the convoy (the
  escorts' phone page, ``flows.api.field``).
* ``device_tasks`` gives tasks (and ``models.views.reports.convoy_status`` the convoy), never
  personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.convoy.checkins import (
    PAYLOADS,
    Kind,
    PositionReport,
    ScreeningEntry,
    parse_payload,
    record_checkin,
    stored_payload,
)
from models.convoy.store import lock_convoy
from models.convoy.tables import CheckIn, Convoy, Escort
from models.errors import AuthenticationError, ValidationError
from models.geo.datums import to_wgs84
from models.notify.escort_tasks import escort_tasks
from models.tracking.devices import hash_token
from models.tracking.fixes import parse_time
from models.tracking.tables import Device

SOURCE = "http"
_BODY_FIELDS = ("kind", "payload", "at", "convoy", "crs", "client_id")
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{7,63}")


class ForbiddenError(AuthenticationError):
    """The caller proved who it is but may not do this (revoked device, another convoy)."""


# --- who is calling ---------------------------------------------------------------------------


def device_for_token(session: Session, token: str, convoy: Any = None) -> Device:
    """The active device whose token is ``token``; ``convoy``, when the request names one, must
    be the convoy the device is bound to (see ``check_scope``)."""
    token = (token or "").strip()
    if not token:
        raise AuthenticationError(
            "This request needs the device token in an 'Authorization: Bearer TOKEN' header; "
            "'convoy device bind' prints it."
        )
    found = (
        session.execute(select(Device).where(col(Device.token_hash) == hash_token(token)))
        .scalars()
        .first()
    )
    if found is None:
        raise AuthenticationError(
            "The device token is not valid (a device bound again gets a new token); ask for "
            "the current one, printed by 'convoy device bind'."
        )
    if not found.active:
        raise ForbiddenError(
            f"Device {found.device_id} has been revoked and may not report any more; ask a "
            "coordinator to bind it again with 'convoy device bind'."
        )
    check_scope(session, found, convoy)
    return found


def check_scope(session: Session, device: Device, convoy: Any = None) -> Convoy:
    """The convoy the device is bound to; a request naming another one is forbidden."""
    bound = session.get(Convoy, device.convoy_id)
    if bound is None:  # pragma: no cover - foreign key
        raise ForbiddenError(f"Device {device.device_id} is bound to a convoy that is gone.")
    if convoy not in (None, "") and str(convoy).strip() != bound.code:
        raise ForbiddenError(
            f"This device's token is for convoy {bound.code}, not {str(convoy).strip()}; bind "
            "the device to that convoy with 'convoy device bind' to report for it."
        )
    return bound


# --- check-ins --------------------------------------------------------------------------------


def _refuse_unknown(kind: Kind, payload: Mapping[str, Any]) -> None:
    """Refuse fields the kind does not have (pydantic would drop them without a word)."""
    model = PAYLOADS[kind]
    extra = sorted(set(payload) - set(model.model_fields))
    if extra:
        fields = ", ".join(model.model_fields)
        raise ValidationError(
            f"The {kind.value} check-in has no field {extra[0]!r}; its fields are {fields}."
        )
    results = payload.get("results")
    if kind in (Kind.SCREENING, Kind.ARRIVAL_SCREENING) and isinstance(results, list):
        for n, entry in enumerate(results):
            if not isinstance(entry, Mapping):
                continue  # parse_payload says what is wrong with it
            extra = sorted(set(entry) - set(ScreeningEntry.model_fields))
            if extra:
                fields = ", ".join(ScreeningEntry.model_fields)
                raise ValidationError(
                    f"The {kind.value} check-in has no field {extra[0]!r} at results.{n}; "
                    f"a result has {fields}."
                )


def _kind(value: Any) -> Kind:
    if not isinstance(value, str) or not value.strip():
        kinds = ", ".join(k.value for k in Kind)
        raise ValidationError(f"The check-in needs a 'kind': one of {kinds}.")
    text = value.strip().replace("-", "_")
    try:
        return Kind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise ValidationError(f"{value!r} is not a kind of check-in; use one of {kinds}.") from None


def _at(value: Any, now: datetime, settings: Settings) -> datetime:
    if value is None or value == "":
        return now
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValidationError("The check-in's 'at' must be an ISO 8601 time or Unix seconds.")
    at = parse_time(value, settings.tz)  # without an offset: the display time zone
    ahead = settings.rule_set.tracking.future_tolerance_min
    if at > now + timedelta(minutes=ahead):
        raise ValidationError(
            f"The check-in is dated {at.isoformat()}, later than the server clock allows; "
            "check the device's clock."
        )
    return at


def _position(payload: dict[str, Any], crs: Any) -> dict[str, Any]:
    """A position given in GCJ-02 or BD-09 (Chinese map apps) is stored in WGS-84."""
    if crs in (None, "", "wgs84"):
        return payload
    if crs not in ("gcj02", "bd09"):
        raise ValidationError(f"{crs!r} is not a datum; use wgs84, gcj02 or bd09.")
    report = PositionReport.model_validate(parse_payload(Kind.POSITION.value, payload))
    lat, lon = to_wgs84(report.lat, report.lon, "gcj02" if crs == "gcj02" else "bd09")
    return {**payload, "lat": lat, "lon": lon}


def _same_report(
    session: Session,
    convoy: Convoy,
    kind: Kind,
    at: datetime,
    escort_id: int,
    data: dict[str, Any],
    source: str = SOURCE,
) -> CheckIn | None:
    """An identical check-in already stored (a retry after a lost response)."""
    rows = session.execute(
        select(CheckIn).where(
            col(CheckIn.convoy_id) == convoy.id,
            col(CheckIn.kind) == kind.value,
            col(CheckIn.at) == at,
            col(CheckIn.escort_id) == escort_id,
            col(CheckIn.source) == source,
        )
    ).scalars()
    return next((ci for ci in rows if ci.payload == data), None)


def _client_id(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or _CLIENT_ID.fullmatch(value) is None:
        raise ValidationError(
            "The check-in's 'client_id' must be 8 to 64 letters, digits, '-' or '_' (a UUID)."
        )
    return value


def stored_by_client_id(session: Session, convoy: Convoy, client_id: str) -> CheckIn | None:
    """The check-in stored earlier with this device-made id (None: a new one). An id used for
    another convoy is refused: it cannot be the same report."""
    found = (
        session.execute(select(CheckIn).where(col(CheckIn.client_id) == client_id))
        .scalars()
        .first()
    )
    if found is not None and found.convoy_id != convoy.id:
        raise ValidationError(
            "This check-in's client_id was already used for another convoy; a device makes a "
            "new id for every report."
        )
    return found


def field_checkin(
    session: Session,
    device: Device,
    body: Any,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> tuple[CheckIn, bool]:
    """Record the check-in ``body`` (``{"kind", "payload", "at"?, "convoy"?, "crs"?,
    "client_id"?}``) for the device's convoy as its escort. Returns the check-in and whether it
    is new: the same report sent again with the same ``at`` (or the same ``client_id``)
    returns the stored one."""
    if not isinstance(body, Mapping):
        raise ValidationError('The request body must be a JSON object like {"kind": "depart"}.')
    convoy = check_scope(session, device, body.get("convoy"))
    escort = session.get(Escort, device.escort_id)
    return report_checkin(session, convoy, escort, body, now=now, settings=settings, source=SOURCE)


def report_checkin(
    session: Session,
    convoy: Convoy,
    escort: Escort | None,
    body: Any,
    *,
    now: datetime,
    settings: Settings | None = None,
    source: str = SOURCE,
) -> tuple[CheckIn, bool]:
    """Check ``body`` strictly and record it for ``convoy`` as ``escort`` (``record_checkin``);
    returns the check-in and whether it is new (see ``field_checkin``)."""
    settings = settings or get_settings()
    if not isinstance(body, Mapping):
        raise ValidationError('The request body must be a JSON object like {"kind": "depart"}.')
    extra = sorted(set(body) - set(_BODY_FIELDS))
    if extra:
        raise ValidationError(
            f"The check-in has no field {extra[0]!r}; send kind, payload and optionally at."
        )
    client_id = _client_id(body.get("client_id"))
    if client_id is not None:
        lock_convoy(session, convoy.code)  # a repeat sent at the same moment waits, then finds it
        earlier = stored_by_client_id(session, convoy, client_id)
        if earlier is not None:
            return earlier, False
    kind = _kind(body.get("kind"))
    payload = body.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise ValidationError(f"The {kind.value} check-in's 'payload' must be a JSON object.")
    payload = dict(payload)
    _refuse_unknown(kind, payload)
    if body.get("crs") not in (None, "", "wgs84") and kind is not Kind.POSITION:
        raise ValidationError("'crs' applies to position check-ins only.")
    if kind is Kind.POSITION:
        payload = _position(payload, body.get("crs"))
    at = _at(body.get("at"), now, settings)
    if body.get("at") not in (None, "") and escort is not None:
        data = stored_payload(session, convoy, kind, parse_payload(kind.value, payload))
        earlier = _same_report(session, convoy, kind, at, escort.id or 0, data, source)
        if earlier is not None:
            return earlier, False
    checkin = record_checkin(
        session,
        convoy.code,
        kind.value,
        payload,
        at=at,
        escort=escort,
        source=source,
        settings=settings,
        client_id=client_id,
    )
    return checkin, True


def checkin_view(
    checkin: CheckIn, convoy: Convoy, settings: Settings | None = None
) -> dict[str, Any]:
    """What the API answers for a check-in; the time in the display time zone."""
    tz = (settings or get_settings()).tz
    return {
        "id": checkin.id,
        "kind": checkin.kind,
        "convoy": convoy.code,
        "at": checkin.at.astimezone(tz).isoformat(),
    }


# --- what the escort sees ---------------------------------------------------------------------


def device_tasks(
    session: Session, device: Device, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The escort's tasks on the device's convoy (none once it is closed), times in the display
    time zone; passengers appear only as counts."""
    settings = settings or get_settings()
    escort = session.get(Escort, device.escort_id)
    convoy = check_scope(session, device)
    if escort is None:  # pragma: no cover - foreign key
        return []
    return [
        {
            "convoy": t.convoy,
            "step": t.step,
            "what": t.what,
            "where": t.where,
            "when": t.when.astimezone(settings.tz).isoformat() if t.when else None,
            "status": t.status,
            **t.details,
        }
        for t in escort_tasks(session, escort.badge, settings)
        if t.convoy == convoy.code
    ]
