"""Playwright on the system Chromium for the page tests: every request that does not go to this
machine is aborted and recorded, and every console error is collected, so a test can assert that
a page is offline-clean. Playwright's own browser download is never used (it cannot work here):
the executable is Debian's ``chromium`` (or ``CONVOY_CHROMIUM``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 860}
# Where the page tests write their screenshots. `make screenshots` (CONVOY_WRITE_SCREENSHOTS=1)
# writes them into docs/screenshots/, committed so a reader can look before installing (the
# README names the folder); any other run under var/test-screenshots/pages/, so that running the
# tests leaves the working tree as it was.
_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("CONVOY_WRITE_SCREENSHOTS") == "1"
    else _ROOT / "var" / "test-screenshots" / "pages"
)


def chromium_path() -> str | None:
    return os.environ.get("CONVOY_CHROMIUM") or shutil.which("chromium")


@dataclass
class Watch:
    """What the pages of one browser context did that a clean offline page must not."""

    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"external request: {u}" for u in self.external_requests]
            + [f"page error: {m}" for m in self.page_errors]
        )


@dataclass
class Browser:
    """A launched Chromium; ``context()`` opens an isolated, network-blocked context."""

    browser: Any
    watch: Watch

    def context(self, viewport: dict[str, int] | None = None, **options: Any) -> Any:
        ctx = self.browser.new_context(viewport=viewport or DESKTOP, **options)

        def route(r: Any) -> None:
            host = urlsplit(r.request.url).hostname or ""
            if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                r.continue_()
            else:
                self.watch.external_requests.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)

        def on_page(page: Any) -> None:
            page.on(
                "console",
                lambda m: self.watch.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: self.watch.page_errors.append(str(e)))

        ctx.on("page", on_page)
        return ctx


# Page tests take a fixture named ``browser`` (tests/conftest.py marks them ``browser``):
#
#     @pytest.fixture
#     def browser() -> Iterator[Browser]:
#         with launch() as b:
#             yield b


@contextmanager
def launch() -> Iterator[Browser]:
    """Headless system Chromium under Playwright; skips the test where neither exists."""
    path = chromium_path()
    if not path:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield Browser(browser, Watch())
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Writes ``NAME.png`` (full page) into ``SCREENSHOTS`` for a reader to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
