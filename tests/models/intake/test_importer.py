"""Bulk manifest import on a real SQLite database: counts, error files, idempotency, employers,
cross-convoy duplicates, and fuzzing that never loses a row."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from config import Settings
from models.convoy.custody import replay, states
from models.convoy.store import get_convoy, passengers
from models.convoy.tables import Passenger
from models.db import session_scope
from models.errors import ValidationError
from models.intake.identity import synthetic_id
from models.intake.importer import import_manifest
from tests.conftest import ENTERPRISES

HEADER = ["姓名", "身份证号", "手机号", "用工企业", "健康码", "体温", "备注"]


def ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_id(rng, "330225") for _ in range(n)]


def write(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def good_rows(n: int, seed: int = 7) -> list[list[str]]:
    return [
        [f"工人{i}", idn, f"138{i:08d}", ENTERPRISES[i % 2], "绿", "36.5", f"note {i}"]
        for i, idn in enumerate(ids(n, seed))
    ]


def do_import(code: str, path: Path) -> dict:
    with session_scope() as s:
        return import_manifest(s, code, path).as_dict()


def test_import_counts_files_and_idempotency(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I1", n=0)
    rows = good_rows(10)
    bad_id = rows[3][1][:17] + ("0" if rows[3][1][17] != "0" else "1")
    rows[3][1] = bad_id  # check digit
    rows[5][2] = "12345"  # phone
    rows[7][3] = "宁波甬丰模具厂"  # unknown employer, with a close match
    rows.append(list(rows[0]))  # duplicate in the file
    f = write(tmp_path / "m.csv", rows)
    r = do_import(code, f)
    assert (r["read"], r["added"], r["rejected"]) == (11, 7, 4)
    assert r["imported"] + r["rejected"] == r["read"]
    # Error report: masked values, every problem; CSV and XLSX agree.
    with open(r["errors_csv"], encoding="utf-8-sig") as fh:
        report = list(csv.DictReader(fh))
    assert {x["column"] for x in report} == {"id_number", "phone", "employer"}
    text = Path(r["errors_csv"]).read_text(encoding="utf-8-sig")
    assert bad_id not in text and rows[0][1] not in text and "12345" not in text
    assert "1234" not in text.replace("123**", "")  # the phone is masked too
    xlsx_rows = list(load_workbook(r["errors_xlsx"], read_only=True).active.values)
    assert len(xlsx_rows) == len(report) + 1
    unknown = next(x for x in report if x["column"] == "employer")
    assert "did you mean" in unknown["reason"]
    # The file for fixing keeps the original rows and says why.
    with open(r["for_fixing"], encoding="utf-8-sig") as fh:
        fixing = list(csv.DictReader(fh))
    assert [x["身份证号"] for x in fixing] == [bad_id, rows[5][1], rows[7][1], rows[0][1]]
    assert fixing[0]["_row"] == "5" and "check digit" in fixing[0]["_reason"]
    # Same file again: nothing new, the same rejections.
    again = do_import(code, f)
    assert (again["added"], again["unchanged"], again["rejected"]) == (0, 7, 4)
    # Fix the rows in the file for fixing and import it: only the fixed rows are added.
    fixing[1]["手机号"] = "13912345678"
    fixing[2]["用工企业"] = "宁波甬丰模具有限公司"
    fixed = tmp_path / "m.for-fixing.csv"
    with fixed.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fixing[0]))
        w.writeheader()
        w.writerows(fixing)
    third = do_import(code, fixed)
    assert (third["read"], third["added"], third["rejected"]) == (4, 2, 1)
    assert third["unchanged"] == 1  # the duplicate of row 2 is already on the manifest
    with session_scope() as s:
        convoy = get_convoy(s, code)
        people = passengers(s, convoy)
        assert len(people) == 9
        assert [p.seat for p in people] == list(range(1, 10))
        assert replay(s, convoy.id) == states(s, convoy.id)  # one registration event each
        assert people[0].extra == {"备注": "note 0"}
        assert "_reason" not in people[-1].extra


def test_clean_reimport_removes_stale_error_files(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I2", n=0)
    rows = good_rows(3)
    rows[1][4] = "紫"
    f = write(tmp_path / "m.csv", rows)
    first = do_import(code, f)
    assert first["problems"] == {"health_code": 1}
    assert Path(first["errors_csv"]).exists()
    rows[1][4] = "绿"
    write(f, rows)
    second = do_import(code, f)
    assert second["rejected"] == 0 and second["errors_csv"] is None
    assert not Path(first["errors_csv"]).exists()


def test_employer_normalisation(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I3", n=0)
    variants = [
        "象山示范针织",
        " 象山 示范针织有限公司 ",
        "象山示范针织（有限公司）",
        "象山示范针织股份有限公司",
    ]
    rows = [
        [f"工人{i}", idn, "", v, "", "", ""]
        for i, (idn, v) in enumerate(zip(ids(4), variants, strict=True))
    ]
    rows[2][3] = "象山示范针织有限公司"  # exact
    rows[3][3] = "ｘ象山示范针织"  # full-width letter: no such enterprise
    r = do_import(code, write(tmp_path / "m.csv", rows))
    assert (r["added"], r["rejected"]) == (3, 1)
    with session_scope() as s:
        people = passengers(s, get_convoy(s, code))
        assert len({p.enterprise_id for p in people}) == 1 and people[0].enterprise_id


def test_one_person_cannot_ride_two_convoys(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    a, b = make_convoy("BUS-A", n=0), make_convoy("BUS-B", n=0)
    f = write(tmp_path / "m.csv", good_rows(4))
    assert do_import(a, f)["added"] == 4
    r = do_import(b, f)
    assert (r["added"], r["rejected"]) == (0, 4)
    with open(r["errors_csv"], encoding="utf-8-sig") as fh:
        assert all("already on convoy BUS-A" in x["reason"] for x in csv.DictReader(fh))
    with session_scope() as s:  # once convoy A is closed the people are free again
        get_convoy(s, a).stage = "closed"
    assert do_import(b, f)["added"] == 4


def test_import_refused_after_planning(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I4", n=1)
    with session_scope() as s:
        get_convoy(s, code).stage = "mustering"
    with pytest.raises(ValidationError, match="only be imported while it is planned"):
        do_import(code, write(tmp_path / "m.csv", good_rows(1)))


def test_gbk_and_xlsx_files(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I5", n=0)
    assert do_import(code, write(tmp_path / "g.csv", good_rows(3, 1), "gbk"))["added"] == 3
    wb = Workbook()
    wb.active.append(HEADER)
    for r in good_rows(3, 2):
        wb.active.append(r)
    wb.active.append(["=A2", "=B2", None, "=1", None, None, None])
    wb.save(tmp_path / "x.xlsx")
    r = do_import(code, tmp_path / "x.xlsx")
    assert (r["added"], r["rejected"]) == (3, 1)
    assert r["for_fixing"].endswith(".xlsx")
    kept = list(load_workbook(r["for_fixing"]).active.values)
    assert kept[1][0] == "" or kept[1][0] is None or kept[1][0].startswith("=")
    assert "formula" in kept[1][-1]


def test_a_nul_character_rejects_its_row(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    """No database text column stores U+0000 (PostgreSQL refuses it): such rows are reported,
    on every backend, and the others import."""
    code = make_convoy("BUS-NUL", n=0)
    rows = good_rows(4)
    rows[0][0] = "工\x00人"
    rows[2][6] = "note\x00x"  # an extra column is stored too
    r = do_import(code, write(tmp_path / "m.csv", rows))
    assert (r["read"], r["added"], r["rejected"]) == (4, 2, 2)
    assert r["problems"] == {"姓名": 1, "备注": 1}
    text = Path(r["errors_csv"]).read_text(encoding="utf-8-sig")
    assert "NUL character" in text and "\x00" not in text
    with session_scope() as s:
        assert [p.seat for p in passengers(s, get_convoy(s, code))] == [1, 2]


def test_a_damaged_file_saves_nothing(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I6", n=0)
    f = write(tmp_path / "m.csv", good_rows(5))
    f.write_bytes(f.read_bytes() + b"\xff\xfe\x00broken")
    with pytest.raises(ValidationError, match="neither UTF-8 nor GBK"):
        do_import(code, f)
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Passenger)).scalar_one() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["工人", "", "  "]),
            st.one_of(st.sampled_from(ids(6, 3)), st.text(max_size=20)),
            st.one_of(st.just("13812345678"), st.text(max_size=12)),
            st.sampled_from([*ENTERPRISES, "无名公司", ""]),
            st.sampled_from(["绿", "红", "x", ""]),
            st.one_of(st.just("36.6"), st.text(max_size=5)),
        ),
        max_size=20,
    )
)
def test_fuzz_import_never_loses_a_row(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path, rows: list[tuple]
) -> None:
    code = make_convoy("BUS-FZ", n=0)
    with session_scope() as s:  # each example starts from an empty manifest
        from models.convoy.tables import CustodyEvent

        s.execute(CustodyEvent.__table__.delete())  # type: ignore[attr-defined]
        s.execute(Passenger.__table__.delete())  # type: ignore[attr-defined]
    f = write(tmp_path / "fz.csv", [[*r, ""] for r in rows], "gb18030")
    r = do_import(code, f)
    nonblank = sum(1 for row in rows if "".join(row).strip())
    assert r["read"] == nonblank
    assert r["added"] + r["unchanged"] + r["rejected"] == r["read"]
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Passenger)).scalar_one() == r["added"]
