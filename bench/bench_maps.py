"""Map benchmarks (issues 5 and 13), on a campaign of 43 convoys and 20,000 passengers.

The campaign is built in a fresh SQLite database (synthetic people, custody moved through the
real ``apply_changes``, positions and open alerts for the convoys under way) and read back with
``models.views.mapdata.campaign_view`` (tracks thinned to 150 points for the replay); the maps
below are drawn from that same view.

* ``maps.overview_html_mb``: size of the saved overview page in folder mode, i.e. without the
  vendored scripts, styles and fonts and without the basemap's layer scripts (they sit once
  in the shared ``assets/`` folder), with everything else: every convoy's line, badges and
  popups, the enterprises, the panels and the campaign time slider with every convoy's track.
  Target 2 MB. The detail gives the inline page (everything embedded) and the shared basemap.
* ``maps.convoy_html_kb``: the largest route map of the campaign's convoys under way (full
  track, corridor, alerts, replay) in folder mode, i.e. without the shared assets and
  basemap. Target 100 kB.
* ``maps.overview_build``: ``overview_map`` + ``save_offline`` (folder mode: basemap layers,
  popups, panels, clusters, time slider, layer control, asset remapping, the shared basemap
  scripts and the no-CDN check) over a bare folium map with the same lines and markers **and
  the same popups** (``folium.Popup`` with the same HTML on every line and badge) saved with
  ``Map.save`` (CDN links, no basemap, no slider), best of 5 each in the same run. Target
  ratio 1.5. The detail also gives our time without the basemap (``ours_without_basemap_s``).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Result, best_of, ratio

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAMPAIGN = "宁波2020复工返岗（基准）"
N_CONVOYS = 43
N_PASSENGERS = 20_000

# Origin cities (WGS-84 seats, approximate) with a 6-digit region code for synthetic IDs.
ORIGINS = [
    ("河南省信阳市", 32.147, 114.091, "411500"), ("陕西省渭南市", 34.500, 109.510, "610500"),
    ("陕西省渭南市蒲城县", 34.955, 109.586, "610526"), ("贵州省贵阳市", 26.647, 106.630, "520100"),
    ("贵州省遵义市", 27.725, 106.927, "520300"), ("贵州省毕节市", 27.302, 105.286, "520500"),
    ("重庆市", 29.563, 106.551, "500000"), ("四川省成都市", 30.573, 104.066, "510100"),
    ("四川省南充市", 30.837, 106.110, "511300"), ("安徽省阜阳市", 32.890, 115.814, "341200"),
    ("安徽省六安市", 31.735, 116.520, "341500"), ("安徽省安庆市", 30.543, 117.063, "340800"),
    ("江西省赣州市", 25.831, 114.933, "360700"), ("江西省上饶市", 28.454, 117.943, "361100"),
    ("湖南省郴州市", 25.770, 113.015, "431000"), ("湖南省邵阳市", 27.239, 111.468, "430500"),
    ("云南省昭通市", 27.338, 103.717, "530600"), ("甘肃省天水市", 34.581, 105.725, "620500"),
    ("河南省商丘市", 34.414, 115.656, "411400"), ("河南省周口市", 33.626, 114.697, "411600"),
    ("河南省南阳市", 32.991, 112.528, "411300"), ("湖北省恩施州", 30.272, 109.488, "422800"),
    ("陕西省汉中市", 33.068, 107.023, "610700"),
]  # fmt: skip
DESTINATIONS = {
    "train": ("浙江省宁波市宁波站", 29.8627, 121.5411),
    "flight": ("浙江省宁波市宁波栎社国际机场", 29.8267, 121.4620),
    "bus": ("浙江省宁波市象山县", 29.4770, 121.8690),
}
WAYPOINTS = [("合肥市", 31.820, 117.227), ("杭州市", 30.274, 120.155), ("武汉市", 30.593, 114.305)]
DISTRICTS = [("宁波市鄞州区", 29.816, 121.547), ("宁波市北仑区", 29.899, 121.844),
             ("宁波市余姚市", 30.037, 121.154), ("宁波市慈溪市", 30.169, 121.266),
             ("宁波市象山县", 29.477, 121.869), ("宁波市宁海县", 29.288, 121.429),
             ("宁波市镇海区", 29.949, 121.716), ("宁波市奉化区", 29.655, 121.407)]  # fmt: skip
N_ENTERPRISES = 200


def _plan(rng: random.Random) -> list[dict[str, Any]]:
    """43 convoys: 12 trains, 8 flights, 23 buses; 20,000 passengers in all."""
    modes = ["train"] * 12 + ["flight"] * 8 + ["bus"] * 23
    sizes = {"bus": 45, "flight": 170}
    rest = N_PASSENGERS - 23 * sizes["bus"] - 8 * sizes["flight"]
    train_sizes = [rest // 12 + (1 if i < rest % 12 else 0) for i in range(12)]
    stages = ["closed", "handed_off", "arrival_screened", "arrived", "in_transit", "departed",
              "screened", "verified", "mustering", "planned"]  # fmt: skip
    plans = []
    start = datetime(2020, 2, 20, 8, 0, tzinfo=SHANGHAI)
    for i, mode in enumerate(modes):
        origin = ORIGINS[i % len(ORIGINS)]
        n = train_sizes.pop() if mode == "train" else sizes[mode]
        hours = {"train": 12, "flight": 3, "bus": 26}[mode]
        depart = start + timedelta(hours=3 * i)
        plans.append(
            {
                "code": f"{mode.upper()}-{i + 1:02d}",
                "mode": mode,
                "origin": origin,
                "destination": DESTINATIONS[mode],
                "waypoints": [] if mode == "flight" else [rng.choice(WAYPOINTS)],
                "depart": depart,
                "arrive": depart + timedelta(hours=hours),
                "n": n,
                "stage": stages[i % len(stages)],
            }
        )
    return plans


def build_campaign(var: Path, seed: int = 2020) -> None:
    """Create the benchmark campaign in a fresh database under ``var``."""
    os.environ["CONVOY_VAR_DIR"] = str(var)
    from config import reset_settings
    from models.convoy.custody import Change, apply_changes, states
    from models.convoy.lifecycle import Custody, Mode, Stage
    from models.convoy.store import (
        ConvoySpec,
        PassengerRow,
        add_passengers,
        upsert_campaign,
        upsert_convoy,
        upsert_enterprise,
    )
    from models.convoy.tables import Position
    from models.db import dispose_engines, session_scope
    from models.intake.identity import synthetic_id, synthetic_mobile
    from models.tracking.alerts.tables import Alert

    dispose_engines()
    reset_settings()
    rng = random.Random(seed)
    chain = [Custody.VERIFIED, Custody.CLEARED, Custody.BOARDED, Custody.ARRIVED,
             Custody.HANDED_OFF]  # fmt: skip
    reach = {"planned": 0, "mustering": 0, "verified": 1, "screened": 2, "departed": 3,
             "in_transit": 3, "arrived": 4, "arrival_screened": 4, "handed_off": 5,
             "closed": 5}  # fmt: skip
    step_stage = ["verified", "screened", "departed", "arrived", "handed_off"]
    with session_scope() as s:
        upsert_campaign(s, CAMPAIGN, city="宁波市")
        names = []
        for k in range(N_ENTERPRISES):
            district, lat, lon = DISTRICTS[k % len(DISTRICTS)]
            name = f"宁波基准企业{k:03d}有限公司"
            upsert_enterprise(s, name, district=district, lat=lat + rng.uniform(-0.08, 0.08),
                              lon=lon + rng.uniform(-0.08, 0.08))  # fmt: skip
            names.append(name)
        for p in _plan(rng):
            o_name, o_lat, o_lon, region = p["origin"]
            d_name, d_lat, d_lon = p["destination"]
            convoy = upsert_convoy(
                s,
                ConvoySpec(
                    code=p["code"], mode=Mode(p["mode"]), vehicle=f"V{rng.randint(1000, 9999)}",
                    origin_name=o_name, origin=(o_lat, o_lon), origin_adcode=region,
                    destination_name=d_name, destination=(d_lat, d_lon),
                    waypoints=[{"name": w[0], "lat": w[1], "lon": w[2]} for w in p["waypoints"]],
                    planned_departure=p["depart"], planned_arrival=p["arrive"],
                    campaign=CAMPAIGN,
                ),
            )  # fmt: skip
            employers = rng.sample(names, 6)
            seen: set[str] = set()
            while len(seen) < p["n"]:  # distinct ID numbers: all of them go on the manifest
                seen.add(synthetic_id(rng, region))
            add_passengers(
                s,
                convoy,
                (
                    PassengerRow(name=f"工人{i}", id_number=idn, phone=synthetic_mobile(rng),
                                 employer=employers[i % 6])
                    for i, idn in enumerate(sorted(seen))
                ),
            )  # fmt: skip
            assert convoy.id is not None
            at = p["depart"]
            ids = sorted(states(s, convoy.id))
            for step in range(reach[p["stage"]]):
                current = states(s, convoy.id)
                moving = [pid for pid in ids if current[pid] not in (Custody.HELD,)]
                held = set(moving[::97]) if step in (1, 3) else set()
                changes = [
                    Change(pid, Custody.HELD, "fever at screening")
                    if pid in held
                    else Change(pid, chain[step])
                    for pid in moving
                ]
                apply_changes(s, convoy, changes, at=at, actor="bench", location="",
                              stage=step_stage[step], current=current)  # fmt: skip
            convoy.stage = Stage(p["stage"]).value
            if p["stage"] in ("departed", "in_transit", "arrived"):
                route = convoy.route()
                frac = 0.9 if p["stage"] == "arrived" else 0.5
                for j in range(40):
                    f = frac * j / 39
                    lat = route[0][0] + (route[-1][0] - route[0][0]) * f
                    lon = route[0][1] + (route[-1][1] - route[0][1]) * f
                    s.add(Position(convoy_id=convoy.id, at=at + timedelta(minutes=10 * j),
                                   lat=lat, lon=lon, source="bench"))  # fmt: skip
            if p["stage"] == "in_transit":
                s.add(Alert(convoy_id=convoy.id, kind="late_arrival", opened_at=at,
                            last_seen_at=at, active_key=f"{convoy.id}:late_arrival",
                            summary=f"【延误】{convoy.code} 预计晚到 40 分钟"))  # fmt: skip
            s.add(convoy)


def bare_map(view: Any, path: Path, popups: dict[str, str], stops: dict[str, str]) -> Path:
    """The baseline: a plain folium map with the same lines, markers and popups (the same HTML
    as ours: ``popups`` by convoy code, ``stops`` by enterprise), saved as folium does."""
    import folium
    from folium import plugins

    m = folium.Map(location=view.destination, zoom_start=5, tiles=None)
    for c in view.convoys:
        info = popups[c.code]
        folium.PolyLine(c.route, color="#1f78b4", weight=3, popup=folium.Popup(info)).add_to(m)
        folium.Marker(c.origin, popup=folium.Popup(info)).add_to(m)
        if c.current is not None:
            folium.Marker((c.current.lat, c.current.lon), popup=folium.Popup(info)).add_to(m)
    for dest in {c.destination for c in view.convoys}:
        folium.Marker(dest).add_to(m)
    cluster = plugins.MarkerCluster().add_to(m)
    for e in view.enterprises:
        folium.Marker((e.lat, e.lon), popup=folium.Popup(stops[e.name])).add_to(cluster)
    m.save(str(path))
    return path


def run() -> list[Result]:
    from maps.offline import save_offline
    from maps.overview import _enterprise_popup, overview_map
    from maps.route import convoy_map, convoy_popup_html
    from maps.style import MapOptions
    from models.convoy.lifecycle import Stage
    from models.db import dispose_engines, session_scope
    from models.views.mapdata import campaign_view, convoy_view

    old_var = os.environ.get("CONVOY_VAR_DIR")
    with tempfile.TemporaryDirectory(prefix="convoy-bench-maps-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        build_campaign(root / "var")
        setup_s = time.perf_counter() - t
        t = time.perf_counter()
        with session_scope() as s:
            view = campaign_view(s, CAMPAIGN)
            moving = [c.code for c in view.convoys if c.stage in (Stage.IN_TRANSIT, Stage.DEPARTED)]
            routes = [convoy_view(s, code) for code in moving]
        load_s = time.perf_counter() - t
        dispose_engines()
        options = MapOptions()
        popups = {c.code: convoy_popup_html(c, options) for c in view.convoys}
        stop_popups = {e.name: _enterprise_popup(e, options) for e in view.enterprises}
        out = root / "maps"
        page = out / "overview.html"

        def ours() -> None:
            save_offline(overview_map(view, options=options), page, mode="folder")

        def base() -> None:
            bare_map(view, root / "bare.html", popups, stop_popups)

        def ours_without_basemap() -> None:
            m = overview_map(view, options=options, basemap="none")
            save_offline(m, out / "no-basemap.html", mode="folder")

        ours()  # warm caches (basemap file, asset manifest) for both sides
        base()
        ours_s = best_of(ours, 5)
        base_s = best_of(base, 5)
        ours_without_basemap()
        no_basemap_s = best_of(ours_without_basemap, 5)
        size_mb = page.stat().st_size / 1e6
        inline = save_offline(overview_map(view, options=options), root / "inline.html")
        inline_mb = inline.stat().st_size / 1e6
        shared_mb = sum(f.stat().st_size for f in (out / "assets" / "basemap").iterdir()) / 1e6
        convoy_kb = 0.0
        for route in routes:
            saved = save_offline(convoy_map(route, options=options), out / f"{route.code}.html",
                                 mode="folder")  # fmt: skip
            convoy_kb = max(convoy_kb, saved.stat().st_size / 1e3)
        passengers = view.totals.total
        convoys = len(view.convoys)
    if old_var is None:
        os.environ.pop("CONVOY_VAR_DIR", None)
    else:
        os.environ["CONVOY_VAR_DIR"] = old_var
    detail = {"convoys": convoys, "passengers": passengers, "enterprises": N_ENTERPRISES}
    return [
        Result(
            "maps.overview_html_mb",
            round(size_mb, 3),
            "MB",
            2,
            "page size in folder mode with the time slider (shared assets and basemap excluded)",
            size_mb <= 2,
            {**detail, "inline_mb": round(inline_mb, 3), "shared_basemap_mb": round(shared_mb, 3)},
        ),
        Result(
            "maps.convoy_html_kb",
            round(convoy_kb, 1),
            "kB",
            100,
            "largest route map of the convoys under way, folder mode (shared assets and basemap "
            "excluded)",
            convoy_kb <= 100,
            {
                "convoys": len(routes),
                "track_points": max((len(r.track) for r in routes), default=0),
            },
        ),
        ratio(
            "maps.overview_build",
            ours_s,
            base_s,
            1.5,
            "bare folium.Map with the same lines, markers and popups, Map.save (CDN links, no "
            "basemap, no time slider)",
            **detail,
            ours_without_basemap_s=round(no_basemap_s, 4),
            campaign_view_s=round(load_s, 3),
            setup_s=round(setup_s, 1),
        ),
    ]
