"""Reading manifests (CSV/XLSX, English or Chinese headers) into validated rows.

A bad row never stops the import: it is reported with its row number, column, masked value and
reason, and kept apart for fixing. ``imported + rejected == rows read``, always.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from models.errors import ValidationError
from models.identity import (
    id_problem,
    is_mobile,
    mask_id,
    mask_phone,
    normalise_id,
    normalise_phone,
)
from models.screening import normalise_health_code, normalise_nat_result
from models.store import PassengerRow

HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码"),
    "phone": ("phone", "手机号", "手机号码", "联系电话"),
    "employer": ("employer", "用工企业", "企业名称", "单位"),
    "origin": ("origin", "户籍地", "出发地"),
    "health_code": ("health_code", "健康码"),
    "nat_result": ("nat_result", "核酸结果"),
    "nat_time": ("nat_time", "核酸检测时间"),
    "temperature": ("temperature", "体温"),
}
_LOOKUP = {alias.lower(): key for key, aliases in HEADERS.items() for alias in aliases}
REQUIRED = ("name", "id_number", "employer")


@dataclass(frozen=True)
class Rejection:
    row: int
    column: str
    value: str
    reason: str
    raw: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass
class ManifestRead:
    rows: list[tuple[int, PassengerRow]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    read: int = 0


def _masked(column: str, value: str) -> str:
    if column == "id_number":
        return mask_id(value)
    if column == "phone":
        return mask_phone(value)
    return value


def read_table(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a CSV (UTF-8 with/without BOM, or GB18030) or XLSX file as header → text."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows, ())]
        for values in rows:
            yield {
                h: "" if v is None else str(v).strip() for h, v in zip(header, values, strict=False)
            }
        return
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError(f"{path} is neither UTF-8 nor GBK/GB18030 text.")
    yield from csv.DictReader(io.StringIO(text))


def parse_rows(records: Iterator[dict[str, str]], tz: ZoneInfo) -> ManifestRead:
    out = ManifestRead()
    seen: dict[str, int] = {}
    for n, raw in enumerate(records, start=2):  # row 1 is the header
        out.read += 1
        rec: dict[str, str] = {}
        extra: dict[str, str] = {}
        for k, v in raw.items():
            if k is None:
                continue
            key = _LOOKUP.get(str(k).strip().lower())
            if key:
                rec[key] = (v or "").strip()
            else:
                extra[str(k)] = v or ""
        problem = _check(rec, seen, n, tz)
        if isinstance(problem, Rejection):
            out.rejected.append(Rejection(n, problem.column, problem.value, problem.reason, raw))
            continue
        problem.extra = extra or None
        seen[problem.id_number] = n
        out.rows.append((n, problem))
    return out


def _check(
    rec: dict[str, str], seen: dict[str, int], n: int, tz: ZoneInfo
) -> Rejection | PassengerRow:
    def bad(column: str, reason: str) -> Rejection:
        return Rejection(n, column, _masked(column, rec.get(column, "")), reason)

    for column in REQUIRED:
        if not rec.get(column):
            return bad(column, f"{column} is required")
    idn = normalise_id(rec["id_number"])
    rec["id_number"] = idn
    if (why := id_problem(idn)) is not None:
        return bad("id_number", why)
    if idn in seen:
        return bad("id_number", f"the same ID number is already on row {seen[idn]}")
    phone = normalise_phone(rec.get("phone", ""))
    if phone and not is_mobile(phone):
        rec["phone"] = phone
        return bad("phone", "a mainland mobile number has 11 digits starting 13–19")
    try:
        code = normalise_health_code(rec.get("health_code"))
    except ValidationError as exc:
        return bad("health_code", str(exc))
    try:
        nat = normalise_nat_result(rec.get("nat_result"))
    except ValidationError as exc:
        return bad("nat_result", str(exc))
    nat_time = None
    if rec.get("nat_time"):
        try:
            nat_time = datetime.fromisoformat(rec["nat_time"].replace("/", "-"))
        except ValueError:
            return bad("nat_time", "the test time is not a date and time like 2020-02-18 09:30")
        if nat_time.tzinfo is None:
            nat_time = nat_time.replace(tzinfo=tz)
    temp = None
    if rec.get("temperature"):
        try:
            temp = float(rec["temperature"])
        except ValueError:
            return bad("temperature", "the temperature is not a number")
        if not 34.0 <= temp <= 43.0:
            return bad("temperature", "the temperature is outside 34.0–43.0 °C")
    return PassengerRow(
        name=rec["name"],
        id_number=idn,
        phone=phone,
        employer=rec["employer"],
        origin=rec.get("origin", ""),
        health_code=code,
        nat_result=nat,
        nat_time=nat_time,
        temperature=temp,
    )


def read_manifest(path: Path, tz: ZoneInfo) -> ManifestRead:
    if not path.exists():
        raise ValidationError(f"The manifest file {path} does not exist.")
    return parse_rows(read_table(path), tz)


def write_rejections(result: ManifestRead, path: Path) -> Path:
    """The rejected rows with row, column, masked value and reason, for fixing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "column", "value", "reason"])
        for r in result.rejected:
            w.writerow([r.row, r.column, r.value, r.reason])
    return path
