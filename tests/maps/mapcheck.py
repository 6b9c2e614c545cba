"""Helpers for the convoy-map tests: a convoy in the field, browser probes, offline scans."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from maps.chromium import ChromiumPage, HeadlessChromium
from maps.offline import find_external_urls
from models.convoy.custody import Change, apply_changes, states
from models.convoy.lifecycle import Custody, Stage
from models.convoy.store import get_convoy
from models.convoy.tables import Passenger, Position
from models.db import session_scope
from models.tracking.alerts.tables import Alert
from tests.maps.urlscan import disallowed_urls, referenced_files

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2020, 2, 20, 14, 20, tzinfo=SHANGHAI)


def put_in_the_field(code: str, *, positions: int = 12, alert: bool = True) -> None:
    """Move a convoy made by ``make_convoy`` to in_transit: everyone verified, cleared and
    boarded except one held at screening and one who did not show; a track along the route;
    an open off-route alert."""
    chain = [
        (Custody.VERIFIED, Stage.VERIFIED),
        (Custody.CLEARED, Stage.SCREENED),
        (Custody.BOARDED, Stage.DEPARTED),
    ]
    with session_scope() as s:
        convoy = get_convoy(s, code)
        assert convoy.id is not None
        ids = sorted(states(s, convoy.id))
        apply_changes(s, convoy, [Change(ids[0], Custody.WITHDRAWN, "did not show")],
                      at=T0, actor="test", location="", stage=Stage.MUSTERING.value)  # fmt: skip
        for step, (to, stage) in enumerate(chain):
            current = states(s, convoy.id)
            changes = [
                Change(pid, Custody.HELD, "fever 38.1")
                if step == 1 and pid == ids[1]
                else Change(pid, to)
                for pid, state in current.items()
                if state not in (Custody.HELD, Custody.WITHDRAWN)
            ]
            apply_changes(s, convoy, changes, at=T0, actor="test", location="蒲城县体育馆",
                          stage=stage.value, current=current)  # fmt: skip
        convoy.stage = Stage.IN_TRANSIT.value
        convoy.actual_departure = T0
        route = convoy.route()
        for i in range(positions):
            f = i / max(positions - 1, 1) * 0.6
            a, b = route[0], route[1]
            s.add(
                Position(
                    convoy_id=convoy.id,
                    at=T0 + timedelta(minutes=20 * i),
                    lat=a[0] + (b[0] - a[0]) * f,
                    lon=a[1] + (b[1] - a[1]) * f,
                    source="test",
                )
            )
        if alert:
            s.add(
                Alert(
                    convoy_id=convoy.id,
                    kind="off_route",
                    opened_at=T0,
                    last_seen_at=T0,
                    active_key=f"{convoy.id}:off_route",
                    summary=f"【偏航】{code} 偏离计划路线 12 公里",
                )
            )
        s.add(convoy)


def personal_data() -> list[str]:
    """Every passenger's ID number, phone and name in the test database."""
    with session_scope() as s:
        rows = s.execute(
            select(col(Passenger.id_number), col(Passenger.phone), col(Passenger.name))
        ).all()
    return [value for row in rows for value in row if value]


def decoded(text: str) -> str:
    """Page text with JSON ``\\uXXXX`` escapes resolved (folium writes labels that way)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)


def leaks(text: str, values: list[str]) -> list[str]:
    """The values that appear in the page, raw or JSON-escaped."""
    plain = decoded(text)
    return [v for v in values if v in text or v in plain]


def problems(page: ChromiumPage) -> list[str]:
    """Console errors, uncaught exceptions, error log entries and failed requests."""
    found = []
    for event in page.events():
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            found.append(f"failed request: {params.get('errorText')} ({params.get('type')})")
    return found


def remote_requests(page: ChromiumPage) -> list[str]:
    return [
        e["params"]["request"]["url"]
        for e in page.events()
        if e.get("method") == "Network.requestWillBeSent"
        and not e["params"]["request"]["url"].startswith(("file:", "data:"))
    ]


PROBE = """(() => {
    const q = (sel) => document.querySelectorAll(sel).length;
    const marker = (kind) => q(".leaflet-marker-pane .convoy-marker-" + kind);
    return {
        leaflet: typeof window.L,
        planned: q("path.convoy-route-planned"),
        track: q("path.convoy-route-track"),
        replayTrail: q("path.convoy-replay-trail"),
        overviewRoutes: q("path.convoy-overview-route"),
        modeRoutes: {train: q("path.convoy-mode-train"), flight: q("path.convoy-mode-flight"),
                     bus: q("path.convoy-mode-bus")},
        permitRoutes: q("path.convoy-permit-route"),
        markers: {
            origin: marker("origin"), destination: marker("destination"),
            waypoint: marker("waypoint"), current: marker("current"),
            checkpoint: marker("checkpoint"), alert: marker("alert"), count: marker("count"),
            enterprise: marker("enterprise"), site: marker("site"), entrance: marker("entrance"),
            start: marker("start"),
            handoff: q(".leaflet-marker-pane .convoy-cp-handoff"),
        },
        clusterCounts: [...document.querySelectorAll(".marker-cluster span")]
            .map((s) => Number(s.textContent)),
        fullscreen: q(".leaflet-control-zoom-fullscreen"),
        layerControl: q(".leaflet-control-layers"),
        layerNames: [...document.querySelectorAll(".leaflet-control-layers-overlays span")]
            .map((s) => s.textContent.trim()),
        replayControl: q(".convoy-replay"),
        controlTitles: [...document.querySelectorAll(
            ".leaflet-control-container [title], .leaflet-control-container [aria-label]")]
            .map((e) => e.getAttribute("title") || e.getAttribute("aria-label")),
        scaleLines: [...document.querySelectorAll(".leaflet-control-scale-line")]
            .map((e) => e.textContent),
        libraries: ["L", "jQuery", "bootstrap", "moment", "nezasa"]
            .filter((name) => typeof window[name] !== "undefined")
            .concat(window.L && L.TimeDimension ? ["L.TimeDimension"] : []),
        scripts: [...document.scripts].map((s) => s.src).filter((s) => s)
            .map((s) => s.split("/").slice(-2).join("/")),
        legend: q(".convoy-legend"),
        info: q(".convoy-info"),
        summary: document.querySelector(".convoy-summary")
            ? document.querySelector(".convoy-summary").innerText : "",
        panelText: [...document.querySelectorAll(".convoy-panel")].map((d) => d.innerText)
            .join("\\n"),
        permanentLabels: [...document.querySelectorAll(".leaflet-tooltip")]
            .map((t) => t.textContent),
        fontErrors: [...document.fonts].filter((f) => f.status === "error").map((f) => f.family),
    };
})()"""


CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_chinese_controls(dom: dict[str, Any]) -> None:
    """Every control title (and ARIA label) is Chinese; the scale bar is metric only."""
    titles = dom["controlTitles"]
    assert titles, "no control titles found"
    english = [t for t in titles if not CJK.search(t)]
    assert english == [], english
    assert len(dom["scaleLines"]) == 1 and re.fullmatch(r"\d+ k?m", dom["scaleLines"][0])


HIDDEN_PROBE = """(() => {
    const centre = (el) => {
        const r = el.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2];
    };
    const hit = (el) => {
        const [x, y] = centre(el);
        const top = document.elementFromPoint(x, y);
        return top && top.closest(".leaflet-marker-icon, .leaflet-control");
    };
    const inView = (el) => {
        const [x, y] = centre(el);
        return x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
    };
    const markers = [...document.querySelectorAll(
        ".leaflet-marker-pane .convoy-marker:not(.convoy-marker-replay)")].filter(inView);
    const flags = markers.filter((el) => el.classList.contains("convoy-marker-destination"));
    return {
        markers: markers.length,
        flags: flags.length,
        flagOnTop: flags.every((el) => hit(el) === el),
        covered: markers.filter((el) => hit(el) !== el)
            .map((el) => [el.className, hit(el) ? hit(el).className : null]),
        moved: markers.filter((el) => el.hasAttribute("data-moved")).length,
    };
})()"""


def hidden(page: ChromiumPage, zoom: int | None = None) -> dict[str, Any]:
    """Which badges are covered (by another badge or a control) at the map's zoom, or after
    zooming to ``zoom`` around the destination flag (and letting clusters settle); the flag
    must be the topmost element at its own centre."""
    if zoom is None:  # let clusters finish fading in (slow on a busy machine), then measure
        page.evaluate(
            """new Promise((done) => setTimeout(() => {
                const map = Object.values(window).find((v) => v instanceof L.Map);
                map.convoyDeclutter();
                done(true);
            }, 300))""",
            await_promise=True,
        )
    else:
        page.evaluate(
            f"""new Promise((done) => {{
                const map = Object.values(window).find((v) => v instanceof L.Map);
                const flag = document.querySelector(".convoy-marker-destination");
                let at = null;
                map.eachLayer((layer) => {{
                    if (layer.getElement && layer.getElement() === flag) {{
                        at = layer.getLatLng();
                    }}
                }});
                map.setView(at, {zoom}, {{animate: false}});
                setTimeout(() => {{ map.convoyDeclutter(); done(true); }}, 450);
            }})""",
            await_promise=True,
        )
    result: dict[str, Any] = page.evaluate(HIDDEN_PROBE)
    return result


def load(browser: HeadlessChromium, html: Path) -> dict[str, Any]:
    """Open a saved map with the network blocked; assert it loads cleanly; return the probe."""
    page = browser.open(html.as_uri(), settle_ms=500)
    try:
        dom: dict[str, Any] = page.evaluate(PROBE)
        assert problems(page) == []
        assert remote_requests(page) == []
    finally:
        page.close()
    assert dom["leaflet"] == "object"
    assert dom["fontErrors"] == []
    return dom


def assert_offline_files(html: Path) -> None:
    """No http(s):// or // URL except attribution in the page and every file it references."""
    text = html.read_text(encoding="utf-8")
    assert find_external_urls(text) == []
    assert disallowed_urls(text) == {}
    for file in referenced_files(html):
        assert file.is_file(), file
        content = file.read_text(encoding="utf-8")
        assert disallowed_urls(content) == {}, file
        if file.suffix == ".css":
            assert find_external_urls(content) == [], file
    assert not re.search(r"cdn\.jsdelivr|cdnjs|unpkg|openstreetmap", text, re.I)
