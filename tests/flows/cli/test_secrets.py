"""Secrets stay secret in what the `convoy` command prints: notification tokens (Apprise's
privacy mode), the registration key and the database password."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from config import Settings, reset_settings
from flows.cli.main import app
from models.db import dispose_engines, session_scope
from models.notify.messages import render
from models.notify.outbox import Recipient, enqueue

runner = CliRunner()
TOKEN = "0123456789abcdef0123456789abcdef"


def test_the_outbox_shows_no_token(settings: Settings) -> None:
    msg = render("alert.stale_position", "en", code="B1", minutes=25, last="14:00")
    with session_scope() as s:
        enqueue(s, "k1", msg, [Recipient(f"dingtalk://{TOKEN}/", "duty"),
                                Recipient(f"feishu://{TOKEN}", "duty")], kind="alert")  # fmt: skip
    for args in (("outbox",), ("outbox", "--json")):
        out = runner.invoke(app, list(args)).output
        assert "dingtalk://0...f" in out and "feishu://0...f" in out
        assert TOKEN not in out and TOKEN[1:-1] not in out


def test_settings_never_show_the_key_or_password() -> None:
    s = Settings(
        registration_secret="k3y-of-the-links",
        database_url="postgresql+psycopg://convoy:s3cretpw@db.example/convoy",
    )
    assert "k3y-of-the-links" not in repr(s) and "s3cretpw" not in repr(s)
    assert "k3y-of-the-links" not in str(s)


def test_an_unreachable_database_is_one_line_without_its_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CONVOY_DATABASE_URL", "postgresql+psycopg://convoy:s3cretpw@127.0.0.1:9/convoy"
    )
    reset_settings()
    dispose_engines()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 1
    assert "s3cretpw" not in result.output and "Traceback" not in result.output
    assert result.output.startswith("Error: The database postgresql+psycopg://convoy:***@")
    assert len(result.output.strip().splitlines()) == 1
