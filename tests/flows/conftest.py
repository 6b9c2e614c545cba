"""One Prefect test harness (a real temporary Prefect server) for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The harness's API URL (handed to subprocesses so they use the same server)."""
    from prefect.settings import PREFECT_API_URL

    with prefect_test_harness(server_startup_timeout=180):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(autouse=True)
def _harness(prefect_api: str) -> None:
    """Every test under tests/flows runs against the session's harness."""
