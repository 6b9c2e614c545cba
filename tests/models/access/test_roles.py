"""The role matrix as the issue states it: who may do what, read from the data alone."""

from __future__ import annotations

import pytest

from models.access.roles import ACTIONS, CONVOY_SCOPED, MATRIX, Role, allowed, role_of
from models.errors import ValidationError

# (role, action, allowed) for the rights the issue names, one line each.
CASES = [
    (Role.COORDINATOR, "plan.write", True),
    (Role.COORDINATOR, "convoy.write", True),
    (Role.COORDINATOR, "checkin.write", True),
    (Role.COORDINATOR, "custody.write", True),
    (Role.COORDINATOR, "alert.write", True),
    (Role.COORDINATOR, "manifest.import", True),
    (Role.COORDINATOR, "user.write", False),
    (Role.COORDINATOR, "permit.write", False),
    (Role.ESCORT, "checkin.write", True),
    (Role.ESCORT, "custody.write", True),
    (Role.ESCORT, "task.read", True),
    (Role.ESCORT, "convoy.write", False),
    (Role.ESCORT, "alert.write", False),
    (Role.ESCORT, "report.read", False),
    (Role.MANAGER, "map.read", True),
    (Role.MANAGER, "report.read", True),
    (Role.MANAGER, "alert.read", True),
    (Role.MANAGER, "alert.write", False),
    (Role.MANAGER, "checkin.write", False),
    (Role.PERMIT_OFFICER, "permit.write", True),
    (Role.PERMIT_OFFICER, "checkin.write", False),
    (Role.ENTERPRISE, "registration.write", True),
    (Role.ENTERPRISE, "handoff.read", True),
    (Role.ENTERPRISE, "convoy.read", False),
    (Role.ADMIN, "user.write", True),
    (Role.ADMIN, "checkin.write", False),
]


@pytest.mark.parametrize(("role", "action", "expected"), CASES)
def test_role_against_action(role: Role, action: str, expected: bool) -> None:
    assert allowed(role, action) is expected
    assert allowed(role.value, action) is expected


def test_the_matrix_holds_its_rules() -> None:
    writes = {a for a in ACTIONS if a.endswith(".write") or a == "manifest.import"}
    assert not MATRIX[Role.MANAGER] & writes, "managers only read"
    assert {r for r in Role if allowed(r, "user.write")} == {Role.ADMIN}
    assert {r for r in Role if allowed(r, "permit.write")} == {Role.PERMIT_OFFICER}
    assert MATRIX[Role.ESCORT] <= CONVOY_SCOPED, "escorts act only on their own convoys"
    assert all(any(allowed(r, a) for r in Role) for a in ACTIONS), "every action has a role"


def test_unknown_roles_and_actions() -> None:
    assert allowed("visitor", "convoy.read") is False
    with pytest.raises(KeyError):
        allowed(Role.ADMIN, "convoy.delete")
    assert role_of("Permit-Officer") is Role.PERMIT_OFFICER
    with pytest.raises(ValidationError, match="not a role; the roles are coordinator"):
        role_of("boss")
