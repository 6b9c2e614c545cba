"""Batch checks of an enterprise's staff list: the outcome of every person agrees with a direct
comparison with the registry lists and the active manifests, the result sheet and everything
stored are masked and never carry a registry's category or internal reason, counts are kept."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select
from sqlmodel import col

from config import Settings
from models.access.actors import acting_as
from models.access.audit import audit_log
from models.convoy.tables import Passenger
from models.db import session_scope
from models.desk.staff import (
    PUBLIC_CATEGORIES,
    Person,
    check_staff_list,
    judge,
    list_checks,
    public_reason,
    result_csv,
    result_rows,
    result_xlsx,
)
from models.desk.tables import StaffCheckRow
from models.errors import NotFoundError, PermissionDeniedError, ValidationError
from models.intake.identity import id_problem, mask_id, synthetic_id
from models.intake.verification import Registry
from models.labels import DESK
from tests.models.desk.helpers import ROOT, as_link, setup_desk

INTERNAL = {  # category, internal reason: neither may reach the enterprise
    "travel_restriction": "涉疫风险地区限制出行名单A-17",
    "quarantine_order": "密切接触者，集中隔离至3月5日",
    "wanted": "网上追逃人员（内部）",
}


def _world(make_convoy: Callable[..., str], settings: Settings) -> dict:
    world = setup_desk(make_convoy, n=6)
    rng = random.Random(16)
    listed = {synthetic_id(rng, "610526"): cat for cat in INTERNAL for _ in range(2)}
    folder = settings.var_dir / "registry"
    folder.mkdir(parents=True)
    with (folder / "lists.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["身份证号", "类别", "原因"])
        for idn, cat in listed.items():
            w.writerow([idn, cat, INTERNAL[cat]])
    with session_scope() as s:
        riding = [p.id_number for p in s.execute(select(Passenger)).scalars()][:3]
    cleared = [synthetic_id(rng, "410000") for _ in range(5)]
    people = [(f"员工{i}", idn) for i, idn in enumerate([*listed, *riding, *cleared])]
    people += [("错号", "330225199001011230"), ("", cleared[0][:-1] + "0"), ("重复", cleared[1])]
    path = settings.var_dir / "staff.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["宁波甬丰模具 返岗员工名单"])  # a title row above the header
        w.writerow(["序号", "姓名", "身份证号码", "手机号"])
        for i, (name, idn) in enumerate(people, 1):
            w.writerow([i, name, idn, "13800000000"])
    return {**world, "listed": listed, "riding": set(riding), "path": path, "people": people}


def test_batch_check_agrees_with_a_direct_registry_comparison(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    w = _world(make_convoy, settings)
    with acting_as(as_link(w, 1), "api"), session_scope() as s:
        r = check_staff_list(s, w["ids"][1], w["path"], channel="page", file_name="名单.csv")
        rows = result_rows(s, r.check_id, w["ids"][1], locale="en")
        stored = list(s.execute(select(StaffCheckRow).order_by(col(StaffCheckRow.row))).scalars())
        sheet_csv = result_csv(rows, "en").decode("utf-8-sig")
        sheet_xlsx = result_xlsx(rows, "en")
    # Direct comparison, person by person (rows 3… under the title and the header).
    seen: set[str] = set()
    for (name, idn), row in zip(w["people"], stored, strict=True):
        valid = bool(name) and id_problem(idn) is None
        if not valid or idn in seen:
            assert row.outcome == "invalid", (name, row.reason)
            continue
        seen.add(idn)
        if idn in w["listed"]:
            category = w["listed"][idn]
            assert row.outcome == "attention"
            assert row.reason == (category if category in PUBLIC_CATEGORIES else "contact_officer")
        elif idn in w["riding"]:
            assert (row.outcome, row.reason) == ("attention", "on_convoy")
        else:
            assert (row.outcome, row.reason) == ("cleared", "cleared")
        assert row.id_number == mask_id(idn)
    assert (r.read, r.checked, r.attention, r.invalid) == (17, 14, 9, 3)
    assert r.cleared == 5 and r.by_reason == {
        "contact_officer": 2, "duplicate_in_file": 1, "id_invalid": 1, "missing_field": 1,
        "on_convoy": 3, "quarantine_order": 2, "travel_restriction": 2,
    }  # fmt: skip
    # Nothing given back or stored carries an ID number, a registry category or its reason.
    book = load_workbook(io.BytesIO(sheet_xlsx), read_only=True)
    xlsx_text = " ".join(str(c) for row in book.active.iter_rows(values_only=True) for c in row)
    for text in (sheet_csv, xlsx_text, str([vars(x) for x in stored])):
        for idn in [p[1] for p in w["people"] if p[1]]:
            assert idn not in text
        for word in (*INTERNAL.values(), "wanted"):
            assert word not in text
    for text in (sheet_csv, xlsx_text):  # what the enterprise reads: public words only
        assert "quarantine_order" not in text and "travel_restriction" not in text
    assert DESK["en"]["public.contact_officer"] in sheet_csv
    with acting_as(ROOT, "cli"), session_scope() as s:
        audit = [e for e in audit_log(s) if e["action"].startswith("staff check")]
        assert [e["action"] for e in audit] == ["staff check.add"]
        assert list_checks(s)[0]["by_reason"] == r.by_reason


def test_an_enterprise_sees_only_its_own_checks(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    w = _world(make_convoy, settings)
    with acting_as(as_link(w, 0), "api"), session_scope() as s:
        mine = check_staff_list(s, w["ids"][0], w["path"]).check_id
    with acting_as(as_link(w, 1), "api"), session_scope() as s:
        with pytest.raises(NotFoundError):
            result_rows(s, mine, w["ids"][1])
        with pytest.raises(PermissionDeniedError):
            result_rows(s, mine)
        with pytest.raises(PermissionDeniedError):
            check_staff_list(s, w["ids"][0], w["path"])
        assert list_checks(s, w["ids"][1]) == []


def test_a_file_that_is_no_staff_list_is_one_line(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    w = setup_desk(make_convoy, n=0)
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    empty = tmp_path / "e.csv"
    empty.write_text("姓名,身份证号\n", encoding="utf-8")
    with acting_as(ROOT, "cli"), session_scope() as s:
        with pytest.raises(ValidationError, match="staff list"):
            check_staff_list(s, w["ids"][0], bad)
        with pytest.raises(ValidationError, match="lists nobody"):
            check_staff_list(s, w["ids"][0], empty)


@given(st.text(max_size=40))
def test_the_public_wording_never_repeats_an_unknown_category(category: str) -> None:
    key = public_reason(category)
    assert key in (*PUBLIC_CATEGORIES, "contact_officer")
    assert f"public.{key}" in DESK["zh-CN"] and f"public.{key}" in DESK["en"]
    if key != "contact_officer":
        assert all(c.strip() in PUBLIC_CATEGORIES for c in category.split(";") if c.strip())


@given(
    st.lists(st.integers(0, 30), max_size=30),
    st.sets(st.integers(0, 30), max_size=10),
    st.sets(st.integers(0, 30), max_size=10),
)
def test_judging_is_set_membership(ids: list[int], listed: set[int], riding: set[int]) -> None:
    key = lambda i: f"{i:018d}"  # noqa: E731
    people = [Person(n, "x", key(i)) for n, i in enumerate(ids)]
    judge(people, Registry.from_mapping({key(i): "内部原因" for i in listed}),
          {key(i) for i in riding})  # fmt: skip
    for p, i in zip(people, ids, strict=True):
        expected = "attention" if i in listed or i in riding else "cleared"
        assert p.outcome == expected
        assert p.reason in ("cleared", "on_convoy", "contact_officer")
