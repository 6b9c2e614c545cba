"""Check-ins from escorts' phones and field tablets over HTTP, with a device or a user token.

A token issued by ``convoy device bind`` identifies one escort and one convoy: the device acts on
that convoy only, as that escort. A user's token (``convoy users token``) acts as that user, with
their role (``models.access.roles``): an escort on the convoys they escort, a coordinator on any.
The functions are what the JSON API in ``flows.api.tracker`` calls (``POST /api/checkins``,
``GET /api/convoy``, ``GET /api/tasks``):

* ``caller_for_token`` finds who a bearer token belongs to. Credentials that do not authenticate
  (none, unknown, expired, revoked — a revoked device too) are an ``AuthenticationError`` (401).
* ``convoy_for`` is the convoy a request acts on; asking for a convoy the caller may not act on
  (a device's other convoy, an escort's colleague's) is a ``ForbiddenError`` (403).
* ``field_checkin`` checks the request body strictly (``CheckinRequest``; unknown fields are
  refused, so a typo cannot silently record "nobody absent"; numbers finite, texts and lists
  short) and records it with ``record_checkin`` (source ``http``). Sent again with the same
  ``at``, the same report is not stored twice; sent with a ``client_id`` (a UUID the phone
  made, stored unique), a repeat returns the stored check-in whatever else it says: an offline
  queue that sends again is recorded exactly once.
* ``report_checkin`` is the same for any caller that knows the escort and the convoy (the
  escorts' phone page, ``flows.api.field``).
* ``caller_tasks`` gives tasks (and ``models.views.reports.convoy_status`` the convoy), never
  personal data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.access import actors
from models.access.actors import Actor
from models.access.roles import Role
from models.access.users import TOKEN_PREFIX, actor_for, authenticate, check, escort_convoys
from models.convoy.checkins import (
    PAYLOADS,
    Kind,
    PositionReport,
    ScreeningEntry,
    parse_payload,
    record_checkin,
    stored_payload,
)
from models.convoy.lifecycle import Stage
from models.convoy.store import get_convoy, lock_convoy
from models.convoy.tables import CheckIn, Convoy, Escort
from models.errors import AuthenticationError, PermissionDeniedError, ValidationError
from models.geo.datums import to_wgs84
from models.notify.escort_tasks import escort_tasks
from models.tracking.devices import hash_token, revoked_message
from models.tracking.fixes import TELEMETRY, parse_time, shown
from models.tracking.osmand import TimeValue, explain

SOURCE = "http"
_BODY_FIELDS = ("kind", "payload", "at", "convoy", "crs", "client_id")
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{7,63}")
TEXT_LIMIT = 500  # characters of any text in a check-in
LIST_LIMIT = 5000  # items of any list (a muster roll of a long train)
CODE_LIMIT = 64


class ForbiddenError(PermissionDeniedError):
    """The caller proved who it is but may not do this (another convoy, a role without the
    right)."""


class CheckinRequest(BaseModel):
    """``POST /api/checkins``: one escort report; ``payload`` as ``convoy checkin`` takes it."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind = Field(description="What is reported (the convoy checkin kinds).")
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="By kind — muster: {absent: [seat], reason}; screening and "
        "arrival_screening: {results: [{seat, temperature, retemperature, nat_result, "
        "nat_time, health_code}], location}; depart: {absent, reason}; position: {lat, lon, "
        "speed_kmh}; entry: {seats}; arrive: {missing, reason, location}; handoff: "
        "{enterprise, received_by, seats, location}.",
    )
    at: TimeValue
    convoy: str | None = Field(
        None, max_length=CODE_LIMIT, description="The convoy (needed when the caller has several)."
    )
    crs: Literal["wgs84", "gcj02", "bd09"] | None = Field(
        None, description="Datum of a position's lat/lon (stored in WGS-84)."
    )
    client_id: str | None = Field(
        None,
        pattern=_CLIENT_ID.pattern,
        description="An id the device made for this report (a UUID): sent again, the stored "
        "check-in is returned, so an offline queue records each report once.",
    )


# --- who is calling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who a bearer token stands for: a device (its escort, its one convoy) or a user."""

    actor: Actor
    device_id: str | None = None
    device_convoy_id: int | None = None

    @property
    def escort_id(self) -> int | None:
        return self.actor.escort_id


def caller_for_token(session: Session, token: str) -> Caller:
    """The device or user whose token is ``token``; an ``AuthenticationError`` (401) for no
    token, an unknown, expired or revoked one, and a revoked device or user."""
    from models.tracking.tables import Device

    token = (token or "").strip()
    if not token:
        raise AuthenticationError(
            "This request needs a token in an 'Authorization: Bearer TOKEN' header: a device "
            "token ('convoy device bind' prints it) or a user token ('convoy users token')."
        )
    found = (
        session.execute(select(Device).where(col(Device.token_hash) == hash_token(token)))
        .scalars()
        .first()
    )
    if found is None and token.startswith(TOKEN_PREFIX):
        return Caller(actor_for(authenticate(session, token)))
    if found is None:
        raise AuthenticationError(
            "The token is not valid (a device bound again gets a new token); ask for the "
            "current one: 'convoy device bind' prints a device's, 'convoy users token' a user's."
        )
    if not found.active:
        raise AuthenticationError(revoked_message(found))
    return Caller(
        actors.device(found.device_id, found.escort_id),
        device_id=found.device_id,
        device_convoy_id=found.convoy_id,
    )


def convoy_for(session: Session, caller: Caller, convoy: Any, action: str) -> Convoy:
    """The convoy a request acts on, after checking the caller may take ``action`` on it.

    A device acts on its bound convoy (naming another one is forbidden); a user names the
    convoy (``convoy``), except an escort with one active convoy, which is taken."""
    named = str(convoy).strip() if convoy not in (None, "") else ""
    if len(named) > CODE_LIMIT:
        raise ValidationError(f"The convoy code {shown(named)} is longer than {CODE_LIMIT}.")
    if caller.device_convoy_id is not None:
        bound = session.get(Convoy, caller.device_convoy_id)
        if bound is None:  # pragma: no cover - foreign key
            raise ForbiddenError(f"Device {caller.device_id} is bound to a convoy that is gone.")
        if named and named != bound.code:
            raise ForbiddenError(
                f"This device's token is for convoy {bound.code}, not {shown(named, quote=False)}; "
                "bind "
                "the device to that convoy with 'convoy device bind' to report for it."
            )
        target = bound
    elif named:
        target = get_convoy(session, named)
    else:
        target = _only_convoy(session, caller)
    try:
        check(session, caller.actor, action, convoy_id=target.id)
    except PermissionDeniedError as exc:
        raise ForbiddenError(str(exc)) from None
    return target


def _only_convoy(session: Session, caller: Caller) -> Convoy:
    if caller.actor.role == Role.ESCORT.value:
        ids = escort_convoys(session, caller.escort_id)
        active = [
            c
            for c in (session.get(Convoy, i) for i in sorted(ids))
            if c is not None and c.stage != Stage.CLOSED.value
        ]
        if len(active) == 1:
            return active[0]
    raise ValidationError('Name the convoy: add ?convoy=CODE (or "convoy" in the body).')


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


def _limits(value: Any, where: str, what: str, depth: int = 0) -> None:
    """Refuse what no check-in holds: texts over ``TEXT_LIMIT``, lists over ``LIST_LIMIT``,
    numbers that are not finite, true/false where the payload has only numbers and texts, and
    nesting deeper than a screening result. A handoff's ``signature`` (a PNG data URL) has its
    own limit in ``models.convoy.checkins``."""
    at = f" at {where}" if where else ""
    if depth > 4:
        raise ValidationError(f"The {what} check-in is nested too deeply{at}.")
    if isinstance(value, bool):
        raise ValidationError(f"The {what} check-in has true or false{at}, not a number or text.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"The {what} check-in has a number that is not finite{at}.")
    if isinstance(value, str) and len(value) > TEXT_LIMIT and where != "signature":
        raise ValidationError(
            f"The {what} check-in has a text longer than {TEXT_LIMIT} characters{at}."
        )
    if isinstance(value, list):
        if len(value) > LIST_LIMIT:
            raise ValidationError(
                f"The {what} check-in has a list longer than {LIST_LIMIT} items{at}."
            )
        for n, item in enumerate(value):
            _limits(item, f"{where}.{n}" if where else str(n), what, depth + 1)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _limits(item, f"{where}.{key}" if where else str(key), what, depth + 1)


def _kind(value: Any) -> Kind:
    kinds = ", ".join(k.value for k in Kind)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"The check-in needs a 'kind': one of {kinds}.")
    text = value.strip().replace("-", "_")
    try:
        return Kind(text)
    except ValueError:
        raise ValidationError(
            f"{shown(value)} is not a kind of check-in; use one of {kinds}."
        ) from None


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
    speed = payload.get("speed_kmh")
    low, high = next((lo, hi) for name, lo, hi in TELEMETRY if name == "speed_kmh")
    if isinstance(speed, int | float) and not low <= speed <= high:
        raise ValidationError(
            f"The position check-in's speed_kmh {shown(speed)} is not from {low:g} to {high:g}."
        )
    if crs in (None, "", "wgs84"):
        return payload
    if crs not in ("gcj02", "bd09"):
        raise ValidationError(f"{shown(crs)} is not a datum; use wgs84, gcj02 or bd09.")
    report = PositionReport.model_validate(parse_payload(Kind.POSITION.value, payload))
    lat, lon = to_wgs84(report.lat, report.lon, "gcj02" if crs == "gcj02" else "bd09")
    return {**payload, "lat": lat, "lon": lon}


def _same_report(
    session: Session,
    convoy: Convoy,
    kind: Kind,
    at: datetime,
    escort_id: int | None,
    data: dict[str, Any],
    source: str = SOURCE,
) -> CheckIn | None:
    """An identical check-in already stored (a retry after a lost response)."""
    rows = session.execute(
        select(CheckIn).where(
            col(CheckIn.convoy_id) == convoy.id,
            col(CheckIn.kind) == kind.value,
            col(CheckIn.at) == at,
            col(CheckIn.escort_id) == escort_id
            if escort_id is not None
            else col(CheckIn.escort_id).is_(None),
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
    caller: Caller,
    body: Any,
    *,
    now: datetime,
    convoy: str | None = None,
    settings: Settings | None = None,
) -> tuple[CheckIn, Convoy, bool]:
    """Record the check-in ``body`` (``CheckinRequest``: ``{"kind", "payload", "at"?, "convoy"?,
    "crs"?, "client_id"?}``) as the caller (a device for its convoy as its escort; a user on the
    convoy named, within their role). Returns the check-in, its convoy and whether it is new:
    the same report sent again with the same ``at`` (or the same ``client_id``) returns the
    stored one."""
    if not isinstance(body, Mapping):
        raise ValidationError('The request body must be a JSON object like {"kind": "depart"}.')
    named = body.get("convoy") or convoy
    if convoy and body.get("convoy") and str(body["convoy"]).strip() != convoy.strip():
        raise ValidationError("The body and the query name two different convoys.")
    target = convoy_for(session, caller, named, "checkin.write")
    escort = session.get(Escort, caller.escort_id) if caller.escort_id else None
    checkin, created = report_checkin(
        session, target, escort, body, now=now, settings=settings, source=SOURCE
    )
    return checkin, target, created


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
            f"The check-in has no field {shown(extra[0])}; send kind, payload and optionally at."
        )
    client_id = _client_id(body.get("client_id"))
    if client_id is not None:
        # A repeat sent at the same moment waits for the convoy, then finds it.
        lock_convoy(session, convoy.code)
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
    _limits(payload, "", kind.value)
    try:
        request = CheckinRequest.model_validate({**body, "kind": kind, "payload": payload})
    except PydanticError as exc:
        raise explain(exc, "The check-in") from None
    if request.crs not in (None, "wgs84") and kind is not Kind.POSITION:
        raise ValidationError("'crs' applies to position check-ins only.")
    if kind is Kind.POSITION:
        payload = _position(payload, request.crs)
    at = _at(request.at, now, settings)
    escort_id = escort.id if escort is not None else None
    if request.at not in (None, ""):
        data = stored_payload(session, convoy, kind, parse_payload(kind.value, payload))
        earlier = _same_report(session, convoy, kind, at, escort_id, data, source)
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


def caller_tasks(
    session: Session, caller: Caller, convoy: Convoy, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Tasks on ``convoy`` (none once it is closed): the caller's own when they are an escort
    (or an escort's device), else those of every escort of the convoy; times in the display time
    zone; passengers appear only as counts."""
    from models.convoy.tables import Assignment

    settings = settings or get_settings()
    if caller.escort_id is not None:
        escort_ids = [caller.escort_id]
    else:
        escort_ids = list(
            session.execute(
                select(col(Assignment.escort_id)).where(col(Assignment.convoy_id) == convoy.id)
            ).scalars()
        )
    out: list[dict[str, Any]] = []
    for escort_id in escort_ids:
        escort = session.get(Escort, escort_id)
        if escort is None:  # pragma: no cover - foreign key
            continue
        out += [
            {
                "convoy": t.convoy,
                "escort": escort.badge,
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
    return out
