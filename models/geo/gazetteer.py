"""The offline gazetteer: Chinese divisions and curated convoy places, resolved by name.

Two embedded tables are read once (``config/data/gazetteer.csv`` and ``places.csv``, see the
README beside them) and indexed in memory. :meth:`Gazetteer.resolve` understands

* full names (``浙江省宁波市象山县``), names (``象山县``) and short names (``象山``, ``宁波``,
  ``浙江``), station and airport names and aliases (``宁波站``, ``NGB``);
* paths in any mix of these forms (``陕西省渭南市蒲城县``, ``宁波市象山县``, ``陕西蒲城``);
* former names (``户县``, ``奉化市``) and former adcodes, so old ID-card addresses resolve.

A name shared by several places (江北区 is in 宁波 and in 重庆) needs a hint, a province or city
such as ``"宁波"`` or ``"重庆市"``; otherwise :class:`AmbiguousPlaceError` lists the candidates.
An unknown name raises :class:`UnknownPlaceError` with close matches.

:class:`GazetteerGeocoder` puts the same table behind geopy's ``Geocoder`` interface, and
:func:`get_geocoder` chooses it or a self-hosted Nominatim/Photon according to the settings.
Coordinates are WGS-84 throughout.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim, Photon
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

from config.settings import Settings, get_settings
from models.errors import (
    AmbiguousPlaceError,
    ConfigurationError,
    GeocodingError,
    UnknownPlaceError,
)

__all__ = [
    "Gazetteer",
    "GazetteerGeocoder",
    "GeocodeFunction",
    "Place",
    "get_gazetteer",
    "get_geocoder",
    "load_gazetteer",
    "resolve_place",
]

Level = Literal["province", "city", "county", "place"]
GeocodeFunction = Callable[..., Any]
"""``geocode(query, exactly_one=True, ...)`` returning a geopy ``Location``, a list, or None."""

USER_AGENT = "convoy-ops"
PUBLIC_SERVICES = ("nominatim.openstreetmap.org", "photon.komoot.io")

_LEVEL_ORDER: dict[str, int] = {"province": 0, "city": 1, "county": 2, "place": 3}
_PREFIX_LEN: dict[str, int] = {"province": 2, "city": 4, "county": 6}
# Match tiers of a key: exact name, short name (county/city), short name of an urban district,
# alias (former names, station aliases). Former divisions rank after every current one.
_TIER_NAME, _TIER_SHORT, _TIER_SHORT_DISTRICT, _TIER_ALIAS = 0, 1, 2, 3
_SEPARATORS = re.compile(r"[\s,，、/\\|>＞\-–—·・.。:：;；()（）\[\]【】]+")
_MAX_PATH_CHARS = 64


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved place: a division (province, city, county) or a curated point (station …).

    ``province``, ``city`` and ``county`` name the divisions the place lies in *or is*: for
    宁波市 ``city`` is 宁波市; for a district of 重庆 ``city`` is 重庆市. ``adcode`` is set for
    divisions only. Former divisions (``status == "former"``) name their ``successor``.
    """

    name: str
    full_name: str
    adcode: str | None
    level: Level
    province: str | None
    city: str | None
    lat: float
    lon: float
    kind: str = "division"
    county: str | None = None
    short_name: str | None = None
    aliases: tuple[str, ...] = ()
    status: Literal["current", "former"] = "current"
    successor: str | None = None
    former_adcodes: tuple[str, ...] = ()
    source: str = ""
    area_codes: tuple[str, ...] = ()
    """Adcodes this place is or lies in (own and former codes; a place's county or city)."""

    @property
    def point(self) -> tuple[float, float]:
        """The place as a ``(lat, lon)`` tuple in WGS-84."""
        return self.lat, self.lon

    @property
    def is_division(self) -> bool:
        """Whether this is an administrative division (rather than a station, airport …)."""
        return self.level != "place"

    def contains(self, other: Place) -> bool:
        """Whether ``other`` is this place or lies within it (by adcode, including former ones)."""
        if other is self:
            return True
        if self.level == "place" or self.adcode is None:
            return False
        size = _PREFIX_LEN[self.level]
        prefixes = {code[:size] for code in (self.adcode, *self.former_adcodes)}
        return any(code[:size] in prefixes for code in other.area_codes)


def _normalize(text: str) -> str:
    """The lookup form of a name: NFKC, no spaces or separators, case-folded."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _full_name(province: str, city: str, *names: str) -> str:
    parts = [province]
    if city and city != province:
        parts.append(city)
    for name in names:
        if name and name not in parts:
            parts.append(name)
    return "".join(parts)


class Gazetteer:
    """An in-memory index of divisions and curated places; build it with :func:`load_gazetteer`."""

    def __init__(self, places: list[Place]) -> None:
        self._places = places
        self._by_full: dict[str, Place] = {}
        self._by_adcode: dict[str, Place] = {}
        self._keys: dict[str, list[tuple[Place, int]]] = {}
        for place in places:
            self._add_key(place.full_name, place, _TIER_NAME, full=True)
            self._add_key(place.name, place, _TIER_NAME)
            if place.short_name:
                district = place.level == "county" and place.name.endswith("区")
                tier = _TIER_SHORT_DISTRICT if district else _TIER_SHORT
                self._add_key(place.short_name, place, tier)
            for alias in place.aliases:
                self._add_key(alias, place, _TIER_ALIAS)
            if place.adcode:
                self._by_adcode.setdefault(place.adcode, place)
        for place in places:  # former codes never shadow a division's own code
            for code in place.former_adcodes:
                self._by_adcode.setdefault(code, place)
        self._max_key = max(len(key) for key in self._keys)
        self._suggest_pool: list[str] | None = None

    def _add_key(self, text: str, place: Place, tier: int, *, full: bool = False) -> None:
        key = _normalize(text)
        if not key:
            return
        if full:
            if key in self._by_full and self._by_full[key] is not place:
                raise ConfigurationError(
                    f"Two gazetteer rows share the full name {text!r}; make them unique."
                )
            self._by_full[key] = place
            return
        entries = self._keys.setdefault(key, [])
        if not any(p is place and t <= tier for p, t in entries):
            entries.append((place, tier))

    # --- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._places)

    def __iter__(self) -> Iterator[Place]:
        return iter(self._places)

    def by_adcode(self, adcode: str | int) -> Place:
        """The division with this adcode (6 digits, or 12 with trailing zeros; former ones too)."""
        code = str(adcode).strip()
        if len(code) == 12 and code.endswith("000000"):
            code = code[:6]
        place = self._by_adcode.get(code)
        if place is None:
            raise UnknownPlaceError(
                f"No division with the adcode {code!r} is known to the offline gazetteer.", []
            )
        return place

    def candidates(self, query: str, hint: str | None = None) -> list[Place]:
        """Every place the query may mean, best matches first (after applying the hint)."""
        key = _normalize(query)
        exact = self._by_full.get(key)
        if exact is not None:
            return [exact]
        ranked = self._parse(key)
        if hint and ranked:
            ranked = self._apply_hint(ranked, hint)[0]
        return [place for place, _ in self._ranked(ranked)]

    def resolve(self, query: str, hint: str | None = None, *, partial: bool = False) -> Place:
        """The one place ``query`` names; ``hint`` (a province, city or path) disambiguates.

        With ``partial=True`` a query that is not a known name as a whole resolves to its longest
        leading part that is (``宁波市象山县丹东街道…`` → 象山县), as for free-text addresses.

        Raises:
            AmbiguousPlaceError: several places fit and the hint does not pick one.
            UnknownPlaceError: nothing fits; the message lists close matches.
        """
        if not isinstance(query, str) or not _normalize(query):
            raise UnknownPlaceError("The place name is empty; give a name such as 宁波市象山县.")
        key = _normalize(query)
        exact = self._by_full.get(key)
        if exact is not None:
            return exact
        ranked = self._parse(key)
        if not ranked and partial:
            for end in range(min(len(key), _MAX_PATH_CHARS) - 1, 1, -1):
                ranked = self._parse(key[:end])
                if ranked:
                    break
        if not ranked:
            suggestions = self.suggest(query)
            hint_text = (
                f" Did you mean {', '.join(suggestions)}?"
                if suggestions
                else " Check the spelling or give the full name, such as 浙江省宁波市象山县."
            )
            raise UnknownPlaceError(
                f"No place named {query!r} is known to the offline gazetteer.{hint_text}",
                suggestions,
            )
        hint_note = ""
        if hint:
            ranked, matched = self._apply_hint(ranked, hint)
            if not matched:
                hint_note = f" None of them lies in {hint!r}."
        best = self._ranked(ranked)
        if len(best) == 1:
            return best[0][0]
        names = [place.full_name for place, _ in best]
        raise AmbiguousPlaceError(
            f"The name {query!r} fits {len(names)} places: {', '.join(names)}.{hint_note} "
            "Give a province or city as a hint (for example "
            f"{_example_hint(best[0][0])!r}) or write the full name.",
            names,
        )

    def suggest(self, query: str, limit: int = 5) -> list[str]:
        """Full names of the places whose names are closest to ``query`` (for error messages)."""
        if self._suggest_pool is None:
            self._suggest_pool = sorted(set(self._keys) | set(self._by_full))
        key = _normalize(query)
        found: list[str] = []
        for match in difflib.get_close_matches(key, self._suggest_pool, n=limit * 2, cutoff=0.5):
            exact = self._by_full.get(match)
            places = [exact] if exact else [p for p, _ in self._keys.get(match, [])]
            for place in sorted(places, key=lambda p: (p.status != "current", p.full_name)):
                if place.full_name not in found:
                    found.append(place.full_name)
        return found[:limit]

    # --- internals -------------------------------------------------------------------------

    def _apply_hint(
        self, ranked: list[tuple[Place, tuple[int, int]]], hint: str
    ) -> tuple[list[tuple[Place, tuple[int, int]]], bool]:
        """Keep the candidates inside the hint; all of them if none is (and say so)."""
        hint_key = _normalize(hint)
        exact = self._by_full.get(hint_key)
        areas = [exact] if exact else [p for p, _ in self._parse(hint_key)]
        if not areas:
            raise UnknownPlaceError(
                f"The hint {hint!r} is not a province, city or county known to the offline "
                "gazetteer; give one such as 浙江省 or 宁波市.",
                self.suggest(hint),
            )
        inside = [(p, r) for p, r in ranked if any(area.contains(p) for area in areas)]
        return (inside, True) if inside else (ranked, False)

    @staticmethod
    def _ranked(
        ranked: list[tuple[Place, tuple[int, int]]],
    ) -> list[tuple[Place, tuple[int, int]]]:
        """The best-ranked candidates: best match tier, then the highest administrative level."""
        if not ranked:
            return []
        top = min(rank for _, rank in ranked)
        best = [(p, r) for p, r in ranked if r == top]
        level = min(_LEVEL_ORDER[p.level] for p, _ in best)
        best = [(p, r) for p, r in best if _LEVEL_ORDER[p.level] == level]
        return sorted(best, key=lambda pr: (pr[0].adcode or "", pr[0].full_name))

    def _entries(self, key: str) -> list[tuple[Place, tuple[int, int]]]:
        return [(p, (int(p.status != "current"), t)) for p, t in self._keys.get(key, [])]

    def _parse(self, key: str) -> list[tuple[Place, tuple[int, int]]]:
        """Candidates for a name or a path of names, each with its rank (lower is better).

        The key is split into known names in every possible way; the split with the fewest parts
        whose last part lies inside every earlier part wins.
        """
        if not key or len(key) > _MAX_PATH_CHARS:
            return []
        direct = self._entries(key)
        if direct:
            return direct
        splits = sorted(self._splits(key, 0, {}), key=len)
        results: list[tuple[Place, tuple[int, int]]] = []
        seen: set[int] = set()
        parts_used = 0
        for split in splits:
            if results and len(split) > parts_used:
                break
            *areas_keys, last = split
            candidates = self._entries(last)
            for area_key in areas_keys:
                areas = [p for p, _ in self._entries(area_key)]
                candidates = [(p, r) for p, r in candidates if any(a.contains(p) for a in areas)]
                if not candidates:
                    break
            for cand in candidates:
                if id(cand[0]) not in seen:
                    seen.add(id(cand[0]))
                    results.append(cand)
            if candidates:
                parts_used = len(split)
        return results

    def _splits(self, key: str, start: int, memo: dict[int, list[list[str]]]) -> list[list[str]]:
        """Every way to cut ``key[start:]`` into known names (memoised per start position)."""
        if start in memo:
            return memo[start]
        out: list[list[str]] = []
        for end in range(min(len(key), start + self._max_key), start, -1):
            part = key[start:end]
            if part not in self._keys:
                continue
            if end == len(key):
                out.append([part])
            else:
                out.extend([part, *rest] for rest in self._splits(key, end, memo))
            if len(out) > 200:  # pathological input: enough alternatives
                break
        memo[start] = out
        return out


def _example_hint(place: Place) -> str:
    return place.city if place.city and place.level in ("county", "place") else place.province or ""


# --- loading ---------------------------------------------------------------------------------


def _read_divisions(path: Path) -> list[Place]:
    places: list[Place] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            level = rec["level"]
            name = rec["name"]
            province = rec["province"] or name
            city = rec["city"] or (name if level == "city" else None)
            former = _split(rec.get("former_adcodes", ""))
            places.append(
                Place(
                    name=name,
                    full_name=_full_name(province, city or "", name),
                    adcode=rec["adcode"],
                    level=level,  # type: ignore[arg-type]
                    province=province,
                    city=city,
                    lat=float(rec["lat"]),
                    lon=float(rec["lon"]),
                    county=name if level == "county" else None,
                    short_name=rec["short_name"] or None,
                    aliases=_split(rec.get("aliases", "")),
                    status="former" if rec.get("status") == "former" else "current",
                    successor=rec.get("successor") or None,
                    former_adcodes=former,
                    source=rec.get("source", ""),
                    area_codes=(rec["adcode"], *former),
                )
            )
    return places


def _read_places(path: Path, divisions: dict[str, Place]) -> list[Place]:
    places: list[Place] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for line, rec in enumerate(csv.DictReader(fh), start=2):
            province, city, county = rec["province"], rec.get("city", ""), rec.get("county", "")
            area = divisions.get(_normalize(_full_name(province, city, county)))
            if area is None or area.adcode is None or area.status != "current":
                where = _full_name(province, city, county)
                raise ConfigurationError(
                    f"Line {line} of {path} puts {rec['name']!r} in {where!r}, which is not a "
                    "current division in the gazetteer; fix the province, city or county column."
                )
            try:
                lat, lon = float(rec["lat"]), float(rec["lon"])
            except ValueError as exc:
                raise ConfigurationError(
                    f"Line {line} of {path} has a coordinate that is not a number; "
                    "write decimal degrees."
                ) from exc
            places.append(
                Place(
                    name=rec["name"],
                    full_name=_full_name(province, city, county, rec["name"]),
                    adcode=None,
                    level="place",
                    province=province,
                    city=city or None,
                    lat=lat,
                    lon=lon,
                    kind=rec.get("kind") or "site",
                    county=county or None,
                    aliases=_split(rec.get("aliases", "")),
                    source=rec.get("source", ""),
                    area_codes=(area.adcode,),
                )
            )
    return places


@lru_cache(maxsize=4)
def _load(gazetteer_file: str, places_file: str) -> Gazetteer:
    divisions = _read_divisions(Path(gazetteer_file))
    by_full = {_normalize(p.full_name): p for p in divisions}
    places = _read_places(Path(places_file), by_full) if places_file else []
    return Gazetteer(divisions + places)


def load_gazetteer(
    gazetteer_file: str | Path | None = None, places_file: str | Path | None = None
) -> Gazetteer:
    """The gazetteer built from the two CSV files (the embedded ones by default), cached."""
    if gazetteer_file is None or places_file is None:
        settings = get_settings()
        gazetteer_file = gazetteer_file or settings.gazetteer_file
        places_file = places_file or settings.places_file
    gaz, pls = Path(gazetteer_file), Path(places_file)
    for path in (gaz, pls):
        if not path.is_file():
            raise ConfigurationError(
                f"The gazetteer file {str(path)!r} does not exist; point the setting at the "
                "embedded config/data file or rebuild it."
            )
    return _load(str(gaz.resolve()), str(pls.resolve()))


def get_gazetteer(settings: Settings | None = None) -> Gazetteer:
    """The process-wide gazetteer for these settings (loaded once)."""
    settings = settings or get_settings()
    return load_gazetteer(settings.gazetteer_file, settings.places_file)


# --- geopy -----------------------------------------------------------------------------------


def _location(place: Place) -> Location:
    raw = {
        "name": place.name,
        "full_name": place.full_name,
        "adcode": place.adcode,
        "level": place.level,
        "kind": place.kind,
        "province": place.province,
        "city": place.city,
        "county": place.county,
        "status": place.status,
        "successor": place.successor,
        "source": place.source,
    }
    return Location(place.full_name, (place.lat, place.lon), raw)


class GazetteerGeocoder(Geocoder):
    """A geopy geocoder over the offline gazetteer (works with ``RateLimiter``; no network).

    ``geocode`` returns None for an unknown name, as geopy geocoders do, and raises
    :class:`AmbiguousPlaceError` when ``exactly_one`` is asked of a name several places share.
    """

    def __init__(self, gazetteer: Gazetteer | None = None, *, hint: str | None = None) -> None:
        super().__init__(user_agent=USER_AGENT)
        self.gazetteer = gazetteer or get_gazetteer()
        self.hint = hint

    def geocode(
        self,
        query: str | dict[str, str],
        *,
        exactly_one: bool = True,
        timeout: Any = DEFAULT_SENTINEL,
        hint: str | None = None,
        partial: bool = False,
    ) -> Location | list[Location] | None:
        """Resolve a place name (or a dict of its parts, largest first) to ``Location`` objects."""
        text = "".join(str(v) for v in query.values()) if isinstance(query, dict) else query
        hint = hint or self.hint
        if exactly_one:
            try:
                return _location(self.gazetteer.resolve(text, hint, partial=partial))
            except UnknownPlaceError:
                return None
        try:
            found = self.gazetteer.candidates(text, hint)
        except UnknownPlaceError:
            return None
        return [_location(p) for p in found] or None

    def reverse(self, query: Any, *, exactly_one: bool = True, timeout: Any = None) -> Any:
        """Not offered: the gazetteer holds points, not boundaries."""
        raise NotImplementedError(
            "The offline gazetteer does not reverse-geocode; it holds seats, not boundaries."
        )


def get_geocoder(settings: Settings | None = None) -> GeocodeFunction:
    """The ``geocode`` callable configured by the settings.

    ``offline`` (the default) is :class:`GazetteerGeocoder`. ``nominatim`` and ``photon`` use a
    self-hosted service at ``geocoder_domain``, wrapped in geopy's ``RateLimiter``; public
    services are refused.
    """
    settings = settings or get_settings()
    if settings.geocoder == "offline":
        return GazetteerGeocoder(get_gazetteer(settings)).geocode
    domain = settings.geocoder_domain.strip()
    if not domain:
        raise ConfigurationError(
            f"The geocoder is set to {settings.geocoder!r} but no geocoder_domain is set; "
            "set CONVOY_GEOCODER_DOMAIN to your own server, or use the offline geocoder."
        )
    if any(public in domain.lower() for public in PUBLIC_SERVICES):
        raise ConfigurationError(
            f"The geocoder domain {domain!r} is a public service, which Convoy Ops never uses; "
            "set CONVOY_GEOCODER_DOMAIN to a self-hosted server."
        )
    func: Callable[..., Any]
    if settings.geocoder == "nominatim":
        service = Nominatim(user_agent=USER_AGENT, domain=domain, scheme=settings.geocoder_scheme)
        func = partial(service.geocode, country_codes="cn")
    else:
        photon = Photon(user_agent=USER_AGENT, domain=domain, scheme=settings.geocoder_scheme)
        func = photon.geocode
    return RateLimiter(
        func,
        min_delay_seconds=settings.geocoder_min_delay_seconds,
        swallow_exceptions=False,
    )


def resolve_place(query: str, hint: str | None = None, settings: Settings | None = None) -> Place:
    """Resolve a place: the offline gazetteer first, then the online geocoder if one is set.

    The online geocoder is asked only about names the gazetteer does not know (never to break a
    tie between known places); its answer becomes a ``Place`` of kind ``"geocoded"``.
    """
    settings = settings or get_settings()
    gazetteer = get_gazetteer(settings)
    try:
        return gazetteer.resolve(query, hint)
    except UnknownPlaceError as unknown:
        if settings.geocoder == "offline":
            raise
        geocode = get_geocoder(settings)
        text = f"{hint} {query}" if hint else query
        try:
            location = geocode(text, exactly_one=True)
        except GeopyError as exc:
            raise GeocodingError(
                f"The offline gazetteer does not know {query!r}, and the {settings.geocoder} "
                f"geocoder at {settings.geocoder_domain!r} failed: {exc}."
            ) from exc
        if location is None:
            raise unknown
        return Place(
            name=query,
            full_name=str(location.address),
            adcode=None,
            level="place",
            province=None,
            city=None,
            lat=float(location.latitude),
            lon=float(location.longitude),
            kind="geocoded",
            source=settings.geocoder,
        )
