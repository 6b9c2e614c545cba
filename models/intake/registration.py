"""Enterprise registration codes: signed links (QR codes) to each enterprise's returning-worker
registration form; registrations feed the enterprise's worker pool, from which manifests are
drawn.

A link is ``<base>/r/<enterprise id>.<expiry (unix s)>.<HMAC-SHA256>``; the key is the setting
``registration_secret`` or one generated once and kept in ``var_dir/registration.key``. A link
whose signature does not match (tampered) or whose time has passed (expired) is refused. The
enterprise's own page (``<base>/e/…``, its registered workers and their history) has links of
the same shape signed for that purpose: a form link does not open it.

Registering again with a known ID number never overwrites silently: a changed registration
becomes a new version, and every version is kept (``versions``) and shown to the enterprise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import UniqueConstraint, select, update
from sqlmodel import Field, Session, SQLModel

from config import Settings, get_settings
from models.convoy.store import PassengerRow, add_passengers, get_convoy
from models.convoy.tables import Enterprise
from models.db import UTCDateTime, utcnow
from models.errors import NotFoundError, ValidationError
from models.intake.manifest import FIELDS, Flagged, Layout, Problem, RowParser, masked


class Registration(SQLModel, table=True):
    """A worker registered through an enterprise's form (the enterprise's worker pool), with
    the values of their newest version."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("enterprise_id", "id_number"),)
    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    name: str
    id_number: str = Field(index=True)
    phone: str = ""
    origin: str = ""
    health_code: str = ""
    nat_result: str = ""
    nat_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    temperature: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    convoy_id: int | None = Field(default=None, foreign_key="convoy.id", index=True)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RegistrationVersion(SQLModel, table=True):
    """One submitted version of a registration (append-only: the history of a person's entry)."""

    __tablename__ = "registration_version"
    __table_args__ = (UniqueConstraint("registration_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    version: int
    name: str
    phone: str = ""
    origin: str = ""
    health_code: str = ""
    nat_result: str = ""
    nat_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    temperature: float | None = None
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


VERSIONED = ("name", "phone", "origin", "health_code", "nat_result", "nat_time", "temperature")


class LinkError(ValidationError):
    """A registration link that is tampered with (``expired`` False) or out of date."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class FormError(ValidationError):
    """A registration form with problems (one per field)."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


def signing_key(settings: Settings | None = None) -> bytes:
    settings = settings or get_settings()
    if settings.registration_secret:
        return settings.registration_secret.encode()
    path = settings.var_dir / "registration.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def _sign(body: str, key: bytes) -> str:
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _signed(body: str, purpose: str) -> str:
    """What a link's signature covers: the form's links keep the shape of release 0.1."""
    return body if purpose == "form" else f"{purpose}:{body}"


def make_token(enterprise_id: int, expires: datetime, key: bytes, purpose: str = "form") -> str:
    body = f"{enterprise_id}.{int(expires.timestamp())}"
    return f"{body}.{_sign(_signed(body, purpose), key)}"


def read_token(token: str, key: bytes, now: datetime | None = None, purpose: str = "form") -> int:
    """The enterprise id of a valid link; ``LinkError`` when tampered with or expired."""
    m = re.fullmatch(r"(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})", token or "")
    if m is None or not hmac.compare_digest(_sign(_signed(f"{m[1]}.{m[2]}", purpose), key), m[3]):
        raise LinkError("This registration link is not valid; ask the enterprise for its code.")
    expires = datetime.fromtimestamp(int(m[2]), UTC)
    if (now or utcnow()) >= expires:
        raise LinkError(
            f"This registration link expired on {expires:%Y-%m-%d}; ask the enterprise for a "
            "new code.",
            expired=True,
        )
    return int(m[1])


@dataclass(frozen=True)
class Code:
    enterprise: str
    url: str
    expires: datetime
    png: Path
    svg: Path


def _enterprise(session: Session, name: str) -> Enterprise:
    from models.intake.enterprises import EnterpriseIndex

    found = EnterpriseIndex(session).match(name)
    if found.id is None:
        raise NotFoundError(f"There is no enterprise named {name}: {found.reason}.")
    ent = session.get(Enterprise, found.id)
    assert ent is not None
    return ent


def enterprise_code(
    session: Session,
    name: str,
    *,
    days: int | None = None,
    base_url: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Code:
    """Write the enterprise's QR code (PNG and SVG) holding its signed registration link."""
    import segno

    settings = settings or get_settings()
    ent = _enterprise(session, name)
    assert ent.id is not None
    expires = (now or utcnow()) + timedelta(days=days or settings.registration_link_days)
    base = (base_url or settings.registration_base_url).rstrip("/")
    url = f"{base}/r/{make_token(ent.id, expires, signing_key(settings))}"
    folder = settings.output_dir / "qr"
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w\-]+", "_", ent.name).strip("_") or f"enterprise-{ent.id}"
    qr = segno.make(url, error="m")
    png, svg = folder / f"{stem}.png", folder / f"{stem}.svg"
    qr.save(str(png), scale=8, border=4)
    qr.save(str(svg), scale=4, border=4, title=f"{ent.name} 返岗人员登记")
    return Code(ent.name, url, expires, png, svg)


def enterprise_link(
    session: Session,
    name: str,
    *,
    days: int | None = None,
    base_url: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """The enterprise's own signed link (its registered workers and their history) and expiry."""
    settings = settings or get_settings()
    ent = _enterprise(session, name)
    assert ent.id is not None
    expires = (now or utcnow()) + timedelta(days=days or settings.registration_link_days)
    base = (base_url or settings.registration_base_url).rstrip("/")
    token = make_token(ent.id, expires, signing_key(settings), purpose="enterprise")
    return f"{base}/e/{token}", expires


def enterprise_for(
    session: Session, token: str, settings: Settings | None = None, purpose: str = "form"
) -> Enterprise:
    eid = read_token(token, signing_key(settings), purpose=purpose)
    ent = session.get(Enterprise, eid)
    if ent is None:
        raise LinkError("This registration link names an enterprise that no longer exists.")
    return ent


# Warnings that a form accepts: what the person declares is recorded, screening decides.
_ADVISORY = frozenset({"declared_unfit", "nat_stale"})
FORM_FIELDS = ("name", "id_number", "phone", "origin", "health_code", "nat_result", "nat_time")
# The longest value each field takes (characters); a longer one is refused, never stored.
FIELD_LIMITS = {"name": 50, "id_number": 32, "phone": 32, "origin": 100, "health_code": 16,
                "nat_result": 16, "nat_time": 40}  # fmt: skip


def validate_form(
    form: dict[str, str], enterprise: Enterprise, settings: Settings | None = None
) -> PassengerRow:
    """The same rules as the manifest import (one row whose employer is the enterprise)."""
    settings = settings or get_settings()
    header = list(FIELDS)
    parser = RowParser(Layout.of(header), settings.tz, settings.rule_set.screening)
    values = {k: str(form.get(k, "") or "").strip() for k in FIELDS}
    long = [
        Problem(k, masked(k, values[k][:20]) + "…", f"is longer than {n} characters")
        for k, n in FIELD_LIMITS.items()
        if len(values[k]) > n
    ]
    if long:
        raise FormError("The registration has problems.", long)
    values["employer"] = enterprise.name
    nul = [
        Problem(k, masked(k, v.replace("\x00", "")), "the field holds a NUL character (0x00)")
        for k, v in values.items()
        if "\x00" in v
    ]
    if nul:  # no database text column can store one (PostgreSQL refuses them)
        raise FormError("The registration has problems.", nul)
    out = parser.parse(1, [values[k] for k in header])
    if isinstance(out, Flagged):  # a form is fixed on the spot: unreadable fields too
        problems = [*out.problems, *(w for w in out.warnings if w.code not in _ADVISORY)]
        if problems or out.row is None:
            raise FormError("The registration has problems.", problems)
        out = out.row
    if not out.phone:
        raise FormError(
            "The registration has problems.",
            [Problem("phone", "", "a mobile number is required to register")],
        )
    return out


def register_worker(
    session: Session, token: str, form: dict[str, str], settings: Settings | None = None
) -> tuple[Registration, str]:
    """Validate and store one registration; returns it and what happened: ``created``,
    ``new version`` (the same ID number with changed details: the old version is kept) or
    ``unchanged`` (the same details again: nothing is written)."""
    ent = enterprise_for(session, token, settings)
    row = validate_form(form, ent, settings)
    found = (
        session.execute(
            select(Registration).where(
                Registration.enterprise_id == ent.id,  # type: ignore[arg-type]
                Registration.id_number == row.id_number,  # type: ignore[arg-type]
            )
        )
        .scalars()
        .first()
    )
    data: dict[str, Any] = {
        "name": row.name, "phone": row.phone, "origin": row.origin,
        "health_code": row.health_code, "nat_result": row.nat_result,
        "nat_time": row.nat_time, "temperature": row.temperature,
    }  # fmt: skip
    if found is None:
        found = Registration(enterprise_id=ent.id, id_number=row.id_number, **data)  # type: ignore[arg-type]
        session.add(found)
        outcome = "created"
    elif all(getattr(found, k) == v for k, v in data.items()):
        return found, "unchanged"
    else:
        for k, v in data.items():
            setattr(found, k, v)
        found.version += 1
        found.updated_at = utcnow()
        session.add(found)
        outcome = "new version"
    session.flush()
    session.add(RegistrationVersion(registration_id=found.id, version=found.version, **data))  # type: ignore[arg-type]
    session.flush()
    return found, outcome


def versions(
    session: Session, enterprise_id: int
) -> list[tuple[Registration, list[RegistrationVersion]]]:
    """Every registration of an enterprise, newest first, each with its versions (oldest
    first; revision 0003 made version 1 of every registration made before)."""
    regs = list(
        session.execute(
            select(Registration)
            .where(Registration.enterprise_id == enterprise_id)  # type: ignore[arg-type]
            .order_by(Registration.id.desc())  # type: ignore[union-attr]
        ).scalars()
    )
    history: dict[int, list[RegistrationVersion]] = {}
    if regs:
        for v in session.execute(
            select(RegistrationVersion)
            .where(RegistrationVersion.registration_id.in_([r.id for r in regs]))  # type: ignore[attr-defined]
            .order_by(RegistrationVersion.version)  # type: ignore[arg-type]
        ).scalars():
            history.setdefault(v.registration_id, []).append(v)
    return [(r, history.get(r.id or 0, [])) for r in regs]


def pool(session: Session, enterprise: str, *, undrawn: bool = True) -> list[Registration]:
    ent = _enterprise(session, enterprise)
    stmt = select(Registration).where(Registration.enterprise_id == ent.id)  # type: ignore[arg-type]
    if undrawn:
        stmt = stmt.where(Registration.convoy_id.is_(None))  # type: ignore[union-attr]
    return list(session.execute(stmt.order_by(Registration.id)).scalars())  # type: ignore[arg-type]


def draw_manifest(
    session: Session, enterprise: str, code: str, *, limit: int | None = None
) -> dict[str, int]:
    """Put the enterprise's registered (not yet drawn) workers on convoy ``code``'s manifest,
    oldest registrations first; people already riding another active convoy stay in the pool."""
    from models.intake.importer import active_elsewhere

    convoy = get_convoy(session, code)
    ent = _enterprise(session, enterprise)
    people = pool(session, ent.name)
    elsewhere = active_elsewhere(session, convoy, [r.id_number for r in people])
    chosen = [r for r in people if r.id_number not in elsewhere][: limit or None]
    rows = [
        PassengerRow(
            name=r.name, id_number=r.id_number, phone=r.phone, employer=ent.name,
            origin=r.origin, health_code=r.health_code, nat_result=r.nat_result,
            nat_time=r.nat_time, temperature=r.temperature, extra={"source": "registration"},
        )
        for r in chosen
    ]  # fmt: skip
    added, already = add_passengers(
        session, convoy, rows, actor=f"registration pool {ent.name}",
        enterprise_ids={ent.name: ent.id},
    )  # fmt: skip
    if chosen:
        table = Registration.__table__  # type: ignore[attr-defined]
        session.connection().execute(
            update(table).where(table.c.id.in_([r.id for r in chosen])).values(convoy_id=convoy.id)
        )
    return {
        "added": added,
        "already_on_manifest": already,
        "riding_elsewhere": len(people) - len([r for r in people if r.id_number not in elsewhere]),
        "left_in_pool": len(people) - len(chosen),
    }
