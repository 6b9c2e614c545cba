"""`convoy device bind`: only to a convoy the escort is assigned to, and the printed Traccar
Client settings use the address phones reach (CONVOY_PUBLIC_URL, else this machine and the
port the API is served on)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from config import Settings, reset_settings
from config.errors import ConfigurationError
from flows.cli.main import app
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.intake.registration import enterprise_link
from tests.conftest import ENTERPRISES

runner = CliRunner()


@pytest.fixture
def convoy(make_convoy: Callable[..., str], settings: Settings) -> str:
    code = make_convoy("BUS-BIND", n=1)
    make_convoy("BUS-ELSE", n=1, seed=3)
    with session_scope() as s:
        assign_escort(s, get_convoy(s, code), upsert_escort(s, "P3001", name="吴警官"))
    return code


def test_binding_needs_the_escorts_assignment(convoy: str) -> None:
    r = runner.invoke(app, ["device", "bind", "ph-1", "--escort", "P3001", "--convoy", "BUS-ELSE"])
    assert r.exit_code == 1
    assert "P3001 is not assigned to convoy BUS-ELSE" in r.output and "Traceback" not in r.output
    assert "ph-1" not in runner.invoke(app, ["device", "list"]).output
    r = runner.invoke(app, ["device", "bind", "ph-1", "--escort", "P3001", "--convoy", convoy])
    assert r.exit_code == 0, r.output


def test_the_printed_links_use_the_public_url(convoy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOY_PUBLIC_URL", "https://convoy.example.gov.cn:8443/")
    s = reset_settings()
    args = ["device", "bind", "ph-2", "--escort", "P3001", "--convoy", convoy]
    r = runner.invoke(app, [*args, "--json"])
    bound = json.loads(r.output)
    assert bound["server_url"] == f"https://convoy.example.gov.cn:8443/osmand/{bound['token']}"
    text = runner.invoke(app, args).output
    assert "Device identifier: ph-2" in text
    assert "Server URL:        https://convoy.example.gov.cn:8443/osmand/" in text
    # Registration links follow it unless they have their own address.
    assert s.registration_base_url == "https://convoy.example.gov.cn:8443"
    with session_scope() as session:
        link, _ = enterprise_link(session, ENTERPRISES[0])
    assert link.startswith("https://convoy.example.gov.cn:8443/e/")


def test_without_a_public_url_the_host_and_port_served(
    convoy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOY_HTTP_HOST", "0.0.0.0")
    reset_settings()
    args = ["device", "bind", "ph-3", "--escort", "P3001", "--convoy", convoy]
    r = runner.invoke(app, [*args, "--port", "8080", "--json"])
    url = json.loads(r.output)["server_url"]
    assert url.startswith("http://") and ":8080/osmand/" in url and "0.0.0.0" not in url
    text = runner.invoke(app, args).output
    assert ":5055/osmand/" in text and "Set CONVOY_PUBLIC_URL" in text
    for wrong in ("ftp://nowhere", "convoy.example.gov.cn", "http://host:port"):
        with pytest.raises(ConfigurationError, match="CONVOY_PUBLIC_URL"):
            reset_settings(public_url=wrong)
