"""Batch pre-verification (核录提前批量比对): a whole manifest against registry lists, in bulk.

A registry list is a CSV/XLSX file of resident ID numbers with a category and a reason
(e.g. ``travel_restriction`` / 限制出行, ``quarantine_order`` / 隔离, ``already_returned`` /
已返岗). Lists are read once into one in-memory index (ID → entry); comparing a manifest is one
dictionary probe per passenger. Every passenger gets an outcome (clear, flagged or invalid ID),
stored in ``verification_result``; the convoy step turns flagged and invalid into ``held``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel

from config import Settings, get_settings
from models.convoy.tables import Passenger
from models.db import UTCDateTime, driver_value, execute_at_driver, insert_columns
from models.errors import ValidationError
from models.intake.identity import id_problem, mask_id, mask_name, normalise_id
from models.intake.manifest import HEADERS, REASONS
from models.intake.sheets import Columns, blank, header_key, open_table

CATEGORIES: dict[str, tuple[str, ...]] = {
    "travel_restriction": ("travel_restriction", "限制出行", "限行", "禁止出行", "出行限制"),
    "quarantine_order": ("quarantine_order", "隔离", "居家隔离", "集中隔离", "隔离令"),
    "already_returned": ("already_returned", "已返回", "已返岗", "已返甬", "已到岗"),
    "wanted": ("wanted", "在逃", "布控"),
}
_CATEGORY = {header_key(a): key for key, aliases in CATEGORIES.items() for a in aliases}
REGISTRY_HEADERS: dict[str, tuple[str, ...]] = {
    "id_number": HEADERS["id_number"],
    "category": ("category", "类别", "类型", "分类"),
    "reason": ("reason", "原因", "事由", "说明", "备注"),
}
REGISTRY_LIST = Columns(
    "registry list",
    REGISTRY_HEADERS,
    ("id_number",),
    {"id_number": "身份证号", "category": "类别", "reason": "原因"},
)


def normalise_category(text: str) -> str:
    """'隔离' → 'quarantine_order'; an unknown category is kept as written."""
    t = text.strip()
    return _CATEGORY.get(header_key(t), t or "listed")


@dataclass(frozen=True)
class Entry:
    category: str
    reason: str
    source: str

    def describe(self) -> str:
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.category}{reason} ({self.source})"


@dataclass
class LoadStats:
    """What reading one registry list found: its lines (rows with something in them), the ID
    numbers it added, lines repeating an ID already listed (and of those, how many gave another
    category), and lines without a usable ID."""

    source: str
    lines: int = 0
    added: int = 0
    repeated: int = 0
    conflicting: int = 0
    bad_rows: int = 0

    def describe(self) -> str:
        out = f"{self.source}: {self.lines} line(s), {self.added} new ID number(s)"
        if self.repeated:
            out += (
                f"; {self.repeated} line(s) repeat an ID already listed"
                f" ({self.conflicting} with another category)"
            )
        if self.bad_rows:
            out += f"; {self.bad_rows} line(s) without a usable ID skipped"
        return out


@dataclass
class Registry:
    """ID number → index of its entry (entries are shared: few distinct category/reason pairs)."""

    index: dict[str, int] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    bad_rows: int = 0
    stats: list[LoadStats] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, idn: object) -> bool:
        return idn in self.index

    def get(self, idn: str) -> Entry | None:
        i = self.index.get(idn)
        return None if i is None else self.entries[i]

    @classmethod
    def from_mapping(cls, data: Mapping[str, str], source: str = "given") -> Registry:
        """ID → reason (tests and callers that already hold a list)."""
        reg = cls(sources=[source])
        slots: dict[Entry, int] = {}
        for idn, reason in data.items():
            e = Entry("listed", reason, source)
            reg.index[normalise_id(idn)] = slots.setdefault(e, len(reg.entries))
            if slots[e] == len(reg.entries):
                reg.entries.append(e)
        return reg

    def add_file(self, path: Path) -> LoadStats:
        """Read one registry list (streaming), header found as for manifests. Rows whose ID is
        not 18 characters are counted in ``bad_rows`` (they could never match a passenger)."""
        source = path.name
        stats = LoadStats(source)
        slots: dict[tuple[str, str], int] = {}
        added = repeated = conflicting = bad = 0
        with open_table(path, REGISTRY_LIST) as table:
            cols = table.index
            ci, cc, cr = cols["id_number"], cols.get("category", -1), cols.get("reason", -1)
            index, entries = self.index, self.entries
            for _, cells in table.rows:
                n = len(cells)
                idn = cells[ci] if ci < n else ""
                if len(idn) != 18 or idn[17] == "x" or not idn.isalnum():
                    idn = normalise_id(idn)
                    if len(idn) != 18:
                        if not blank(cells):
                            bad += 1
                        continue
                pair = (cells[cc] if 0 <= cc < n else "", cells[cr] if 0 <= cr < n else "")
                slot = slots.get(pair)
                if slot is None:
                    slot = slots[pair] = len(entries)
                    entries.append(Entry(normalise_category(pair[0]), pair[1].strip(), source))
                before = index.get(idn)
                if before is None:
                    added += 1
                    index[idn] = slot
                    continue
                repeated += 1
                if before != slot:
                    old, new = entries[before].category, entries[slot].category
                    if new not in old.split("; "):
                        conflicting += 1
                    index[idn] = self._merge(before, slot)
        stats.added, stats.repeated, stats.conflicting, stats.bad_rows = (
            added, repeated, conflicting, bad
        )  # fmt: skip
        stats.lines = added + repeated + bad
        self.bad_rows += bad
        self.sources.append(source)
        self.stats.append(stats)
        return stats

    def _merge(self, a: int, b: int) -> int:
        if a == b:
            return a
        ea, eb = self.entries[a], self.entries[b]
        merged = Entry(
            "; ".join(dict.fromkeys([*ea.category.split("; "), eb.category])),
            "; ".join(x for x in dict.fromkeys([ea.reason, eb.reason]) if x),
            "; ".join(dict.fromkeys([*ea.source.split("; "), eb.source])),
        )
        self.entries.append(merged)
        return len(self.entries) - 1


def load_registry(paths: Iterable[Path]) -> Registry:
    reg = Registry()
    for p in paths:
        reg.add_file(Path(p))
    return reg


def registry_folder(settings: Settings) -> Path:
    return settings.registry_dir or settings.var_dir / "registry"


def registry_paths(settings: Settings | None = None) -> list[Path]:
    """The configured lists: ``registry_files`` plus every CSV/XLSX in the registry folder."""
    settings = settings or get_settings()
    paths = [Path(p) for p in settings.registry_files]
    folder = registry_folder(settings)
    if folder.is_dir():
        paths += sorted(
            p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx", ".xlsm")
        )
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise ValidationError(f"The registry list(s) {', '.join(missing)} do not exist.")
    return paths


_cache: dict[tuple[tuple[str, int, int], ...], Registry] = {}


def configured_registry(settings: Settings | None = None) -> Registry:
    """The configured lists as one registry, read again only when a file changes."""
    paths = registry_paths(settings)
    key = tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    reg = _cache.get(key)
    if reg is None:
        _cache.clear()
        reg = _cache[key] = load_registry(paths)
    return reg


# -- comparing ---------------------------------------------------------------------------------


class VerificationResult(SQLModel, table=True):
    """One passenger's pre-verification outcome: clear, flagged (with the registry entry) or
    invalid_id."""

    __tablename__ = "verification_result"
    __table_args__ = (UniqueConstraint("passenger_id"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    passenger_id: int = Field(foreign_key="passenger.id")
    at: datetime = Field(sa_type=UTCDateTime)
    outcome: str
    category: str = ""
    reason: str = ""
    source: str = ""


class RegistrySource(SQLModel, table=True):
    """A registry list as stored for campaign-wide checks (``models.intake.registry_store``):
    the file it was read from, as it was then, and what reading it found."""

    __tablename__ = "registry_source"
    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(unique=True)
    name: str
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)
    loaded_at: datetime = Field(sa_type=UTCDateTime)
    lines: int = 0
    entries: int = 0
    repeated: int = 0
    conflicting: int = 0
    bad_rows: int = 0


class RegistryEntry(SQLModel, table=True):
    """One listed ID number of a stored registry list (its categories merged when the list
    repeats it)."""

    __tablename__ = "registry_entry"
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="registry_source.id", index=True)
    id_number: str = Field(index=True)
    category: str = ""
    reason: str = ""


_VR = VerificationResult.__table__  # type: ignore[attr-defined]
_INSERT_RESULT = insert_columns(
    _VR, ("convoy_id", "passenger_id", "at", "outcome", "category", "reason", "source")
)
_P = Passenger.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    passenger_id: int
    seat: int
    outcome: str  # "clear", "flagged" or "invalid_id"
    category: str = ""
    reason: str = ""
    source: str = ""

    @property
    def held_reason(self) -> str:
        if self.outcome == "invalid_id":
            return f"failed pre-verification: {self.reason}"
        detail = f": {self.reason}" if self.reason else ""
        return f"failed pre-verification: {self.category}{detail} ({self.source})"


def compare(ids: Sequence[str], registry: Registry) -> list[Entry | None]:
    """The registry entry of each ID number (None when not listed), in order."""
    get, entries = registry.index.get, registry.entries
    return [None if (i := get(idn)) is None else entries[i] for idn in ids]


def verify(
    people: Sequence[tuple[int, int, str]], registry: Registry, today: Any = None
) -> list[Outcome]:
    """Outcomes for (passenger id, seat, ID number) triples: the ID itself first, then the
    registry."""
    found = compare([p[2] for p in people], registry)
    out: list[Outcome] = []
    for (pid, seat, idn), entry in zip(people, found, strict=True):
        why = id_problem(idn, today)
        if why is not None:
            reason = REASONS[why].format(n=len(idn), row="?")
            out.append(Outcome(pid, seat, "invalid_id", "invalid_id", reason, "ID check"))
        elif entry is not None:
            out.append(Outcome(pid, seat, "flagged", entry.category, entry.reason, entry.source))
        else:
            out.append(Outcome(pid, seat, "clear"))
    return out


def record(session: Session, convoy_id: int, outcomes: Sequence[Outcome], at: datetime) -> None:
    """Store the outcomes in bulk (a passenger is verified once: the step is idempotent)."""
    if not outcomes:
        return
    conn = session.connection()
    at_db = driver_value(conn, _VR.c.at, at)  # one time for every row: processed once
    # The driver's executemany (a train's thousand rows, no SQLAlchemy work each).
    execute_at_driver(
        conn,
        _INSERT_RESULT,
        [
            {
                "convoy_id": convoy_id,
                "passenger_id": o.passenger_id,
                "at": at_db,
                "outcome": o.outcome,
                "category": o.category,
                "reason": o.reason,
                "source": o.source,
            }
            for o in outcomes
        ],
    )


def summary_table(session: Session, convoy_id: int) -> list[dict[str, Any]]:
    """Counts per outcome and category, with seats and masked ID numbers (an artifact)."""
    rows = session.execute(
        select(_VR.c.outcome, _VR.c.category, _P.c.seat, _P.c.id_number, _P.c.name)
        .join(_P, _P.c.id == _VR.c.passenger_id)
        .where(_VR.c.convoy_id == convoy_id)
        .order_by(_VR.c.outcome, _VR.c.category, _P.c.seat)
    ).all()
    groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for outcome, category, seat, idn, name in rows:
        groups.setdefault((outcome, category), []).append((seat, idn, name))
    out = []
    for (outcome, category), people in groups.items():
        row: dict[str, Any] = {"outcome": outcome, "category": category, "passengers": len(people)}
        if outcome != "clear":
            row["seats"] = ", ".join(str(s) for s, _, _ in people)
            row["who"] = ", ".join(f"{mask_name(n)} {mask_id(i)}" for _, i, n in people)
        else:
            row["seats"] = row["who"] = ""
        out.append(row)
    return out
