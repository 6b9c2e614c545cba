"""Employer matching that never guesses, name collisions, the enterprise list import and the
destination city its districts are resolved in (real files, real SQLite)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import select

from config import Settings
from models.convoy.store import upsert_enterprise
from models.convoy.tables import Enterprise
from models.db import session_scope
from models.errors import ConvoyOpsError, ValidationError
from models.geo.gazetteer import resolve_place
from models.intake.enterprises import (
    EnterpriseIndex,
    campaign_city,
    collisions,
    import_enterprises,
    name_key,
    stem_key,
)
from models.intake.plans import load_plan

PAIR = ("宁波甬城电子有限公司", "宁波甬城电子股份有限公司")


def test_keys() -> None:
    assert name_key(" 宁波 甬丰（模具）有限公司 ") == "宁波甬丰模具有限公司"
    assert name_key("ＡＢＣ电子") == "abc电子"  # full width
    assert (
        stem_key("宁波甬丰模具股份有限公司") == stem_key("宁波甬丰模具有限公司") == "宁波甬丰模具"
    )
    assert stem_key("宁波建工集团有限公司") == "宁波建工集团"  # 集团 is part of the name
    assert stem_key("有限公司") == "有限公司"


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(PAIR), st.sampled_from(["", " ", "\u3000"]), st.booleans())
def test_a_pair_differing_by_gufen_is_never_collapsed(
    name: str, space: str, full_width: bool
) -> None:
    """Written exactly, or with spacing or width changes, each name finds its own enterprise;
    without a suffix it finds neither."""
    import unicodedata

    class FakeSession:  # the index reads (id, name) rows only
        def execute(self, _stmt: object) -> object:
            class R:
                def all(self) -> list[tuple[int, str]]:
                    return [(1, PAIR[0]), (2, PAIR[1])]

            return R()

    index = EnterpriseIndex(FakeSession())  # type: ignore[arg-type]
    text = name[:2] + space + name[2:]
    if full_width:
        text = "".join(unicodedata.lookup("FULLWIDTH " + unicodedata.name(c)) if c.isascii()
                       and c.isalnum() else c for c in text)  # fmt: skip
    assert index.match(text).id == (1 if name == PAIR[0] else 2)
    bare = index.match("宁波甬城电子")
    assert bare.id is None and bare.code == "ambiguous_employer"
    assert PAIR[0] in bare.reason and PAIR[1] in bare.reason


def test_collisions_are_reported() -> None:
    found = collisions([*PAIR, "象山 针织有限公司", "象山针织有限公司", "宁波甬丰模具有限公司"])
    assert len(found) == 2
    assert any("legal-form suffix" in w and PAIR[0] in w and PAIR[1] in w for w in found)
    assert any("width, spacing or punctuation" in w for w in found)
    assert collisions(["宁波甬丰模具有限公司", "宁波甬丰电器有限公司"]) == []


def write_list(path: Path, rows: list[list[str]], header: list[str]) -> Path:
    if path.suffix == ".xlsx":
        wb = Workbook()
        ws = wb.active
        ws.append(["2020年复工企业名单"])  # a title row above the header
        ws.append(header)
        for r in rows:
            ws.append(r)
        wb.save(path)
        return path
    with path.open("w", newline="", encoding="gbk") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


HEADER = ["企业名称", "所在区县", "地址", "联系人", "联系电话", "通知"]


def test_enterprise_import_is_idempotent_and_resolves_within_the_city(
    settings: Settings, tmp_path: Path
) -> None:
    rows = [
        [
            PAIR[0],
            "江北区",
            "江北区长兴路1号",
            "王经理",
            "13805740001",
            "mailto://a@example.invalid",
        ],
        [PAIR[1], "江北区", "江北区长兴路2号", "李经理", "13805740002", ""],
        ["宁波甬丰模具有限公司", "象山", "", "", "", ""],
        ["", "北仑区", "", "", "", ""],  # no name
        ["宁波无处公司", "火星区", "", "", "", ""],  # no such place
        [PAIR[0], "江北区", "", "", "", ""],  # twice in the list
    ]
    f = write_list(tmp_path / "enterprises.xlsx", rows, HEADER)
    with session_scope() as s:
        with pytest.raises(ConvoyOpsError, match="fits 2 places"):  # 宁波 or 重庆
            resolve_place("江北区")
        r = import_enterprises(s, f, within="宁波市")
    assert r.header_row == 2
    assert (r.read, r.added, r.updated, r.unchanged, r.rejected) == (6, 3, 0, 0, 3)
    assert [p["row"] for p in r.problems] == [6, 7, 8]
    assert any("legal-form suffix" in w for w in r.collisions)
    with session_scope() as s:
        e = s.execute(select(Enterprise).where(Enterprise.name == PAIR[0])).scalar_one()
        assert 29.8 < (e.lat or 0) < 30.1 and 121.4 < (e.lon or 0) < 121.7  # Ningbo, not Chongqing
        assert (e.contact_name, e.contact_phone, e.notify_url) == (
            "王经理", "13805740001", "mailto://a@example.invalid"
        )  # fmt: skip
    with session_scope() as s:
        again = import_enterprises(s, f, within="宁波市")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)


def test_enterprise_list_file_errors(settings: Settings, tmp_path: Path) -> None:
    with session_scope() as s:
        with pytest.raises(ValidationError, match="but no enterprises below it"):
            import_enterprises(s, write_list(tmp_path / "e.csv", [], HEADER))
        with pytest.raises(ValidationError, match="has no recognisable header row"):
            import_enterprises(s, write_list(tmp_path / "f.csv", [["x"]], ["名单"]))


def test_the_plan_takes_an_enterprise_file_and_the_campaign_city(
    settings: Settings, tmp_path: Path
) -> None:
    write_list(tmp_path / "ents.csv", [[PAIR[0], "江北区", "", "", "", ""]], HEADER)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "campaign: 宁波2020复工返岗\n"
        "enterprises: ents.csv\n"
        "convoys:\n"
        "  - {code: BUS-E1, mode: bus, origin: 陕西省渭南市蒲城县, destination: 宁波市象山县,"
        " depart: 2020-02-22 14:00, arrive: 2020-02-23 16:00}\n",
        encoding="utf-8",
    )
    with session_scope() as s:
        result = load_plan(s, plan)
    assert result.enterprises == 1 and result.convoys == ["BUS-E1"]
    with session_scope() as s:
        e = s.execute(select(Enterprise).where(Enterprise.name == PAIR[0])).scalar_one()
        assert 29.8 < (e.lat or 0) < 30.1
        assert campaign_city(s, "宁波2020复工返岗") == "浙江省宁波市"
        assert campaign_city(s) == "浙江省宁波市"  # the only campaign


def test_a_plan_list_warns_about_collisions(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"enterprises:\n  - {{name: {PAIR[0]}}}\n  - {{name: {PAIR[1]}}}\n", encoding="utf-8"
    )
    with session_scope() as s:
        result = load_plan(s, plan)
    assert result.enterprises == 2
    assert any("legal-form suffix" in w for w in result.warnings)
    with session_scope() as s:
        upsert_enterprise(s, "宁波甬城 电子有限公司")
        assert len(EnterpriseIndex(s).by_key[name_key(PAIR[0])]) == 2


_WORDS = "甬丰模具电子机械纺织服装塑料五金汽配化工包装印刷建材精密光电照明家电"


class _Register:
    """A session holding only an enterprise register (the index reads (id, name) rows)."""

    def __init__(self, names: list[str]) -> None:
        self.rows = list(enumerate(names, 1))

    def execute(self, _stmt: object) -> object:
        rows = self.rows

        class R:
            def all(self) -> list[tuple[int, str]]:
                return rows

        return R()


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.text(alphabet=_WORDS, min_size=3, max_size=6), min_size=60, max_size=400, unique=True
    ),
    st.data(),
)
def test_an_unknown_employer_is_told_the_name_it_misspelt(
    names: list[str], data: st.DataObject
) -> None:
    """A register larger than the names compared in full: a registered name with one character
    changed is unknown, and its hint's first name is as close to it as the best of comparing
    every registered name (with a unique best, that very name)."""
    import difflib

    register = [f"宁波{n}有限公司" for n in names]
    meant = data.draw(st.sampled_from(register))
    at = data.draw(st.integers(2, len(meant) - 5))  # a character of the name's own part
    typo = meant[:at] + ("厂" if meant[at] != "厂" else "坊") + meant[at + 1 :]
    index = EnterpriseIndex(_Register(register))  # type: ignore[arg-type]
    found = index.match(typo)
    assert found.id is None and found.code == "unknown_employer"
    hinted = found.reason.split("did you mean ", 1)[1].rstrip("?").split(", ")
    assert set(hinted) <= set(register)

    def score(name: str) -> float:
        return difflib.SequenceMatcher(None, name_key(name), name_key(typo)).ratio()

    best = max(score(n) for n in register)
    assert score(hinted[0]) == best
    if [score(n) for n in register].count(best) == 1:
        assert hinted[0] == meant
