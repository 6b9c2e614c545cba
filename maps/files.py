"""Map files: a convoy's route map and a campaign's operations overview drawn from the
database and saved for offline use (vendored assets, no CDN, no online tiles), and PNG pictures
of saved maps through headless Chromium.

* :func:`save_convoy_map` writes one convoy's route map (the convoy flow and ``convoy map``
  call it) and :func:`save_campaign_map` the operations overview of a campaign.
* :func:`save_png` screenshots a saved map (network blocked unless an own tile server is
  configured), in the display time zone.

Plain functions (no Prefect): the CLI and the flows call them alike.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from config import get_settings
from models.db import session_scope

if TYPE_CHECKING:  # folium and the map modules load only when a map is drawn
    import folium

    from maps.offline import OfflineMode

__all__ = ["campaign_file_name", "save_campaign_map", "save_convoy_map", "save_png"]


def campaign_file_name(name: str) -> str:
    """A file name for a campaign: its name without path separators or odd characters."""
    safe = re.sub(r"[^\w\-]+", "-", name, flags=re.UNICODE).strip("-")
    return f"campaign-{safe or 'campaign'}.html"


def _write(m: folium.Map, target: Path, mode: OfflineMode) -> Path:
    """Save a map for offline use with the configured tile server (if any)."""
    from maps.offline import save_offline

    settings = get_settings()
    return save_offline(
        m, target, mode=mode, tile_url=settings.tile_url, tile_attribution=settings.tile_attribution
    )


def save_convoy_map(code: str, *, path: Path | None = None, mode: OfflineMode = "folder") -> Path:
    """Render the convoy's route map (offline: vendored assets, no CDN, no online tiles) into
    ``output_dir/maps/CODE.html`` or ``path``; returns the file. ``mode="folder"`` shares one
    ``assets/`` folder between the maps of a folder, ``"inline"`` writes one standalone file."""
    from maps.route import convoy_map
    from maps.style import MapOptions
    from models.views.mapdata import convoy_view

    settings = get_settings()
    with session_scope() as session:
        view = convoy_view(session, code)
    m = convoy_map(view, options=MapOptions.from_settings(settings))
    return _write(m, path or settings.output_dir / "maps" / f"{code}.html", mode)


def save_campaign_map(name: str, *, path: Path | None = None, mode: OfflineMode = "folder") -> Path:
    """Write the operations overview of campaign ``name`` into ``output_dir/maps`` (or
    ``path``); returns the file."""
    from maps.overview import overview_map
    from maps.style import MapOptions
    from models.views.mapdata import campaign_view

    settings = get_settings()
    with session_scope() as session:
        view = campaign_view(session, name)
    m = overview_map(view, options=MapOptions.from_settings(settings))
    return _write(m, path or settings.output_dir / "maps" / campaign_file_name(name), mode)


@contextlib.contextmanager
def _time_zone(name: str) -> Iterator[None]:
    """Run Chromium in the display time zone (the playback clock shows local times)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old


def save_png(html: Path, png: Path | None = None, *, width: int = 1400, height: int = 900) -> Path:
    """A PNG picture of a saved map (beside it by default) through headless Chromium."""
    from maps.chromium import screenshot

    settings = get_settings()
    target = png or html.with_suffix(".png")
    with _time_zone(settings.timezone):
        return screenshot(
            html,
            target,
            width,
            height,
            settle_ms=1500,
            block_network=not settings.tile_url,  # an own tile server must stay reachable
        )
