"""Enterprise registration: QR codes with signed links, and the form served by a real uvicorn
process on a free port (tampered and expired links refused, validation like the import)."""

from __future__ import annotations

import random
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from config import Settings
from models.convoy.store import get_convoy, passengers
from models.db import session_scope, utcnow
from models.intake.identity import synthetic_id
from models.intake.registration import LinkError, draw_manifest, enterprise_code, pool, read_token
from models.intake.registration import signing_key as key_for
from tests.conftest import ENTERPRISES, child_env

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = child_env(settings, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "flows.api.registration:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"uvicorn did not start: {out}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_code_files_and_signed_link(make_convoy: Callable[..., str], settings: Settings) -> None:
    make_convoy("BUS-R0", n=0)
    with session_scope() as s:
        code = enterprise_code(s, "象山示范针织", days=3, base_url="https://reg.example")
    assert code.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in code.svg.read_text(encoding="utf-8")
    token = code.url.rsplit("/", 1)[1]
    key = key_for(settings)
    assert read_token(token, key) > 0
    with pytest.raises(LinkError, match="not valid"):
        read_token(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), key)
    eid, exp, sig = token.split(".")
    with pytest.raises(LinkError, match="not valid"):
        read_token(f"{eid}.{int(exp) + 86400}.{sig}", key)  # extending the expiry breaks it
    with pytest.raises(LinkError, match="expired") as info:
        read_token(token, key, now=utcnow() + timedelta(days=4))
    assert info.value.expired


def test_cli_writes_the_code(make_convoy: Callable[..., str], settings: Settings) -> None:
    import typer

    from flows.cli.enterprise import register

    make_convoy("BUS-R1", n=0)
    app = typer.Typer()
    register(app)
    out = CliRunner().invoke(app, ["enterprise", "code", ENTERPRISES[1], "--days", "7"])
    assert out.exit_code == 0, out.output
    assert (settings.output_dir / "qr" / f"{ENTERPRISES[1]}.png").exists()
    bad = CliRunner().invoke(app, ["enterprise", "code", "无此企业"])
    assert bad.exit_code == 1 and "no enterprise named" in bad.output


def form_token(page: str) -> str:
    m = re.search(r"name='csrf' value='([^']+)'", page)
    assert m, page
    return m[1]


def send(client: httpx.Client, url: str, form: dict[str, str]) -> httpx.Response:
    """Open the form (its page sets the CSRF cookie and token), then send it, like a browser."""
    page = client.get(url)
    return client.post(url, data={**form, "csrf": form_token(page.text)})


def test_form_over_http(make_convoy: Callable[..., str], settings: Settings, server: str) -> None:
    convoy = make_convoy("BUS-R2", n=0)
    with session_scope() as s:
        url = enterprise_code(s, ENTERPRISES[0], base_url=server).url
        expired = enterprise_code(
            s, ENTERPRISES[0], base_url=server, now=utcnow() - timedelta(days=60)
        ).url
    client = httpx.Client(timeout=10)
    page = client.get(url)
    assert page.status_code == 200 and ENTERPRISES[0] in page.text and "<form" in page.text
    assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors" in page.headers[
        "content-security-policy"]  # fmt: skip
    assert client.get(url[:-3] + "xyz").status_code == 403  # tampered
    assert client.get(expired).status_code == 410
    rng = random.Random(5)
    idn = synthetic_id(rng, "610526")
    form = {"name": "王伟", "id_number": idn, "phone": "13812345678", "health_code": "绿"}
    ok = send(client, url, form)
    assert ok.status_code == 200 and "登记成功" in ok.text and idn not in ok.text
    again = send(client, url, {**form, "phone": "13912345678"})
    assert again.status_code == 200 and "version 2" in again.text  # a new version, kept
    same = send(client, url, {**form, "phone": "13912345678"})
    assert same.status_code == 200 and "nothing changed" in same.text
    bad = send(
        client,
        url,
        {
            **form,
            "id_number": idn[:-1] + "0" if idn[-1] != "0" else idn[:-1] + "1",
            "phone": "1381234567",
        },
    )
    assert bad.status_code == 422
    assert "check digit" in bad.text and "mobile" in bad.text
    assert "1381234567" not in bad.text and "138***4567" in bad.text  # masked when shown back
    nul = send(client, url, {**form, "name": "王\x00伟"})  # a 422 on every database
    assert nul.status_code == 422 and "NUL character" in nul.text
    assert client.post(expired, data=form).status_code == 410
    # The pool feeds the manifest.
    with session_scope() as s:
        people = pool(s, ENTERPRISES[0])
        assert [p.phone for p in people] == ["13912345678"]
        r = draw_manifest(s, ENTERPRISES[0], convoy)
        assert r["added"] == 1 and r["left_in_pool"] == 0
        onboard = passengers(s, get_convoy(s, convoy))
        assert [p.id_number for p in onboard] == [idn]
        assert pool(s, ENTERPRISES[0]) == []


def test_the_access_log_never_shows_a_link(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    make_convoy("BUS-R3", n=0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with session_scope() as s:
        url = enterprise_code(s, ENTERPRISES[0], base_url=base).url
    token = url.rsplit("/", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "flows.api.registration:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
        cwd=ROOT, env=child_env(settings, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        assert httpx.get(url, timeout=10).status_code == 200
        assert httpx.post(url, data={"name": "x"}, timeout=10).status_code == 403  # no CSRF token
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert '"GET /r/… HTTP/1.1" 200' in out and '"POST /r/… HTTP/1.1" 403' in out, out
    assert token not in out and token.split(".")[2] not in out
