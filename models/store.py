"""Look-ups and idempotent upserts for campaigns, enterprises, escorts, convoys and passengers."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from models.custody import record_registration
from models.db import utcnow
from models.errors import NotFoundError, ValidationError
from models.lifecycle import Custody, Mode, Stage
from models.tables import Assignment, Campaign, Convoy, Enterprise, Escort, Passenger

_P = Passenger.__table__  # type: ignore[attr-defined]

_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")


def normalise_enterprise_name(name: str) -> str:
    """Full-width → half-width, no spaces or brackets, no 有限公司-style suffix, lower case."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = re.sub(r"[\s()（）\[\]【】·.,，]", "", text)
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text


def get_convoy(session: Session, code: str) -> Convoy:
    convoy = session.execute(select(Convoy).where(Convoy.code == code)).scalars().first()
    if convoy is None:
        codes = list(session.execute(select(Convoy.code)).scalars())
        near = difflib.get_close_matches(code, codes, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise NotFoundError(f"There is no convoy with the code {code!r}.{hint}")
    return convoy


def list_convoys(session: Session, campaign: str | None = None) -> list[Convoy]:
    stmt = select(Convoy).order_by(Convoy.planned_departure, Convoy.code)  # type: ignore[arg-type]
    if campaign:
        stmt = stmt.join(Campaign).where(Campaign.name == campaign)
    return list(session.execute(stmt).scalars())


def get_campaign(session: Session, name: str) -> Campaign:
    found = session.execute(select(Campaign).where(Campaign.name == name)).scalars().first()
    if found is None:
        raise NotFoundError(f"There is no campaign named {name!r}.")
    return found


def upsert_campaign(session: Session, name: str, **fields: Any) -> Campaign:
    found = session.execute(select(Campaign).where(Campaign.name == name)).scalars().first()
    if found is None:
        found = Campaign(name=name, **fields)
        session.add(found)
    else:
        for key, value in fields.items():
            setattr(found, key, value)
    session.flush()
    return found


def upsert_enterprise(session: Session, name: str, **fields: Any) -> Enterprise:
    found = session.execute(select(Enterprise).where(Enterprise.name == name)).scalars().first()
    if found is None:
        found = Enterprise(name=name, norm_name=normalise_enterprise_name(name), **fields)
        session.add(found)
    else:
        for key, value in fields.items():
            setattr(found, key, value)
    session.flush()
    return found


def upsert_escort(session: Session, badge: str, **fields: Any) -> Escort:
    found = session.execute(select(Escort).where(Escort.badge == badge)).scalars().first()
    if found is None:
        found = Escort(badge=badge, **fields)
        session.add(found)
    else:
        for key, value in fields.items():
            setattr(found, key, value)
    session.flush()
    return found


def get_escort(session: Session, key: str) -> Escort:
    """An escort by badge number, or by name when that is unique."""
    found = session.execute(select(Escort).where(Escort.badge == key)).scalars().first()
    if found is not None:
        return found
    named = list(session.execute(select(Escort).where(Escort.name == key)).scalars())
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        badges = ", ".join(e.badge for e in named)
        raise ValidationError(f"Several escorts are named {key}; give the badge ({badges}).")
    raise NotFoundError(f"There is no escort with the badge or name {key!r}.")


def assign_escort(session: Session, convoy: Convoy, escort: Escort, role: str = "escort") -> None:
    exists = (
        session.execute(
            select(Assignment).where(
                Assignment.convoy_id == convoy.id, Assignment.escort_id == escort.id
            )
        )
        .scalars()
        .first()
    )
    if exists is None:
        session.add(Assignment(convoy_id=convoy.id, escort_id=escort.id, role=role))  # type: ignore[arg-type]
    else:
        exists.role = role
    session.flush()


def convoy_escorts(session: Session, convoy: Convoy) -> list[tuple[Escort, str]]:
    rows = session.execute(
        select(Escort, Assignment.role)
        .join(Assignment, Assignment.escort_id == Escort.id)  # type: ignore[arg-type]
        .where(Assignment.convoy_id == convoy.id)
        .order_by(Assignment.id)
    ).all()
    return [(e, role) for e, role in rows]


@dataclass
class ConvoySpec:
    """A convoy plan in resolved form (places already turned into coordinates)."""

    code: str
    mode: Mode
    origin_name: str
    origin: tuple[float, float]
    destination_name: str
    destination: tuple[float, float]
    planned_departure: datetime
    planned_arrival: datetime
    vehicle: str = ""
    origin_adcode: str = ""
    destination_adcode: str = ""
    waypoints: Sequence[dict[str, Any]] = ()
    campaign: str | None = None
    notes: str = ""


def upsert_convoy(session: Session, spec: ConvoySpec) -> Convoy:
    """Create a convoy or update its plan. A convoy that has started keeps its route and times."""
    if spec.planned_arrival <= spec.planned_departure:
        raise ValidationError(
            f"Convoy {spec.code}: the planned arrival must come after the planned departure."
        )
    campaign_id = upsert_campaign(session, spec.campaign).id if spec.campaign else None
    fields: dict[str, Any] = {
        "campaign_id": campaign_id,
        "mode": spec.mode.value,
        "vehicle": spec.vehicle,
        "origin_name": spec.origin_name,
        "origin_lat": spec.origin[0],
        "origin_lon": spec.origin[1],
        "origin_adcode": spec.origin_adcode,
        "destination_name": spec.destination_name,
        "destination_lat": spec.destination[0],
        "destination_lon": spec.destination[1],
        "destination_adcode": spec.destination_adcode,
        "waypoints": list(spec.waypoints),
        "planned_departure": spec.planned_departure,
        "planned_arrival": spec.planned_arrival,
        "notes": spec.notes,
    }
    found = session.execute(select(Convoy).where(Convoy.code == spec.code)).scalars().first()
    if found is None:
        found = Convoy(code=spec.code, **fields)
        session.add(found)
    elif found.stage == Stage.PLANNED.value:
        for key, value in fields.items():
            setattr(found, key, value)
    session.flush()
    return found


@dataclass
class PassengerRow:
    """One validated manifest row, ready to store."""

    name: str
    id_number: str
    phone: str = ""
    employer: str = ""
    origin: str = ""
    health_code: str = ""
    nat_result: str = ""
    nat_time: datetime | None = None
    temperature: float | None = None
    extra: dict[str, Any] | None = None


def match_enterprise(session: Session, employer: str) -> Enterprise | None:
    """Exact name first, then the normalised name."""
    exact = session.execute(select(Enterprise).where(Enterprise.name == employer)).scalars().first()
    if exact is not None:
        return exact
    norm = normalise_enterprise_name(employer)
    return session.execute(select(Enterprise).where(Enterprise.norm_name == norm)).scalars().first()


def add_passengers(
    session: Session, convoy: Convoy, rows: Iterable[PassengerRow], *, actor: str = "manifest"
) -> tuple[int, int]:
    """Add manifest rows not yet on the convoy (by ID number); returns (added, already there).

    Seats continue after the highest seat in use, so re-importing a file adds nothing.
    """
    assert convoy.id is not None
    if convoy.stage != Stage.PLANNED.value:
        raise ValidationError(
            f"Convoy {convoy.code} is at stage {convoy.stage}; passengers can only be added "
            "while it is planned."
        )
    existing = dict(
        session.execute(select(_P.c.id_number, _P.c.seat).where(_P.c.convoy_id == convoy.id)).all()
    )
    seat = max(existing.values(), default=0)
    enterprises: dict[str, int | None] = {}
    new: list[dict[str, Any]] = []
    skipped = 0
    for row in rows:
        if row.id_number in existing:
            skipped += 1
            continue
        if row.employer not in enterprises:
            ent = match_enterprise(session, row.employer) if row.employer else None
            enterprises[row.employer] = ent.id if ent else None
        seat += 1
        existing[row.id_number] = seat
        new.append(
            {
                "convoy_id": convoy.id,
                "seat": seat,
                "name": row.name,
                "id_number": row.id_number,
                "phone": row.phone,
                "employer": row.employer,
                "enterprise_id": enterprises[row.employer],
                "origin": row.origin,
                "health_code": row.health_code,
                "nat_result": row.nat_result,
                "nat_time": row.nat_time,
                "temperature": row.temperature,
                "entry_applied": False,
                "custody": Custody.REGISTERED.value,
                "custody_reason": "",
                "custody_location": "",
                "custody_at": None,
                "extra": row.extra or {},
            }
        )
    if new:
        session.execute(insert(Passenger), new)
        ids = session.execute(
            select(_P.c.id).where(_P.c.convoy_id == convoy.id, _P.c.seat > seat - len(new))
        ).scalars()
        record_registration(session, convoy, list(ids), at=utcnow(), actor=actor)
    return len(new), skipped


def passengers(session: Session, convoy: Convoy) -> list[Passenger]:
    return list(
        session.execute(
            select(Passenger).where(Passenger.convoy_id == convoy.id).order_by(Passenger.seat)  # type: ignore[arg-type]
        ).scalars()
    )
