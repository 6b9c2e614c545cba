"""Batch pre-verification against registry lists (real CSV/XLSX files, real SQLite)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from config import Settings, reset_settings
from models.convoy.checkins import record_checkin
from models.convoy.lifecycle import Stage
from models.convoy.operations import advance
from models.convoy.store import get_convoy, passengers
from models.db import session_scope
from models.errors import ValidationError
from models.intake.verification import (
    Registry,
    VerificationResult,
    configured_registry,
    load_registry,
    summary_table,
    verify,
)
from tests.conftest import SHANGHAI

T0 = datetime(2020, 2, 20, 11, 0, tzinfo=SHANGHAI)


def manifest_ids(code: str) -> list[str]:
    with session_scope() as s:
        return [p.id_number for p in passengers(s, get_convoy(s, code))]


def write_list(path: Path, rows: list[list[str]], header: list[str]) -> Path:
    if path.suffix == ".xlsx":
        wb = Workbook()
        wb.active.append(header)
        for r in rows:
            wb.active.append(r)
        wb.save(path)
        return path
    with path.open("w", newline="", encoding="gbk") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_registry_files_merge_and_normalise(tmp_path: Path) -> None:
    a = write_list(
        tmp_path / "a.csv",
        [["11010119900307803x", "隔离", "居家隔离未满14天"], ["bad", "限行", ""]],
        ["身份证号", "类别", "原因"],
    )
    b = write_list(
        tmp_path / "b.xlsx",
        [["11010119900307803X", "travel_restriction", "高风险"]],
        ["id_number", "category", "reason"],
    )
    reg = load_registry([a, b])
    assert len(reg) == 1 and reg.bad_rows == 1
    e = reg.get("11010119900307803X")
    assert e is not None
    assert e.category == "quarantine_order; travel_restriction"
    assert e.source == "a.csv; b.xlsx"


def test_registry_without_id_column_is_refused(tmp_path: Path) -> None:
    f = write_list(tmp_path / "x.csv", [["a"]], ["姓名"])
    with pytest.raises(ValidationError, match=r"x\.csv has no recognisable header row"):
        load_registry([f])


def test_registry_load_reports_repeated_ids_and_conflicting_categories(tmp_path: Path) -> None:
    ids = ["11010119900307803X", "110101199003070919", "110101199003071516"]
    f = write_list(
        tmp_path / "r.csv",
        [
            [ids[0], "隔离", ""],
            [ids[1], "隔离", ""],
            [ids[0], "居家隔离", "again"],  # repeated, the same category
            [ids[1], "限制出行", ""],  # repeated, another category
            [ids[2], "", ""],
            ["", "", ""],
            ["123", "隔离", ""],
        ],
        ["身份证号", "类别", "原因"],
    )
    reg = Registry()
    stats = reg.add_file(f)
    assert (stats.lines, stats.added, stats.repeated, stats.conflicting, stats.bad_rows) == (
        6, 3, 2, 1, 1
    )  # fmt: skip
    assert "2 line(s) repeat an ID already listed (1 with another category)" in stats.describe()
    e = reg.get(ids[1])
    assert e is not None and e.category == "quarantine_order; travel_restriction"


def test_verify_gives_every_passenger_an_outcome() -> None:
    import random

    from models.intake.identity import synthetic_id

    rng = random.Random(3)
    listed, clear = synthetic_id(rng, "110101"), synthetic_id(rng, "110101")
    reg = Registry.from_mapping({listed: "on a list"})
    out = verify([(1, 1, listed), (2, 2, clear), (3, 3, "123")], reg)
    assert [o.outcome for o in out] == ["flagged", "clear", "invalid_id"]
    assert out[0].held_reason == "failed pre-verification: listed: on a list (given)"
    assert "18 characters" in out[2].held_reason


def test_flagged_passengers_are_held_before_departure(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-V1", n=12)
    ids = manifest_ids(code)
    folder = tmp_path / "var" / "registry"
    folder.mkdir(parents=True)
    write_list(
        folder / "quarantine.csv",
        [[ids[2], "隔离", "集中隔离至2月25日"]],
        ["身份证号", "类别", "原因"],
    )
    extra = write_list(
        tmp_path / "returned.xlsx",
        [[ids[5], "已返岗", "2月10日已返甬"]],
        ["证件号码", "类型", "事由"],
    )
    reset_settings(registry_files=[extra])
    assert len(configured_registry()) == 2
    with session_scope() as s:
        record_checkin(s, code, "muster", {"absent": [1]}, at=T0)
    with session_scope() as s:
        advance(s, code, Stage.MUSTERING)
        result = advance(s, code, Stage.VERIFIED)
    assert result.summary["flagged"] == 2 and result.summary["verified"] == 9
    assert result.summary["by_category"] == {"quarantine_order": 1, "already_returned": 1}
    with session_scope() as s:
        convoy = get_convoy(s, code)
        by_seat = {p.seat: p for p in passengers(s, convoy)}
        assert by_seat[3].custody == "held"
        assert by_seat[3].custody_reason == (
            "failed pre-verification: quarantine_order: 集中隔离至2月25日 (quarantine.csv)"
        )
        assert by_seat[6].custody == "held" and "already_returned" in by_seat[6].custody_reason
        assert by_seat[4].custody == "verified"
        outcomes = s.execute(select(VerificationResult)).scalars().all()
        assert len(outcomes) == 11  # everyone mustered got an outcome; the absent did not
        table = summary_table(s, convoy.id)
        text = repr(table)
        assert all(i not in text for i in ids)  # masked
        flagged = [r for r in table if r["outcome"] == "flagged"]
        assert {r["seats"] for r in flagged} == {"3", "6"}
        # Idempotent: the step is done, running it again changes nothing.
        assert advance(s, code, Stage.VERIFIED).status == "skipped"
    reset_settings()


def test_missing_registry_file_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    s = reset_settings(registry_files=[tmp_path / "nope.csv"])
    with pytest.raises(ValidationError, match="do not exist"):
        configured_registry(s)
    reset_settings()
