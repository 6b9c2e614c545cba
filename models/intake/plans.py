"""Convoy plans from YAML (the format is documented in the README and docs/examples/plan.yaml).

Place names go through the offline gazetteer; explicit coordinates may be given in WGS-84,
GCJ-02 or BD-09 and are stored in WGS-84.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.lifecycle import Mode
from models.convoy.store import (
    ConvoySpec,
    assign_escort,
    get_escort,
    upsert_campaign,
    upsert_convoy,
    upsert_enterprise,
    upsert_escort,
)
from models.errors import ConvoyOpsError, ValidationError
from models.geo.datums import to_wgs84
from models.geo.gazetteer import resolve_place
from models.intake.enterprises import (
    campaign_city,
    city_of,
    enterprise_fields,
    import_enterprises,
    stored_collisions,
)
from models.intake.importer import import_manifest


@dataclass
class PlanResult:
    convoys: list[str] = field(default_factory=list)
    enterprises: int = 0
    escorts: int = 0
    passengers_added: int = 0
    passengers_rejected: int = 0
    passengers_flagged: int = 0
    rejection_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedPlace:
    name: str
    lat: float
    lon: float
    adcode: str = ""


def resolve(spec: Any, where: str) -> ResolvedPlace:
    """A place given as a name ('陕西省渭南市蒲城县'), or {name, hint} or {name, lat, lon, crs}."""
    if isinstance(spec, str):
        p = resolve_place(spec)
        return ResolvedPlace(p.full_name, p.lat, p.lon, p.adcode or "")
    if isinstance(spec, dict) and "name" in spec:
        if "lat" in spec and "lon" in spec:
            lat, lon = to_wgs84(float(spec["lat"]), float(spec["lon"]), spec.get("crs", "wgs84"))
            return ResolvedPlace(str(spec["name"]), lat, lon, str(spec.get("adcode", "")))
        p = resolve_place(str(spec["name"]), hint=spec.get("hint"))
        return ResolvedPlace(p.full_name, p.lat, p.lon, p.adcode or "")
    raise ValidationError(f"{where}: a place is a name, or a mapping with name (and lat/lon).")


def _time(value: Any, tz: ZoneInfo, where: str) -> datetime:
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, date):
        raise ValidationError(f"{where}: give a time of day as well as the date.")
    else:
        try:
            t = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValidationError(
                f"{where}: {value!r} is not a time like 2020-02-20 14:00."
            ) from None
    return t if t.tzinfo else t.replace(tzinfo=tz)


def load_plan(session: Session, path: Path, settings: Settings | None = None) -> PlanResult:
    """Create or update the campaign, enterprises, escorts, convoys and manifests of a plan."""
    settings = settings or get_settings()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ValidationError(f"The plan file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"The plan file {path} is not valid YAML: {exc}.") from None
    if not isinstance(doc, dict):
        raise ValidationError(f"The plan file {path} must hold a mapping at the top.")
    out = PlanResult()
    campaign = doc.get("campaign")
    if campaign:
        upsert_campaign(session, str(campaign))
    _load_enterprises(session, path, doc, out)
    for i, e in enumerate(doc.get("escorts") or [], start=1):
        if not isinstance(e, dict) or not e.get("badge") or not e.get("name"):
            raise ValidationError(f"{path.name}: escort {i} needs a badge and a name.")
        upsert_escort(
            session,
            str(e["badge"]),
            name=str(e["name"]),
            unit=str(e.get("unit", "")),
            phone=str(e.get("phone", "")),
            notify_url=str(e.get("notify", "")),
        )
        out.escorts += 1
    for i, c in enumerate(doc.get("convoys") or [], start=1):
        _load_convoy(session, path, c, i, campaign, settings, out)
    if not out.convoys and not out.enterprises and not out.escorts:
        raise ValidationError(f"The plan file {path} has no convoys, enterprises or escorts.")
    return out


def _destination_city(session: Session, doc: dict[str, Any]) -> str | None:
    """Where the plan's workers go: ``within``, else the city most of its convoys go to, else
    the stored campaign's (districts of enterprises are resolved there first)."""
    if doc.get("within"):
        return str(doc["within"])
    cities: dict[str, int] = {}
    for c in doc.get("convoys") or []:
        if isinstance(c, dict) and c.get("destination"):
            try:
                city = city_of(resolve(c["destination"], "destination").adcode)
            except ConvoyOpsError:
                continue
            if city:
                cities[city] = cities.get(city, 0) + 1
    if cities:
        return max(cities, key=lambda k: cities[k])
    campaign = doc.get("campaign")
    return campaign_city(session, str(campaign)) if campaign else None


def _load_enterprises(session: Session, path: Path, doc: dict[str, Any], out: PlanResult) -> None:
    """``enterprises:`` is a list of mappings or the name of an enterprise list (CSV/XLSX,
    relative to the plan file)."""
    given = doc.get("enterprises")
    if not given:
        return
    within = _destination_city(session, doc)
    if isinstance(given, str):
        report = import_enterprises(session, (path.parent / given).resolve(), within=within)
        if report.problems:
            first = report.problems[0]
            raise ValidationError(
                f"{path.name}: the enterprise list {given} has {len(report.problems)} row(s) "
                f"with problems, the first on row {first['row']}: {first['reason']}"
            )
        out.enterprises += report.read
        out.warnings += report.collisions
        return
    if not isinstance(given, list):
        raise ValidationError(f"{path.name}: enterprises is a list or the name of a file.")
    for i, e in enumerate(given, start=1):
        where = f"{path.name}: enterprise {i}"
        if not isinstance(e, dict):
            raise ValidationError(f"{where} needs a name.")
        name, fields = enterprise_fields(e, within, where)
        upsert_enterprise(session, name, **fields)
        out.enterprises += 1
    out.warnings += stored_collisions(session)


def _load_convoy(
    session: Session,
    path: Path,
    c: Any,
    i: int,
    campaign: Any,
    settings: Settings,
    out: PlanResult,
) -> None:
    where = f"{path.name}: convoy {i}"
    if not isinstance(c, dict):
        raise ValidationError(f"{where} must be a mapping.")
    for key in ("code", "mode", "origin", "destination", "depart", "arrive"):
        if key not in c:
            raise ValidationError(f"{where} needs '{key}'.")
    where = f"{path.name}: convoy {c['code']}"
    try:
        mode = Mode(str(c["mode"]))
    except ValueError:
        raise ValidationError(f"{where}: mode must be train, flight or bus.") from None
    try:
        origin = resolve(c["origin"], where)
        dest = resolve(c["destination"], where)
        waypoints = [resolve(w, where) for w in c.get("waypoints") or []]
    except ConvoyOpsError as exc:
        raise ValidationError(f"{where}: {exc}") from None
    convoy = upsert_convoy(
        session,
        ConvoySpec(
            code=str(c["code"]),
            mode=mode,
            vehicle=str(c.get("vehicle", "")),
            origin_name=origin.name,
            origin=(origin.lat, origin.lon),
            origin_adcode=origin.adcode,
            destination_name=dest.name,
            destination=(dest.lat, dest.lon),
            destination_adcode=dest.adcode,
            waypoints=[{"name": w.name, "lat": w.lat, "lon": w.lon} for w in waypoints],
            planned_departure=_time(c["depart"], settings.tz, f"{where} depart"),
            planned_arrival=_time(c["arrive"], settings.tz, f"{where} arrive"),
            campaign=str(campaign) if campaign else None,
            notes=str(c.get("notes", "")),
        ),
    )
    for j, badge in enumerate(c.get("escorts") or []):
        assign_escort(
            session, convoy, get_escort(session, str(badge)), "lead" if j == 0 else "escort"
        )
    if c.get("manifest"):
        manifest = (path.parent / str(c["manifest"])).resolve()
        report = import_manifest(session, convoy.code, manifest, settings=settings)
        out.passengers_added += report.added
        out.passengers_rejected += report.rejected
        out.passengers_flagged += report.warnings
        files = (report.file_of("errors_csv"), report.file_of("for_fixing"))
        out.rejection_files += [str(f) for f in files if f]
    out.convoys.append(convoy.code)
