"""The campaign report (``models.views.report_sections``) as text: markdown (the Prefect
artifact), CSV and XLSX. Each walks the sections generically, so a new section shows
everywhere. The HTML page is ``models.views.report_html``; the terminal table is the CLI's."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.labels import label


def show(value: Any, unit: str = "") -> str:
    """A figure as people read it: rates in per cent, None as a dash."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{float(value):.1%}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def flat_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per figure: section, key, label, value (raw), shown (as read), unit."""
    for s in report["sections"]:
        for r in s["rows"]:
            yield {"section": s["title"], "key": r["key"], "label": r["label"],
                   "value": r["value"], "shown": show(r["value"], r["unit"]),
                   "unit": r["unit"]}  # fmt: skip


def report_markdown(report: dict[str, Any]) -> str:
    loc = report["locale"]
    lines = [f"# {label('report', 'title', loc, campaign=report['campaign'])}", ""]
    for s in report["sections"]:
        if not s["rows"]:
            continue
        lines += [f"## {s['title']}", "", f"| {label('report', 'figure', loc)} | "
                  f"{label('report', 'value', loc)} |", "|---|---:|"]  # fmt: skip
        lines += [f"| {r['label']} | {show(r['value'], r['unit'])} |" for r in s["rows"]]
        lines.append("")
    top = report["tables"]["enterprises"][:20]
    if top:
        lines += [f"## {label('report', 'enterprises', loc)}", "",
                  f"| {label('report', 'enterprise', loc)} | {label('report', 'workers', loc)} "
                  f"| {label('report', 'handoffs', loc)} |", "|---|---:|---:|"]  # fmt: skip
        lines += [f"| {r['enterprise']} | {r['workers']} | {r['handoffs']} |" for r in top]
    return "\n".join(lines) + "\n"


def write_csv(report: dict[str, Any], path: Path) -> Path:
    """Every figure, one per line (UTF-8 with a BOM, so spreadsheet programs read it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, ["section", "key", "label", "value", "shown", "unit"])
        w.writeheader()
        w.writerows(flat_rows(report))
    return path


def write_xlsx(report: dict[str, Any], path: Path) -> Path:
    """Sheet *figures* (every figure), *enterprises* (handoffs per enterprise), *places*."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    loc = report["locale"]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "figures"
    ws.append([label("report", "title", loc, campaign=report["campaign"])])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["section", "key", label("report", "figure", loc), label("report", "value", loc),
               "unit"])  # fmt: skip
    for r in flat_rows(report):
        value = r["value"]
        ws.append([r["section"], r["key"], r["label"], value if value is not None else "",
                   r["unit"]])  # fmt: skip
        if r["unit"] == "%" and value is not None:
            ws.cell(ws.max_row, 4).number_format = "0.0%"
    for col, width in zip("ABCDE", (18, 28, 32, 14, 8), strict=True):
        ws.column_dimensions[col].width = width
    for name, rows in report["tables"].items():
        sheet = wb.create_sheet(name)
        if rows:
            keys = list(rows[0])
            sheet.append(keys)
            for row in rows:
                sheet.append([row[k] for k in keys])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
