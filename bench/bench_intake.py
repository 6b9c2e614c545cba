"""Manifest intake and batch pre-verification benchmarks (issue 3).

* ``intake.import_20k`` / ``intake.import_200k``: ``models.intake.importer.import_manifest``
  (stream,
  validate every field, match employers, cross-convoy check, bulk insert with registration
  events, commit) over the time of the baseline on the same file: ``csv.reader`` +
  ``sqlite3.executemany`` of the same rows, unvalidated, into the same ``passenger`` table
  (same DDL and indexes) of a fresh SQLite database with the same pragmas, one commit.
* ``intake.peak_mem_200k_mb``: peak resident memory (ru_maxrss) of a fresh process importing
  the 200,000-row file.
* ``intake.preverify_1m``: 20,000 passengers against a 1,000,000-entry registry list, from the
  list file to one outcome per passenger (``load_registry`` + ``verify``), over a bare Python
  set-membership loop (``csv.reader`` → ``set`` → ``[i in s for i in ids]``) on the same file.
* ``intake.registry_check_campaign``: ``convoy registry check --all``'s library call
  (``check_stored``: the stored lists brought up to date, per-convoy counts, one joined query,
  merged flags) for 20,000 passengers on 43 convoys against 1,000,000 stored registry entries,
  over a bare ``sqlite3`` join of the same passenger and registry tables on the same database
  in the same run.
"""

from __future__ import annotations

import csv
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import Result, ratio

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
ENTERPRISES = ("象山示范针织有限公司", "宁波甬丰模具有限公司", "余姚阳明电器有限公司")
HEADER = ["姓名", "身份证号", "手机号", "用工企业", "户籍地", "健康码", "核酸结果",
          "核酸检测时间", "体温", "备注"]  # fmt: skip
_CHECK = "10X98765432"


def _id(region: str, born: str, serial: int) -> str:
    first17 = f"{region}{born}{serial:03d}"
    return first17 + _CHECK[(2 * int(first17, 13)) % 11]


def _unique_manifest(path: Path, n: int, seed: int) -> None:
    """``n`` valid rows, as a Chinese Excel user writes them; ID numbers unique by
    construction (distinct seeds give distinct regions)."""
    rng = random.Random(seed)
    regions = [f"61052{d}" for d in range(10)] + [f"33022{d}" for d in range(10)]
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            day = i // 1000
            born = f"{1970 + day % 30}{1 + (day // 30) % 12:02d}{1 + (day // 360) % 28:02d}"
            idn = _id(regions[(day // 10080 + seed) % len(regions)], born, i % 1000)
            w.writerow([
                f"工人{i}", idn, f"1{rng.choice('38')}{rng.randint(0, 999_999_999):09d}",
                ENTERPRISES[i % 3], "陕西省渭南市蒲城县", "绿", "阴性",
                f"2020-02-19 {8 + i % 10:02d}:30", f"36.{rng.randint(0, 9)}", "",
            ])  # fmt: skip


def _fresh(var: Path) -> None:
    """Point Convoy Ops at a fresh database with the enterprises and an empty convoy."""
    os.environ["CONVOY_VAR_DIR"] = str(var)
    from config import reset_settings
    from models.convoy.lifecycle import Mode
    from models.convoy.store import ConvoySpec, upsert_convoy, upsert_enterprise
    from models.db import dispose_engines, session_scope

    dispose_engines()
    reset_settings()
    with session_scope() as s:
        for name in ENTERPRISES:
            upsert_enterprise(s, name)
        upsert_convoy(
            s,
            ConvoySpec(
                "BENCH-1", Mode.TRAIN, "陕西省渭南市蒲城县", (34.955, 109.586), "宁波市象山县",
                (29.477, 121.869), datetime(2020, 2, 20, 14, tzinfo=SHANGHAI),
                datetime(2020, 2, 21, 16, tzinfo=SHANGHAI),
            ),
        )  # fmt: skip


def ours_import(var: Path, manifest: Path) -> tuple[float, int]:
    from models.db import session_scope
    from models.intake.importer import import_manifest

    _fresh(var)
    t = time.perf_counter()
    with session_scope() as s:
        report = import_manifest(s, "BENCH-1", manifest)
    elapsed = time.perf_counter() - t
    if report.added != report.read or report.warnings:
        raise RuntimeError(f"benchmark data was rejected: {report.as_dict()}")
    return elapsed, report.added


def baseline_import(db: Path, manifest: Path) -> float:
    from sqlalchemy import create_engine
    from sqlmodel import SQLModel

    import models.convoy.tables  # noqa: F401

    eng = create_engine(f"sqlite:///{db}")
    SQLModel.metadata.create_all(eng)  # the same DDL and indexes
    eng.dispose()
    t = time.perf_counter()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    with manifest.open(encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        con.executemany(
            "INSERT INTO passenger (convoy_id, seat, name, id_number, phone, employer, origin, "
            "health_code, nat_result, nat_time, temperature, entry_applied, custody, "
            "custody_reason, custody_location, extra) "
            "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'registered', '', '', '{}')",
            ((i, *r[:9]) for i, r in enumerate(rows, start=1)),
        )
    con.commit()
    con.close()
    return time.perf_counter() - t


def _import_ratio(name: str, tmp: Path, manifest: Path, repeat: int, target: float) -> Result:
    ours, base = float("inf"), float("inf")
    for k in range(repeat):
        ours = min(ours, ours_import(tmp / f"{name}-ours-{k}", manifest)[0])
        base = min(base, baseline_import(tmp / f"{name}-base-{k}.db", manifest))
    rows = sum(1 for _ in manifest.open(encoding="utf-8-sig")) - 1
    return ratio(name, ours, base, target,
                 "csv.reader + sqlite3.executemany into the same passenger table, no validation",
                 rows=rows, ours_us_per_row=round(ours / rows * 1e6, 2),
                 baseline_us_per_row=round(base / rows * 1e6, 2))  # fmt: skip


def _child_import(var: str, manifest: str) -> None:
    """Run in a fresh process by ``peak_memory``: import, then print time and peak RSS."""
    elapsed, rows = ours_import(Path(var), Path(manifest))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{elapsed} {rows} {peak_kb}")


def peak_memory(tmp: Path, manifest: Path) -> tuple[float, float]:
    code = "import sys; from bench.bench_intake import _child_import; _child_import(*sys.argv[1:])"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp / "mem"), str(manifest)],
        check=True, capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.split()  # fmt: skip
    return float(out[0]), int(out[2]) / 1024


def write_registry(path: Path, n: int) -> list[str]:
    """A registry list of ``n`` distinct valid IDs (CSV id_number,category,reason); returns a
    sample of them for the passengers."""
    cats = [
        ("限制出行", "外省中高风险地区"),
        ("隔离", "居家隔离未满14天"),
        ("已返岗", "已于2月返甬"),
    ]
    sample: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id_number", "category", "reason"])
        for i in range(n):
            day = i // 1000
            born = f"{1960 + day % 40}{1 + (day // 40) % 12:02d}{1 + (day // 480) % 28:02d}"
            idn = _id("420102", born, i % 1000)
            cat, reason = cats[i % 3]
            w.writerow([idn, cat, reason])
            if i % 500 == 0:
                sample.append(idn)
    return sample


def preverify(tmp: Path, target: float = 3.0) -> Result:
    from models.intake.verification import load_registry, verify

    reg_file = tmp / "registry-1m.csv"
    listed = write_registry(reg_file, 1_000_000)
    people_file = tmp / "people-20k.csv"
    _unique_manifest(people_file, 20_000 - len(listed), seed=5)
    with people_file.open(encoding="utf-8-sig", newline="") as fh:
        ids = [r[1] for r in list(csv.reader(fh))[1:]] + listed
    people = [(i, i, idn) for i, idn in enumerate(ids, start=1)]

    def ours() -> int:
        reg = load_registry([reg_file])
        return sum(o.outcome == "flagged" for o in verify(people, reg))

    def baseline() -> int:
        with reg_file.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh)
            next(rows)
            listed_ids = {r[0] for r in rows}
        return sum(1 for idn in ids if idn in listed_ids)

    t_ours = t_base = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        flagged = ours()
        t_ours = min(t_ours, time.perf_counter() - t)
        t = time.perf_counter()
        expected = baseline()
        t_base = min(t_base, time.perf_counter() - t)
    if flagged != expected:
        raise RuntimeError(f"pre-verification disagrees: {flagged} flagged, {expected} listed")
    return ratio("intake.preverify_1m", t_ours, t_base, target,
                 "csv.reader -> set -> set-membership loop over the same list",
                 passengers=len(ids), registry=1_000_000, flagged=flagged)  # fmt: skip


def _campaign(var: Path, n_convoys: int, n_people: int, registry: Path) -> int:
    """A fresh database with ``n_convoys`` convoys holding ``n_people`` passengers, the list
    ``registry`` configured and stored; returns the number of listed passengers."""
    os.environ["CONVOY_VAR_DIR"] = str(var)
    from config import reset_settings
    from models.convoy.lifecycle import Mode
    from models.convoy.store import ConvoySpec, PassengerRow, add_passengers, upsert_convoy
    from models.db import dispose_engines, session_scope
    from models.intake.registry_store import sync_registry

    dispose_engines()
    reset_settings()
    folder = var / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    listed = write_registry(folder / registry.name, 1_000_000)
    per = n_people // n_convoys
    with session_scope() as s:
        people = 0
        for c in range(n_convoys):
            convoy = upsert_convoy(
                s,
                ConvoySpec(
                    f"C-{c:02d}", Mode.TRAIN, "陕西省渭南市蒲城县", (34.955, 109.586),
                    "宁波市象山县", (29.477, 121.869), datetime(2020, 2, 20, 14, tzinfo=SHANGHAI),
                    datetime(2020, 2, 21, 16, tzinfo=SHANGHAI), campaign="BENCH",
                ),
            )  # fmt: skip
            count = per if c < n_convoys - 1 else n_people - per * (n_convoys - 1)
            rows = []
            for i in range(count):
                k = people + i
                idn = listed[k // 500] if k % 500 == 0 and k // 500 < len(listed) else _id(
                    f"61052{k % 10}", f"{1970 + k // 1000 % 30}0{1 + k // 30000}15", k % 1000
                )  # fmt: skip
                rows.append(PassengerRow(name=f"工人{k}", id_number=idn, employer="X"))
            add_passengers(s, convoy, rows)
            people += count
    with session_scope() as s:
        sync_registry(s)
    return len([k for k in range(n_people) if k % 500 == 0 and k // 500 < len(listed)])


def registry_check(tmp: Path, target: float = 3.0) -> Result:
    from models.db import get_engine, session_scope
    from models.intake.registry_store import check_stored

    var = tmp / "campaign"
    t = time.perf_counter()
    expected = _campaign(var, 43, 20_000, tmp / "registry-1m.csv")
    build_s = time.perf_counter() - t
    db = Path(str(get_engine().url.database))

    def ours() -> int:
        with session_scope() as s:
            return sum(len(r.flagged) for r in check_stored(s))

    def baseline() -> int:
        con = sqlite3.connect(db)
        rows = con.execute(
            "SELECT p.convoy_id, p.seat, p.id_number, e.category FROM passenger p "
            "JOIN registry_entry e ON e.id_number = p.id_number"
        ).fetchall()
        con.close()
        return len(rows)

    t_ours = t_base = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        flagged = ours()
        t_ours = min(t_ours, time.perf_counter() - t)
        t = time.perf_counter()
        joined = baseline()
        t_base = min(t_base, time.perf_counter() - t)
    if not flagged == joined == expected:
        raise RuntimeError(f"registry check disagrees: {flagged} flagged, {joined} joined")
    return ratio("intake.registry_check_campaign", t_ours, t_base, target,
                 "bare sqlite3 join of the passenger and registry tables on the same database",
                 convoys=43, passengers=20_000, registry=1_000_000, flagged=flagged,
                 build_s=round(build_s, 1))  # fmt: skip


def run() -> list[Result]:
    saved = os.environ.get("CONVOY_VAR_DIR")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-intake-") as d:
            tmp = Path(d)
            m20k, m200k = tmp / "manifest-20k.csv", tmp / "manifest-200k.csv"
            _unique_manifest(m20k, 20_000, seed=1)
            _unique_manifest(m200k, 200_000, seed=2)
            ours_import(tmp / "warm", m20k)  # imports and caches, not timed
            results = [_import_ratio("intake.import_20k", tmp, m20k, 3, 3.0)]
            elapsed, peak_mb = peak_memory(tmp, m200k)
            base = min(baseline_import(tmp / f"base-200k-{k}.db", m200k) for k in range(2))
            results.append(
                ratio(
                    "intake.import_200k",
                    elapsed,
                    base,
                    3.0,
                    "csv.reader + sqlite3.executemany into the same passenger table, no validation",
                    rows=200_000,
                )
            )
            results.append(
                Result(
                    "intake.peak_mem_200k_mb",
                    round(peak_mb, 1),
                    "MB",
                    300.0,
                    "peak RSS (ru_maxrss) of a fresh process importing 200,000 rows",
                    peak_mb <= 300.0,
                )
            )
            results.append(preverify(tmp))
            results.append(registry_check(tmp))
            return results
    finally:
        if saved is None:
            os.environ.pop("CONVOY_VAR_DIR", None)
        else:
            os.environ["CONVOY_VAR_DIR"] = saved
