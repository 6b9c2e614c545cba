"""Escorts' signed links and check-ins with a phone-made id, on the real database: a link opens
for its escort only and ends; the same client_id is stored once; the task notices carry each
escort's own link; what the phone page lists is masked and follows the stored check-ins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from config import Settings, reset_settings
from models.access.escort_links import escort_for_token, escort_link, escort_token
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.convoy.tables import CheckIn, Escort
from models.db import session_scope, utcnow
from models.errors import ValidationError
from models.intake.registration import LinkError, make_token, signing_key
from models.notify.escort_tasks import queue_stage_notices
from models.notify.outbox import OutboxMessage
from models.tracking.field_checkins import report_checkin
from models.views.field import due_step, field_view


def _escort(code: str, badge: str = "NB9001", notify: str = "") -> Escort:
    with session_scope() as s:
        e = upsert_escort(s, badge, name="赵警官", notify_url=notify)
        assign_escort(s, get_convoy(s, code), e)
        s.flush()
        s.expunge(e)
        return e


def test_a_link_opens_for_its_escort_only_and_ends(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-L1", n=2)
    escort = _escort(code)
    url, expires = escort_link(escort, settings)
    assert url.startswith("http://127.0.0.1:5055/field/") and expires > utcnow()
    token = url.rsplit("/", 1)[1]
    with session_scope() as s:
        assert escort_for_token(s, token, settings).badge == "NB9001"
        # Another purpose's signature (an enterprise's form link) does not open it.
        form = make_token(escort.id or 0, utcnow() + timedelta(days=1), signing_key(settings))
        with pytest.raises(LinkError, match="护送链接无效"):
            escort_for_token(s, form, settings)
        old, _ = escort_token(escort, settings, days=1, now=utcnow() - timedelta(days=2))
        with pytest.raises(LinkError, match="过期") as info:
            escort_for_token(s, old, settings)
        assert info.value.expired
    reset_settings(public_url="https://convoy.example.cn/", locale="en")
    url, _ = escort_link(escort)
    assert url.startswith("https://convoy.example.cn/field/")
    with session_scope() as s, pytest.raises(LinkError, match="not valid"):
        escort_for_token(s, token[:-2] + "xx")


@hsettings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_valid_link_or_refused_as_one(token: str) -> None:
    key = b"k" * 32
    from models.intake.registration import read_token

    try:
        read_token(token, key, purpose="escort")
    except LinkError:
        return
    raise AssertionError(f"{token!r} was read as a link")


def _report(client_id: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "muster", "payload": {"absent": [2]}, **extra}
    if client_id is not None:
        body["client_id"] = client_id
    return body


def test_a_client_id_is_stored_once(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-L2", n=3)
    escort = _escort(code)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        first, new = report_checkin(s, convoy, escort, _report("phone-0001"), now=utcnow())
        assert new and first.client_id == "phone-0001"
    with session_scope() as s:  # sent again (a lost answer, an offline queue): the stored one
        again, new = report_checkin(
            s, get_convoy(s, code), escort, _report("phone-0001", at=utcnow().isoformat()),
            now=utcnow(),
        )  # fmt: skip
        assert not new and again.id == first.id
        assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 1
    other = make_convoy("BUS-L3", n=1)
    _escort(other)
    with session_scope() as s, pytest.raises(ValidationError, match="another convoy"):
        report_checkin(s, get_convoy(s, other), escort, _report("phone-0001"), now=utcnow())


@given(st.text(max_size=70))
@hsettings(max_examples=80, deadline=None)
def test_client_ids_are_checked(value: str) -> None:
    from models.tracking.field_checkins import _client_id

    try:
        out = _client_id(value)
    except ValidationError:
        return
    assert (out is None and value == "") or (out == value and 8 <= len(value) <= 64)


def test_task_notices_carry_each_escorts_own_link(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-L4", n=2)
    a = _escort(code, "NB9001", "json://127.0.0.1:9/a")
    b = _escort(code, "NB9002", "json://127.0.0.1:9/b")
    with session_scope() as s:
        assert queue_stage_notices(s, code, Stage.PLANNED, settings) == 2
        rows = list(s.execute(select(OutboxMessage)).scalars())
    bodies = {r.escort_id: r.body for r in rows}
    for escort in (a, b):
        with session_scope() as s:
            token = bodies[escort.id].rsplit("/field/", 1)[1].strip()
            assert escort_for_token(s, token, settings).id == escort.id
    with session_scope() as s:  # queued again: nothing new
        assert queue_stage_notices(s, code, Stage.PLANNED, settings) == 0


def test_the_page_lists_masked_people_and_follows_the_check_ins(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-L5", n=4)
    escort = _escort(code)
    with session_scope() as s:
        view = field_view(s, escort, None, settings)
        people = passengers(s, get_convoy(s, code))
    c = view["convoy"]
    assert c["code"] == code and c["due"] == "muster" and len(c["roster"]) == 4
    text = repr(view)
    for p in people:
        assert p.id_number not in text and p.phone not in text and p.name not in text
    with session_scope() as s:
        report_checkin(s, get_convoy(s, code), escort, _report("phone-0002"), now=utcnow())
    with session_scope() as s:
        assert field_view(s, escort, code, settings)["convoy"]["due"] == "screening"
        convoy = get_convoy(s, code)
        assert due_step(convoy, {"muster", "screening", "depart"}) == "arrive"
        convoy.stage = Stage.CLOSED.value
        assert due_step(convoy, set()) is None
