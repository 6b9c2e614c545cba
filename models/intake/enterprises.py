"""Enterprises (the employers receiving workers): matching an employer written on a manifest,
names that collide, and importing the enterprise list from a spreadsheet.

Matching never guesses: the exact name; else the same name after width, whitespace and
punctuation normalisation; else the name without its legal-form suffix (有限公司, 股份有限公司 …)
— each only when exactly one enterprise fits. Anything fitting two enterprises is refused as
ambiguous, with both named; two enterprises whose names differ only in such details are
reported when the list is loaded.
"""

from __future__ import annotations

import difflib
import heapq
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.convoy.store import upsert_enterprise
from models.convoy.tables import Campaign, Convoy, Enterprise
from models.errors import ConvoyOpsError, ValidationError
from models.geo.gazetteer import get_gazetteer, resolve_place
from models.intake.identity import echo
from models.intake.sheets import Columns, blank, open_table

_JUNK = re.compile(r"[\W_]+")
# Legal-form suffixes, longest first (集团 and 厂 are part of a name, not a legal form).
_SUFFIXES = ("股份有限公司", "有限责任公司", "股份公司", "有限公司", "公司")


@lru_cache(maxsize=65_536)  # every import's index keys the whole register again
def name_key(name: str) -> str:
    """'宁波 甬丰（模具）有限公司' → '宁波甬丰模具有限公司': full-width → half-width, lower case,
    no whitespace or punctuation."""
    return _JUNK.sub("", unicodedata.normalize("NFKC", name or "").lower())


@lru_cache(maxsize=65_536)
def stem_key(name: str) -> str:
    """``name_key`` without the legal-form suffix: '宁波甬丰模具股份有限公司' → '宁波甬丰模具'."""
    key = name_key(name)
    if key in _SUFFIXES:
        return key
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


@dataclass(frozen=True)
class Match:
    """The enterprise an employer text names (``id``), or why none: ``code`` is
    ``unknown_employer`` or ``ambiguous_employer``."""

    id: int | None
    code: str = ""
    reason: str = ""


class EnterpriseIndex:
    """Employer text → enterprise, by the rules of the module doc; each text is looked up once."""

    def __init__(self, session: Session) -> None:
        e = Enterprise.__table__  # type: ignore[attr-defined]
        rows = session.execute(select(e.c.id, e.c.name)).all()
        self.names = {eid: name for eid, name in rows}
        self.exact = {name: eid for eid, name in rows}
        self.by_key: dict[str, list[int]] = {}
        self.by_stem: dict[str, list[int]] = {}
        for eid, name in rows:
            self.by_key.setdefault(name_key(name), []).append(eid)
            self.by_stem.setdefault(stem_key(name), []).append(eid)
        self.found: dict[str, Match] = {}
        # Employer text → enterprise id, for ``add_passengers`` (filled in as rows are matched).
        self.ids: dict[str, int | None] = {}
        # For the hint of an unknown employer in a long register (made on the first one): the
        # names' keys by each two-character run they hold.
        self._runs: dict[str, list[str]] | None = None

    def match(self, employer: str) -> Match:
        found = self.found.get(employer)
        if found is None:
            found = self.found[employer] = self._match(employer)
            self.ids[employer] = found.id
        return found

    def _match(self, employer: str) -> Match:
        eid = self.exact.get(employer)
        if eid is not None:
            return Match(eid)
        for ids in (
            self.by_key.get(name_key(employer), []),
            self.by_stem.get(stem_key(employer), []),
        ):
            if len(ids) == 1:
                return Match(ids[0])
            if ids:
                names = " and ".join(sorted(self.names[i] for i in ids))
                return Match(
                    None,
                    "ambiguous_employer",
                    f"{echo(employer)} could be {names}; write the enterprise's exact name",
                )
        return Match(None, "unknown_employer", self._unknown(employer))

    def _unknown(self, employer: str) -> str:
        if not self.exact:
            return (
                "no enterprise is registered yet; load the enterprises first "
                "(convoy enterprise import)"
            )
        key = name_key(employer)
        near = difflib.get_close_matches(key, self._likely(key), n=3, cutoff=0.5)
        # A key two names share (they differ in width or punctuation) shows the later one.
        named = (self.names[self.by_key[k][-1]] for k in near)
        hint = f"; did you mean {', '.join(named)}?" if near else ""
        return f"no registered enterprise is named {echo(employer)}{hint}"

    def _likely(self, key: str) -> list[str]:
        """The registered names' keys worth comparing with ``key`` in full: the
        ``SUGGEST_FROM`` that share the most two-character runs with it (then by key), all of
        them in a shorter register. Comparing every name would cost each unknown employer the
        whole register: quadratic in a large campaign."""
        if len(self.by_key) <= SUGGEST_FROM:
            return list(self.by_key)
        if self._runs is None:
            self._runs = {}
            for k in self.by_key:
                for run in _runs(k):
                    self._runs.setdefault(run, []).append(k)
        shared: Counter[str] = Counter()
        for run in _runs(key):
            shared.update(self._runs.get(run, ()))
        return heapq.nsmallest(SUGGEST_FROM, shared, key=lambda k: (-shared[k], k))


# How many registered names an unknown employer is compared with in full for its hint. Its
# first suggestion is then the closest of the whole register (checked on random registers of up
# to 3,000 names); a second or third may be one of several nearly as close that a comparison
# with every name would have shown instead.
SUGGEST_FROM = 50


def _runs(key: str) -> set[str]:
    """The two-character runs of a name's key (the key itself if shorter)."""
    return {key[i : i + 2] for i in range(len(key) - 1)} or {key}


def collisions(names: list[str]) -> list[str]:
    """Warnings about enterprise names that differ only in width, spacing, punctuation or the
    legal-form suffix (an employer written another way would match neither)."""
    out: list[str] = []
    by_key: dict[str, list[str]] = {}
    by_stem: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        by_key.setdefault(name_key(name), []).append(name)
        by_stem.setdefault(stem_key(name), []).append(name)
    for group in by_key.values():
        if len(group) > 1:
            out.append(
                f"{' and '.join(group)} differ only in width, spacing or punctuation: manifests "
                "must write their exact names"
            )
    same_key = {tuple(g) for g in by_key.values() if len(g) > 1}
    for group in by_stem.values():
        if len(group) > 1 and tuple(group) not in same_key:
            out.append(
                f"{' and '.join(group)} differ only in their legal-form suffix: an employer "
                "written without the exact suffix is refused as ambiguous"
            )
    return out


def stored_collisions(session: Session) -> list[str]:
    return collisions(list(session.execute(select(col(Enterprise.name))).scalars()))


# -- the destination city ----------------------------------------------------------------------


def city_of(adcode: str) -> str | None:
    """The full name of the city (or province-level city) an adcode lies in."""
    if not adcode or len(adcode) < 4:
        return None
    gazetteer = get_gazetteer()
    for code in (adcode[:4] + "00", adcode[:2] + "0000"):
        try:
            return gazetteer.by_adcode(code).full_name
        except ConvoyOpsError:
            continue
        except KeyError:
            continue
    return None


def campaign_city(session: Session, campaign: str | None = None) -> str | None:
    """Where a campaign's workers go: its ``city``, else the city most of its convoys go to
    (of every convoy when ``campaign`` is None and there is only one campaign)."""
    camps = list(session.execute(select(Campaign)).scalars())
    if campaign is not None:
        camps = [c for c in camps if c.name == campaign]
        if not camps:
            raise ValidationError(f"There is no campaign named {campaign!r}.")
    if len(camps) != 1:
        return None
    if camps[0].city:
        return camps[0].city
    codes = session.execute(
        select(col(Convoy.destination_adcode)).where(col(Convoy.campaign_id) == camps[0].id)
    ).scalars()
    cities = Counter(c for code in codes if (c := city_of(code or "")))
    return cities.most_common(1)[0][0] if cities else None


# -- importing the enterprise list -------------------------------------------------------------

ENTERPRISE_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "企业名称", "企业", "单位名称", "用工企业", "enterprise"),
    "district": ("district", "所在区县", "区县", "所在地", "所在区"),
    "address": ("address", "地址", "企业地址", "详细地址"),
    "contact": ("contact", "联系人", "负责人"),
    "phone": ("phone", "联系电话", "电话", "手机", "手机号"),
    "notify": ("notify", "通知", "通知地址"),
}
ENTERPRISE_LIST = Columns(
    "enterprise list",
    ENTERPRISE_HEADERS,
    ("name",),
    {"name": "企业名称", "district": "所在区县", "address": "地址", "contact": "联系人",
     "phone": "联系电话", "notify": "通知"},
)  # fmt: skip


@dataclass
class EnterpriseImport:
    file: str
    within: str | None = None
    header_row: int = 0
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    collisions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def enterprise_fields(
    spec: dict[str, Any], within: str | None, where: str
) -> tuple[str, dict[str, Any]]:
    """(name, fields) of one enterprise given as a mapping (a plan entry or a list row); the
    district is resolved within ``within`` first."""
    name = str(spec.get("name") or "").strip()
    if not name:
        raise ValidationError(f"{where} needs a name.")
    fields: dict[str, Any] = {
        "contact_name": str(spec.get("contact") or "").strip(),
        "contact_phone": str(spec.get("phone") or "").strip(),
        "address": str(spec.get("address") or "").strip(),
        "district": "",
        "notify_url": str(spec.get("notify") or "").strip(),
    }
    district = spec.get("district")
    if district:
        if isinstance(district, dict):
            text, hint = str(district.get("name", "")), district.get("hint") or within
        else:
            text, hint = str(district), within
        try:
            place = resolve_place(text, hint=hint)
        except ConvoyOpsError as exc:
            raise ValidationError(f"{where}: {exc}") from None
        fields.update(district=text, lat=place.lat, lon=place.lon)
    return name, fields


def import_enterprises(
    session: Session, path: Path, *, within: str | None = None
) -> EnterpriseImport:
    """Create or update the enterprises of a CSV/XLSX list (idempotent: by exact name). A row
    with a problem (no name, a district that cannot be placed) is reported and skipped."""
    out = EnterpriseImport(str(path), within)
    existing = {e.name: e for e in session.execute(select(Enterprise)).scalars()}
    seen: dict[str, int] = {}
    with open_table(path, ENTERPRISE_LIST) as table:
        out.header_row = table.header_row
        idx = table.index
        for n, cells in table.rows:
            if blank(cells):
                continue
            out.read += 1
            spec = {k: (cells[i] if i < len(cells) else "") for k, i in idx.items()}
            name = str(spec.get("name") or "").strip()
            try:
                if name in seen:
                    raise ValidationError(f"the same enterprise is already on row {seen[name]}")
                name, fields = enterprise_fields(spec, within, f"row {n}")
            except ValidationError as exc:
                out.rejected += 1
                out.problems.append({"row": n, "name": echo(name), "reason": str(exc)})
                continue
            seen[name] = n
            before = existing.get(name)
            if before is None:
                out.added += 1
            elif all(getattr(before, k) == v for k, v in fields.items()):
                out.unchanged += 1
                continue
            else:
                out.updated += 1
            existing[name] = upsert_enterprise(session, name, **fields)
    if out.read == 0:
        raise ValidationError(
            f"{path.name} has a header row (row {out.header_row}) but no enterprises below it."
        )
    out.collisions = collisions(list(existing))
    return out
