"""Shared fixtures: a fresh real SQLite database per test, and a small convoy factory."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

# Prefect keeps its state out of the user's home during tests (set before Prefect is imported).
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="convoy-prefect-"))
import flows  # noqa: F401  (quiet Prefect defaults)
from config import Settings, reset_settings
from models.db import dispose_engines, session_scope
from models.identity import synthetic_id, synthetic_mobile
from models.lifecycle import Mode
from models.store import (
    ConvoySpec,
    PassengerRow,
    add_passengers,
    upsert_convoy,
    upsert_enterprise,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh var/ folder (and so a fresh SQLite database)."""
    var = tmp_path / "var"
    monkeypatch.setenv("CONVOY_VAR_DIR", str(var))
    dispose_engines()
    s = reset_settings()
    yield s
    dispose_engines()
    reset_settings()


ENTERPRISES = ("象山示范针织有限公司", "宁波甬丰模具有限公司")


@pytest.fixture
def make_convoy(settings: Settings) -> Callable[..., str]:
    """Create a bus convoy 蒲城县 → 象山县 with ``n`` synthetic passengers; returns its code."""

    def make(code: str = "BUS-T1", n: int = 20, seed: int = 1) -> str:
        rng = random.Random(seed)
        with session_scope() as session:
            for name in ENTERPRISES:
                upsert_enterprise(session, name, contact_name="王经理", address="象山县丹东路1号")
            convoy = upsert_convoy(
                session,
                ConvoySpec(
                    code=code,
                    mode=Mode.BUS,
                    vehicle="浙B·T0001",
                    origin_name="陕西省渭南市蒲城县",
                    origin=(34.955, 109.586),
                    origin_adcode="610526",
                    destination_name="浙江省宁波市象山县",
                    destination=(29.477, 121.869),
                    destination_adcode="330225",
                    waypoints=[{"name": "合肥市", "lat": 31.82, "lon": 117.23}],
                    planned_departure=datetime(2020, 2, 20, 14, 0, tzinfo=SHANGHAI),
                    planned_arrival=datetime(2020, 2, 21, 16, 0, tzinfo=SHANGHAI),
                    campaign="test campaign",
                ),
            )
            rows = [
                PassengerRow(
                    name=f"工人{i}",
                    id_number=synthetic_id(rng, "610526"),
                    phone=synthetic_mobile(rng),
                    employer=ENTERPRISES[i % 2],
                )
                for i in range(n)
            ]
            add_passengers(session, convoy, rows)
        return code

    return make
