"""Headless Chromium driven over the DevTools protocol: map pages to PNG, browser checks.

The browser is started with a fresh temporary profile, quiet flags and (by default) every host
but ``localhost`` unreachable, and is spoken to over a pipe (``--remote-debugging-pipe``, stdlib
only; no TCP port). :class:`HeadlessChromium` opens tabs (:class:`ChromiumPage`) that evaluate
JavaScript, report their DevTools events and take pictures; :func:`screenshot` renders a saved
map file to PNG. The executable comes from the settings (``CONVOY_CHROMIUM``) or the ``PATH``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config import get_settings
from maps.offline import OfflineMapError

__all__ = [
    "BLOCK_NETWORK_FLAGS",
    "CHROMIUM_CANDIDATES",
    "ChromiumPage",
    "HeadlessChromium",
    "ScreenshotError",
    "chromium_flags",
    "configured_chromium",
    "find_chromium",
    "screenshot",
]


class ScreenshotError(OfflineMapError):
    """Headless Chromium is missing or could not render the map to an image."""


CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BLOCK_NETWORK_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def configured_chromium() -> str:
    """The Chromium executable named in the settings (``CONVOY_CHROMIUM``), or ``""``.

    The one place this module reads configuration.
    """
    return get_settings().chromium


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable, from ``$CONVOY_CHROMIUM`` or the ``PATH``."""
    configured = configured_chromium()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_flags(profile_dir: str | os.PathLike[str], *, block_network: bool = True) -> list[str]:
    """Command-line flags for a quiet, isolated headless Chromium with a fresh profile."""
    flags = [
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={os.fspath(profile_dir)}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to start as root with the sandbox on
    if block_network:
        flags.extend(BLOCK_NETWORK_FLAGS)
    return flags


class HeadlessChromium:
    """One headless Chromium driven over the DevTools protocol on a pipe (stdlib only).

    Chromium reads NUL-terminated JSON commands from file descriptor 3 and writes answers and
    events to descriptor 4 (``--remote-debugging-pipe``): no TCP port is opened, so nothing
    but this process can drive it. Use as a context manager, or call :meth:`close`.
    """

    _TRAMPOLINE = (
        "import os, sys\n"
        "os.dup2(int(sys.argv[1]), 3)\n"
        "os.dup2(int(sys.argv[2]), 4)\n"
        "os.execv(sys.argv[3], sys.argv[3:])\n"
    )

    def __init__(self, executable: str | None = None, *, block_network: bool = True) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise ScreenshotError(
                "Chromium was not found; install it (Debian: apt-get install chromium) or set "
                "CONVOY_CHROMIUM to its path."
            )
        self._profile = tempfile.TemporaryDirectory(prefix="convoy-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        args = [
            sys.executable,
            "-c",
            self._TRAMPOLINE,
            str(to_chrome_r),
            str(from_chrome_w),
            exe,
            *chromium_flags(Path(self._profile.name) / "profile", block_network=block_network),
            "--remote-debugging-pipe",
            "about:blank",
        ]
        try:
            self.proc = subprocess.Popen(
                args,
                pass_fds=(to_chrome_r, from_chrome_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(to_chrome_r)
            os.close(from_chrome_w)
        self._cond = threading.Condition()
        self._next_id = 0
        self._answers: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._eof = False
        threading.Thread(target=self._read_loop, name="chromium-cdp", daemon=True).start()
        try:
            self.version: dict[str, Any] = self.send("Browser.getVersion")
        except ScreenshotError:
            self.close()
            raise

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_chrome, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._eof = True
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self._events.append(message)
                    self._cond.notify_all()

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Send one DevTools command and return its result."""
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        except OSError as exc:
            raise ScreenshotError(f"Chromium is no longer running ({method}: {exc}).") from exc
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise ScreenshotError(f"Chromium gave no answer to {method} in {timeout} s.")
                self._cond.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise ScreenshotError(f"Chromium refused {method}: {answer['error'].get('message')}.")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def wait_event(self, method: str, session: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for (or find an already received) event of one page session."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self._events:
                    if event.get("method") == method and event.get("sessionId") == session:
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise ScreenshotError(f"Chromium sent no {method} within {timeout} s.")
                self._cond.wait(left)

    def events(self, session: str) -> list[dict[str, Any]]:
        """Every event received so far for one page session."""
        with self._cond:
            return [e for e in self._events if e.get("sessionId") == session]

    def open(
        self,
        url: str,
        *,
        width: int = 1280,
        height: int = 800,
        settle_ms: int = 1000,
        timeout: float = 60.0,
        domains: Sequence[str] = ("Page", "Runtime", "Log", "Network"),
    ) -> ChromiumPage:
        """Open ``url`` in a new tab of ``width`` × ``height`` CSS pixels and wait until drawn.

        Waits for the load event, for web fonts, then ``settle_ms`` for timers and animations.
        """
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = ChromiumPage(self, target, session, url)
        for domain in domains:
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": int(width), "height": int(height), "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session, timeout=timeout)
        page.evaluate("document.fonts.ready.then(() => true)", await_promise=True)
        time.sleep(max(0, settle_ms) / 1000)
        page.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))",
            await_promise=True,
        )
        return page

    def close(self) -> None:
        """Close Chromium (politely, then by force) and delete its temporary profile."""
        if getattr(self, "proc", None) is not None:
            with contextlib.suppress(ScreenshotError):
                self.send("Browser.close", timeout=5)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()


class ChromiumPage:
    """One tab of :class:`HeadlessChromium`."""

    def __init__(self, browser: HeadlessChromium, target: str, session: str, url: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session
        self.url = url

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """Evaluate JavaScript in the page and return its value (JSON-serialisable)."""
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=self.session,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise ScreenshotError(f"The page could not evaluate {expression[:60]!r}: {text}.")
        return result["result"].get("value")

    def events(self) -> list[dict[str, Any]]:
        """The DevTools events of this tab so far (console, exceptions, network, log)."""
        return self.browser.events(self.session)

    def png(self) -> bytes:
        """A PNG picture of the viewport."""
        shot = self.browser.send(
            "Page.captureScreenshot", {"format": "png", "fromSurface": True}, session=self.session
        )
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        """Close the tab."""
        with contextlib.suppress(ScreenshotError):
            self.browser.send("Target.closeTarget", {"targetId": self.target})


def screenshot(
    html_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    width: int = 1280,
    height: int = 800,
    *,
    settle_ms: int = 1000,
    block_network: bool = True,
    timeout: float = 60.0,
    chromium: str | None = None,
) -> Path:
    """Render a saved map to a ``width`` × ``height`` PNG with headless Chromium.

    The picture is taken once the page has loaded, its fonts are ready and ``settle_ms`` more
    have passed. ``block_network=False`` lets the page reach an own tile server. Returns the
    PNG path; raises :class:`ScreenshotError` when Chromium is missing or fails.
    """
    source = Path(html_path).resolve()
    if not source.is_file():
        raise ScreenshotError(f"The map file {source} does not exist.")
    target = Path(png_path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with HeadlessChromium(chromium, block_network=block_network) as browser:
        page = browser.open(
            source.as_uri(),
            width=width,
            height=height,
            settle_ms=settle_ms,
            timeout=timeout,
            domains=("Page", "Runtime"),
        )
        data = page.png()
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target
