"""Fixtures for the map tests: a session-wide headless Chromium with the network blocked."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from maps.chromium import HeadlessChromium, find_chromium


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable; skipped locally without it, a failure in CI (CI=true)."""
    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "Chromium is required for the offline map tests in CI but was not found; "
                "install the Debian package 'chromium' in .ci/run."
            )
        pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped.")
    return exe


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[HeadlessChromium]:
    """One headless Chromium for the whole session, every host but localhost unreachable."""
    with HeadlessChromium(chromium_path, block_network=True) as chromium:
        yield chromium
