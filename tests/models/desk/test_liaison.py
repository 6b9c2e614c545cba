"""Liaison officers: one per enterprise (assigning again replaces), refused when wrong, and the
enterprise's arrival notice reaching its officer and deputy through the outbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from config import Settings
from models.access.actors import acting_as
from models.access.audit import audit_log
from models.convoy.lifecycle import Stage
from models.convoy.tables import Passenger
from models.db import session_scope
from models.desk.liaison import assign_liaison, enterprise_rows, liaison_view
from models.desk.requests import kind_of
from models.desk.tables import RequestKind
from models.errors import NotFoundError, ValidationError
from models.notify.escort_tasks import queue_stage_notices
from tests.conftest import ENTERPRISES
from tests.models.desk.helpers import DEPUTY_URL, OFFICER_URL, ROOT, outbox, setup_desk


def test_one_officer_per_enterprise_and_the_arrival_notice_reaches_them(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    world = setup_desk(make_convoy, n=4)
    with acting_as(ROOT, "cli"), session_scope() as s:
        view = liaison_view(s, world["ids"][0])
        assert view["officer"]["badge"] == "NB3001" and view["deputy"]["badge"] == "NB3002"
        assert view["officer"]["phone"] == "139****1111"
        with pytest.raises(ValidationError, match="both the liaison officer and the deputy"):
            assign_liaison(s, ENTERPRISES[1], "NB3001", "NB3001")
        with pytest.raises(NotFoundError):
            assign_liaison(s, "没有这家公司", "NB3001")
        assign_liaison(s, ENTERPRISES[1], "NB3002")
        rows = {r["name"]: r for r in enterprise_rows(s)}
        assert rows[ENTERPRISES[1]]["officer"]["badge"] == "NB3002"
        assert rows[ENTERPRISES[1]]["deputy"] is None
        assign_liaison(s, ENTERPRISES[0], "NB3002")  # again: replaces officer and deputy
        assert liaison_view(s, world["ids"][0])["deputy"] is None
        assign_liaison(s, ENTERPRISES[0], "NB3001", "NB3002")
        s.execute(update(Passenger).values(custody="arrived"))  # the convoy has arrived
        queue_stage_notices(s, world["code"], Stage.ARRIVAL_SCREENED)
    with acting_as(ROOT, "cli"), session_scope() as s:
        audit = [e["action"] for e in audit_log(s) if e["action"].startswith("liaison.")]
    assert audit == ["liaison.add", "liaison.add", "liaison.change", "liaison.change"]
    notices = outbox(f"task:{world['code']}:arrival:{ENTERPRISES[0]}")
    assert {m.recipient for m in notices} == {OFFICER_URL, DEPUTY_URL}
    assert all(m.kind == "notice" for m in notices)
    other = outbox(f"task:{world['code']}:arrival:{ENTERPRISES[1]}")
    assert {m.recipient_label for m in other} == {"escort NB3002"}


@given(st.text(max_size=30))
def test_a_request_type_is_one_of_four_or_refused(text: str) -> None:
    try:
        kind = kind_of(text)
    except ValidationError as exc:
        assert "not a kind of request" in str(exc)
    else:
        assert kind in set(RequestKind)
