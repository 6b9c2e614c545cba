"""The live maps of the console: a convoy's route map and a campaign's overview, drawn from the
database into the output folder when older than a minute and served from ``/files/maps/``
through a signed link (``/files`` opens only with a grant or a token)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import quote

from config import Settings
from flows.api.files import signed_file_path

FRESH_SECONDS = 60.0
SIGNED_DAYS = 1.0  # the frame's link opens the maps folder for a day (the page is re-rendered)
_lock = threading.Lock()


def _stale(path: Path) -> bool:
    return not path.is_file() or time.time() - path.stat().st_mtime > FRESH_SECONDS


def fresh_convoy_map(code: str, settings: Settings) -> str:
    """The address of the convoy's route map, redrawn first when stale."""
    from maps.files import save_convoy_map

    path = settings.output_dir / "maps" / f"{code}.html"
    with _lock:
        if _stale(path):
            save_convoy_map(code, path=path)
    return signed_file_path(f"maps/{quote(path.name)}", settings, days=SIGNED_DAYS)


def fresh_campaign_map(name: str, settings: Settings) -> str:
    """The address of the campaign's operations overview, redrawn first when stale."""
    from maps.files import campaign_file_name, save_campaign_map

    path = settings.output_dir / "maps" / campaign_file_name(name)
    with _lock:
        if _stale(path):
            save_campaign_map(name, path=path)
    return signed_file_path(f"maps/{quote(path.name)}", settings, days=SIGNED_DAYS)
