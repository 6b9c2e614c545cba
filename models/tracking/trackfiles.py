"""Track files: GPX 1.0/1.1 and CSV tracks read into fixes, and their import into a convoy."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.store import get_convoy
from models.errors import ValidationError
from models.geo.datums import Datum
from models.tracking.fixes import Fix, parse_time
from models.tracking.ingest import ImportResult, import_fixes


def parse_gpx(text: str) -> list[tuple[int, Fix | str]]:
    """Track points (and waypoints/route points with a time) of a GPX 1.0/1.1 file."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValidationError(f"The GPX file is not valid XML: {exc}.") from None
    out: list[tuple[int, Fix | str]] = []
    n = 0
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag not in ("trkpt", "rtept", "wpt"):
            continue
        n += 1
        children = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in el}
        try:
            lat, lon = float(el.attrib["lat"]), float(el.attrib["lon"])
            if not children.get("time"):
                raise ValidationError("the point has no <time>")
            at = parse_time(children["time"])
            ele = float(children["ele"]) if children.get("ele") else None
            mps = float(children["speed"]) if children.get("speed") else None
        except (KeyError, ValueError, ValidationError) as exc:
            out.append((n, str(exc).rstrip(".")))
            continue
        speed = None if mps is None else round(mps * 3.6, 2)
        out.append((n, Fix(at=at, lat=lat, lon=lon, altitude=ele, speed_kmh=speed)))
    return out


_CSV_NAMES = {
    "at": ("time", "timestamp", "at", "datetime", "时间", "定位时间"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "speed_kmh": ("speed_kmh", "speed", "速度"),
}


def parse_track_csv(text: str, default_tz: Any = UTC) -> list[tuple[int, Fix | str]]:
    """Rows of a CSV track: time, lat, lon[, speed in km/h] (English or Chinese headers)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = {h.strip().lower(): h for h in reader.fieldnames or []}
    cols: dict[str, str] = {}
    for key, names in _CSV_NAMES.items():
        for name in names:
            if name in headers:
                cols[key] = headers[name]
                break
    missing = [k for k in ("at", "lat", "lon") if k not in cols]
    if missing:
        raise ValidationError(
            f"The track CSV lacks the column(s) {', '.join(missing)}; "
            "use time, lat, lon (and optionally speed_kmh)."
        )
    out: list[tuple[int, Fix | str]] = []
    for line, rec in enumerate(reader, start=2):
        try:
            speed = rec.get(cols["speed_kmh"]) if "speed_kmh" in cols else None
            fix = Fix(
                at=parse_time(rec[cols["at"]], default_tz),
                lat=float(rec[cols["lat"]]),
                lon=float(rec[cols["lon"]]),
                speed_kmh=float(speed) if speed else None,
            )
        except (TypeError, ValueError, ValidationError) as exc:
            out.append((line, str(exc).rstrip(".")))
            continue
        out.append((line, fix))
    return out


def import_track_file(
    session: Session,
    code: str,
    path: Path,
    *,
    datum: Datum = "wgs84",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """Import a GPX or CSV track file into convoy ``code`` (idempotent: re-importing adds none)."""
    convoy = get_convoy(session, code)
    text = Path(path).read_text(encoding="utf-8-sig")
    tz = (settings or get_settings()).tz
    suffix = Path(path).suffix.lower()
    if suffix == ".gpx":
        items = parse_gpx(text)
    elif suffix in (".csv", ".txt"):
        items = parse_track_csv(text, tz)
    else:
        raise ValidationError(f"{path} is neither a .gpx nor a .csv track file.")
    return import_fixes(
        session, convoy, items, source=f"file:{Path(path).name}", datum=datum, now=now,
        settings=settings,
    )  # fmt: skip
