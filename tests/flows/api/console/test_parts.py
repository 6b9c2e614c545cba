"""The console's parts without a browser: the session cookie and the sign-in redirect under
arbitrary input (hypothesis), lateness as people read it, the English pages, the vendored
script's checksum and the board's order and filters on a real database."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config import Settings
from flows.api.console import sessions
from flows.api.console.guard import safe_next
from flows.api.console.render import STATIC, TEMPLATES, Pages, late
from models.convoy.store import get_convoy
from models.db import session_scope, utcnow
from models.tracking.alerts.checks import run_checks
from models.views.console import board, filter_rows


@given(st.text(max_size=400))
@hsettings(max_examples=300, deadline=None)
def test_any_cookie_text_is_refused_with_a_reason(text: str) -> None:
    s = Settings(registration_secret="test key")
    with pytest.raises(sessions.SessionError) as err:
        sessions.read_cookie(text, s)
    assert err.value.code in sessions.WHY


@given(st.integers(0, 200), st.sampled_from(string.ascii_letters + string.digits + ".-_"))
@hsettings(max_examples=300, deadline=None)
def test_a_cookie_changed_in_any_character_is_refused(at: int, char: str) -> None:
    s = Settings(registration_secret="test key")
    signed = sessions.Signed(12, 34, 4_000_000_000, "n0nce-abc")
    value = sessions.make_cookie(signed, s)
    assert sessions.read_cookie(value, s) == signed
    i = at % len(value)
    changed = value[:i] + char + value[i + 1 :]
    if changed == value:
        return
    with pytest.raises(sessions.SessionError):
        sessions.read_cookie(changed, s)


def test_a_cookie_expires_and_another_installation_key_is_refused() -> None:
    s = Settings(registration_secret="test key")
    value = sessions.make_cookie(sessions.Signed(1, 1, 1000, "x"), s)
    with pytest.raises(sessions.SessionError) as err:
        sessions.read_cookie(value, s, now=1000)
    assert err.value.code == "expired"
    assert sessions.read_cookie(value, s, now=999).user_id == 1
    with pytest.raises(sessions.SessionError) as err:
        sessions.read_cookie(value, Settings(registration_secret="other"), now=0)
    assert err.value.code == "invalid"


@given(st.text(max_size=200))
def test_sign_in_only_ever_returns_to_a_console_page(value: str) -> None:
    target = safe_next(value)
    assert target.startswith("/console") and "//" not in target and "\\" not in target


def test_lateness_reads_in_minutes_hours_and_days() -> None:
    assert [late(m) for m in (None, 0, 5, -5, 60, 200, 24 * 60 * 3 + 61)] == [
        "—", "±0 min", "+5 min", "-5 min", "+1 h", "+3 h 20 min", "+3 d 1 h",
    ]  # fmt: skip


def test_pages_are_english_with_convoy_locale_en_and_notices_come_only_from_labels() -> None:
    en = Pages(Settings(locale="en", registration_secret="k"))
    page = en.render("login.html", ctx=None, next="/console/", why="expired", error="", csrf="c")
    html = bytes(page.body).decode()
    assert '<html lang="en">' in html and "Sign in" in html and "session has expired" in html
    zh = Pages(Settings(registration_secret="k")).render(
        "error.html", 404, ctx=None, code=404, reason="x", done="<b>phish</b>"
    )
    assert "phish" not in bytes(zh.body).decode() and 'lang="zh-CN"' in bytes(zh.body).decode()
    assert zh.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_vendored_script_is_the_recorded_one_and_nothing_loads_from_elsewhere() -> None:
    sources = (STATIC / "SOURCES.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest()
    assert "| `htmx.min.js` |" in sources and digest in sources
    for path in [*Path(TEMPLATES).glob("*.html"), STATIC / "console.css"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "url(" not in text or path.suffix != ".css", path  # no fonts or images fetched
        assert "style=" not in text and "<script>" not in text, path  # CSP: no inline code


def test_the_board_puts_alerts_and_lateness_first_and_filters(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    late_one, calm = make_convoy("BUS-LATE", n=3), make_convoy("BUS-CALM", n=2, seed=2)
    with session_scope() as s:
        calm_row = get_convoy(s, calm)
        calm_row.planned_departure = utcnow() + timedelta(hours=5)
        calm_row.planned_arrival = utcnow() + timedelta(hours=20)
        s.add(calm_row)
    with session_scope() as s:
        run_checks(s, utcnow(), settings)  # BUS-LATE was due in 2020: late departure
        rows = board(s)
    assert [r.code for r in rows] == [late_one, calm]
    first = rows[0]
    assert first.unacknowledged == 1 and first.alert_kinds == ["late_departure"]
    assert first.late_minutes and first.late_minutes > 0 and rows[1].late_minutes is None
    assert first.passengers == 3 and first.counts == {
        "boarded": 0, "held": 0, "withdrawn": 0, "handed_off": 0,
    }  # fmt: skip
    assert [r.code for r in filter_rows(rows, show="alerts")] == [late_one]
    assert [r.code for r in filter_rows(rows, show="late")] == [late_one]
    assert [r.code for r in filter_rows(rows, text="calm")] == [calm]
    assert filter_rows(rows, mode="train") == [] and filter_rows(rows, show="closed") == []
