"""Users and tokens on the real database: random tokens stored hashed, expiry and revocation,
the first-admin rule, and the rights check with its escort and enterprise limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import Settings
from models.access.actors import Actor, acting_as, link, operator
from models.access.users import (
    User,
    UserToken,
    add_user,
    authenticate,
    check,
    hash_secret,
    issue_token,
    require,
    resolve,
    revoke_token,
    revoke_user,
)
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope, utcnow
from models.errors import AuthenticationError, PermissionDeniedError, ValidationError
from tests.conftest import ENTERPRISES


def test_tokens_are_random_hashed_and_end(settings: Settings) -> None:
    with session_scope() as s:
        add_user(s, "root", "admin")
        add_user(s, "wang", "coordinator", full_name="王协调")
        row, token = issue_token(s, "wang", days=2)
        _, other = issue_token(s, "wang", days=2)
    assert token != other and token.startswith("cvo_") and len(token) > 40
    with session_scope() as s:
        stored = list(s.execute(select(UserToken.token_hash)).scalars())
        assert token not in stored and hash_secret(token) in stored
        assert authenticate(s, token).name == "wang"
        later = utcnow() + timedelta(days=3)
        with pytest.raises(AuthenticationError, match="expired"):
            authenticate(s, token, now=later)
        revoke_token(s, row.id or 0)
        with pytest.raises(AuthenticationError, match="revoked"):
            authenticate(s, token)
        assert authenticate(s, other).name == "wang"  # the other token still works
        revoke_user(s, "wang")
        with pytest.raises(AuthenticationError, match="User wang is revoked"):
            authenticate(s, other)
        for bad in ("", "cvo_nothing", "Bearer x", "cvo_" + "a" * 500):
            with pytest.raises(AuthenticationError):
                authenticate(s, bad)
        with pytest.raises(ValidationError, match="revoked; they get no new token"):
            issue_token(s, "wang")


def test_the_first_user_is_an_admin_and_the_last_admin_stays(settings: Settings) -> None:
    with session_scope() as s, pytest.raises(ValidationError, match="add an admin first"):
        add_user(s, "wang", "coordinator")
    with session_scope() as s:
        add_user(s, "root", "admin")
        with pytest.raises(ValidationError, match="already a user named root"):
            add_user(s, "root", "manager")
        with pytest.raises(ValidationError, match="1 to 64 letters"):
            add_user(s, "two words", "manager")
        with pytest.raises(ValidationError, match="needs --escort"):
            add_user(s, "li", "escort")
        with pytest.raises(ValidationError, match="last admin"):
            revoke_user(s, "root")


def test_the_operator_is_resolved_to_their_user(settings: Settings) -> None:
    with session_scope() as s:
        assert resolve(s, operator("anyone")).role is None  # no users yet: set-up
        add_user(s, "root", "admin")
    with session_scope() as s:
        assert resolve(s, operator("root")).role == "admin"
        with pytest.raises(PermissionDeniedError, match="not a Convoy Ops user"):
            resolve(s, operator("anyone"))
    with acting_as(operator("root"), "cli"), session_scope() as s:
        add_user(s, "wang", "coordinator")
    with acting_as(operator("wang"), "cli"), session_scope() as s:
        with pytest.raises(PermissionDeniedError, match="may not add or revoke users"):
            add_user(s, "li", "manager")
        assert require(s, "plan.write").role == "coordinator"


def test_escorts_act_on_their_convoys_and_enterprises_on_their_own(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    mine, theirs = make_convoy("BUS-A1", n=2), make_convoy("BUS-A2", n=2, seed=2)
    with session_scope() as s:
        e = upsert_escort(s, "P7001", name="周警官")
        assign_escort(s, get_convoy(s, mine), e)
        add_user(s, "root", "admin")
        add_user(s, "zhou", "escort", escort="P7001")
        add_user(s, "ent", "enterprise", enterprise=ENTERPRISES[0])
        mine_id, theirs_id = get_convoy(s, mine).id, get_convoy(s, theirs).id
        zhou = resolve(s, operator("zhou"))
        check(s, zhou, "checkin.write", convoy_id=mine_id)
        with pytest.raises(PermissionDeniedError, match="only for the convoys they escort"):
            check(s, zhou, "checkin.write", convoy_id=theirs_id)
        with pytest.raises(PermissionDeniedError, match="may not run convoy flows"):
            check(s, zhou, "convoy.write", convoy_id=mine_id)
        ent = s.execute(select(User).where(User.name == "ent")).scalars().one()
        own = link(ENTERPRISES[0], ent.enterprise_id or 0)
        check(s, own, "registration.write", enterprise_id=ent.enterprise_id)
        with pytest.raises(PermissionDeniedError, match="only for its own enterprise"):
            check(s, own, "registration.write", enterprise_id=(ent.enterprise_id or 0) + 1)
        with pytest.raises(PermissionDeniedError):
            check(s, Actor("user", "m", role="manager"), "alert.write")
