"""Requests and consultations: the lifecycle with illegal moves refused, who may take which
step, the liaison officer told through the outbox, every write audited with phones masked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from config import Settings
from models.access.actors import acting_as
from models.access.audit import audit_log
from models.db import session_scope
from models.desk.requests import (
    due_for,
    list_requests,
    log_request,
    pass_on_request,
    raise_request,
    resolve_request,
    take_request,
)
from models.errors import PermissionDeniedError, TransitionError, ValidationError
from tests.conftest import ENTERPRISES
from tests.models.desk.helpers import DEPUTY_URL, OFFICER_URL, ROOT, T0, as_link, outbox, setup_desk

PHONE = "13812345678"


def test_request_lifecycle_refuses_illegal_moves(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    world = setup_desk(make_convoy, n=0)
    with acting_as(as_link(world, 0), "api"), session_scope() as s:
        req = raise_request(
            s, world["ids"][0], kind="staff_return", text="20 名员工 2 月 22 日返岗，请协助",
            contact_name="王经理", contact_phone=PHONE, at=T0,
        )  # fmt: skip
        number = req.number
        assert number.startswith("FW-20200220-") and req.status == "open"
        assert req.due_at == due_for(T0)
        # The link may raise requests but never take a step of its own.
        with pytest.raises(PermissionDeniedError):
            take_request(s, number, at=T0)
    with acting_as(ROOT, "cli"), session_scope() as s:
        with pytest.raises(
            TransitionError, match="is open; it can only be resolved when it is in hand"
        ):
            resolve_request(s, number, "done", at=T0)
        with pytest.raises(TransitionError, match="is open"):
            pass_on_request(s, number, "区人社局", at=T0)
        taken = take_request(s, number, at=T0 + timedelta(minutes=5))
        assert taken.status == "in_hand" and taken.officer_id is not None  # the liaison officer
        with pytest.raises(
            TransitionError, match="is in hand; it can only be taken in hand when it is open"
        ):
            take_request(s, number, at=T0 + timedelta(minutes=6))
        with pytest.raises(ValidationError, match="answer is required"):
            resolve_request(s, number, "  ", at=T0 + timedelta(minutes=6))
        with pytest.raises(ValidationError, match="before its last step"):
            resolve_request(s, number, "ok", at=T0)
        done = resolve_request(s, number, "已安排专车接站", at=T0 + timedelta(hours=2))
        assert done.status == "resolved" and done.closed_at is not None
        for step in (
            lambda: take_request(s, number),
            lambda: resolve_request(s, number, "again"),
            lambda: pass_on_request(s, number, "区人社局"),
        ):
            with pytest.raises(TransitionError, match="is resolved"):
                step()
        rows = list_requests(s)
    assert [r["status"] for r in rows] == ["resolved"] and rows[0]["same_day"] is True
    assert rows[0]["phone"] == "138****5678"
    # The liaison officer and the deputy got the request, phone masked.
    sent = outbox(f"desk:{number}:raised")
    assert {m.recipient for m in sent} == {OFFICER_URL, DEPUTY_URL}
    assert all(PHONE not in m.body and "138****5678" in m.body for m in sent)
    with acting_as(ROOT, "cli"), session_scope() as s:
        audit = [r for r in audit_log(s) if r["action"].startswith("request.")]
    assert [r["action"] for r in audit] == ["request.add", "request.change", "request.in_hand",
                                            "request.resolved"]  # fmt: skip
    assert audit[0]["actor"] == f"{ENTERPRISES[0]} link" and audit[0]["via"] == "api"
    assert PHONE not in str(audit)


def test_passed_on_and_logged_consultations(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    setup_desk(make_convoy, n=0)
    with acting_as(ROOT, "cli"), session_scope() as s:
        answered = log_request(
            s, ENTERPRISES[1], kind="policy", text="外省员工是否需要隔离？", channel="window",
            answer="按属地健康码管理", at=T0,
        )  # fmt: skip
        assert answered.status == "resolved" and answered.channel == "window"
        phoned = log_request(s, ENTERPRISES[0], kind="vehicle_pass", text="渣土车通行证",
                             at=T0 + timedelta(hours=9))  # fmt: skip
        # Raised after the cut-off hour (18:00): the target is the end of the next day.
        assert phoned.due_at == due_for(T0 + timedelta(days=1))
        take_request(s, phoned.number, officer="NB3002", at=T0 + timedelta(hours=10))
        passed = pass_on_request(s, phoned.number, "交警大队", note="已转交警",
                                 at=T0 + timedelta(hours=11))  # fmt: skip
        assert passed.status == "passed_on" and passed.passed_to == "交警大队"
        with pytest.raises(ValidationError, match="not a kind of request"):
            log_request(s, ENTERPRISES[0], kind="complaint", text="x")
        with pytest.raises(ValidationError, match="not a mainland mobile"):
            log_request(s, ENTERPRISES[0], kind="other", text="x", contact_phone="12345")
        with pytest.raises(ValidationError, match="by phone or at the window"):
            log_request(s, ENTERPRISES[0], kind="other", text="x", channel="page")
        assert [r["number"] for r in list_requests(s, open_only=True)] == []
        mine = list_requests(s, enterprise=ENTERPRISES[1])
    assert [r["number"] for r in mine] == [answered.number]
    # No liaison officer for the second enterprise and no coordinator address: recorded anyway.
    assert [m.status for m in outbox(f"desk:{answered.number}:raised")] == ["unaddressed"]


def test_an_enterprise_link_sees_only_its_own_requests(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    world = setup_desk(make_convoy, n=0)
    for i in (0, 1):
        with acting_as(as_link(world, i), "api"), session_scope() as s:
            raise_request(s, world["ids"][i], kind="other", text=f"问题 {i}", at=T0)
    with acting_as(as_link(world, 0), "api"), session_scope() as s:
        own = list_requests(s, enterprise_id=world["ids"][0])
        assert [r["text"] for r in own] == ["问题 0"]
        with pytest.raises(PermissionDeniedError, match="only for its own enterprise"):
            list_requests(s)
        with pytest.raises(PermissionDeniedError, match="only for its own enterprise"):
            list_requests(s, enterprise_id=world["ids"][1])
        with pytest.raises(PermissionDeniedError):
            raise_request(s, world["ids"][1], kind="other", text="冒名", at=T0)
