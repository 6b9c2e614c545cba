"""The campaign report as one self-contained, offline HTML page with charts.

Apache ECharts (vendored from npm, ``models/views/assets/SOURCES.md``) is embedded inline, so
the file can be mailed or copied and opens with no network; the maps it links are the files
``convoy map`` writes, linked relative to where the report is saved. Every section of the
report is a table of figures and, when it has one, a chart beside it.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from models.labels import label, local_time
from models.views.report_render import show

_CSS = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f4f6f8;color:#1d2733}
header{background:#1f3a5f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}main{padding:18px 28px;display:grid;
grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}
section{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 3px #0002}
h2{font-size:16px;margin:0 0 8px}table{border-collapse:collapse;width:100%;font-size:13px}
td,th{padding:4px 6px;border-bottom:1px solid #e6e9ed;text-align:left}td.v{text-align:right;
font-variant-numeric:tabular-nums}.chart{height:260px}nav a{margin-right:12px}
.wide{grid-column:1/-1}
"""


@cache
def echarts_js() -> str:
    """The vendored ECharts build (read once)."""
    return (
        resources.files("models.views")
        .joinpath("assets/echarts/echarts.min.js")
        .read_text(encoding="utf-8")
    )


def _option(chart: dict[str, Any]) -> dict[str, Any]:
    data = chart["data"]
    if chart["kind"] == "pie":
        pie = [{"name": k, "value": v} for k, v in data.items()]
        return {"animation": False, "tooltip": {"trigger": "item"},
                "series": [{"type": "pie", "radius": ["35%", "70%"], "data": pie}]}  # fmt: skip
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 16, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": list(data)[::-1],
                  "axisLabel": {"width": 160, "overflow": "truncate"}},
        "series": [{"type": "bar", "data": list(data.values())[::-1]}],
    }  # fmt: skip


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def render_html(
    report: dict[str, Any],
    *,
    maps: dict[str, Path] | None = None,
    saved_at: Path | None = None,
    generated: datetime | None = None,
) -> str:
    """The page. ``maps`` (title → map file) are linked relative to ``saved_at``'s folder."""
    loc = report["locale"]
    esc = html.escape
    title = label("report", "title", loc, campaign=report["campaign"])
    parts = [
        "<!DOCTYPE html><html lang='" + esc(loc) + "'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style>",
        f"<script>{echarts_js()}</script></head><body>",
        f"<header><h1>{esc(title)}</h1>",
    ]
    if generated is not None:
        parts.append(
            f"<p>{esc(label('report', 'generated', loc))} {esc(local_time(generated))}</p>"
        )
    parts.append("</header><main>")
    charts: list[tuple[str, dict[str, Any]]] = []
    if maps:
        base = saved_at.parent if saved_at is not None else Path.cwd()
        links = " ".join(
            f"<a href='{esc(Path(os.path.relpath(p, base)).as_posix())}'>{esc(name)}</a>"
            for name, p in maps.items()
        )
        parts.append(f"<section class='wide'><h2>{esc(label('report', 'maps', loc))}</h2>"
                     f"<nav>{links}</nav></section>")  # fmt: skip
    for i, s in enumerate(report["sections"]):
        if not s["rows"]:
            continue
        rows = "".join(
            f"<tr><td>{esc(r['label'])}</td>"
            f"<td class='v'>{esc(show(r['value'], r['unit']))}</td></tr>"
            for r in s["rows"]
        )
        parts.append(f"<section id='s-{esc(s['key'])}'><h2>{esc(s['title'])}</h2>"
                     f"<table>{rows}</table>")  # fmt: skip
        chart = s.get("chart")
        if chart and chart.get("data"):
            cid = f"chart-{i}"
            parts.append(f"<div class='chart' id='{cid}'></div>")
            charts.append((cid, _option(chart)))
        parts.append("</section>")
    ents = report["tables"]["enterprises"]
    if ents:
        head = (f"<tr><th>{esc(label('report', 'enterprise', loc))}</th>"
                f"<th>{esc(label('report', 'workers', loc))}</th>"
                f"<th>{esc(label('report', 'handoffs', loc))}</th></tr>")  # fmt: skip
        body = "".join(
            f"<tr><td>{esc(r['enterprise'])}</td><td class='v'>{r['workers']}</td>"
            f"<td class='v'>{r['handoffs']}</td></tr>"
            for r in ents
        )
        parts.append(f"<section class='wide'><h2>{esc(label('report', 'enterprises', loc))}"
                     f"</h2><table>{head}{body}</table></section>")  # fmt: skip
    parts.append("</main><script>")
    parts.append(
        "(function(){var charts=" + _script_json(charts) + ";charts.forEach(function(c){"
        "var el=document.getElementById(c[0]);var ch=echarts.init(el);ch.setOption(c[1]);"
        "window.addEventListener('resize',function(){ch.resize();});});})();"
    )
    parts.append("</script></body></html>")
    return "".join(parts)


def write_html(report: dict[str, Any], path: Path, **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, saved_at=path, **kwargs), encoding="utf-8")
    return path
