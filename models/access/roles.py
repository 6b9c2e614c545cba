"""Who may do what: the roles of Convoy Ops and the role matrix, as data.

``MATRIX`` maps each role to the actions it may take; ``allowed(role, action)`` reads it and
nothing else decides a right. Actions in ``CONVOY_SCOPED`` are limited, for escorts, to the
convoys they are assigned to; those in ``ENTERPRISE_SCOPED`` are limited, for enterprises, to
their own records (``models.access.users.require`` applies both limits).
"""

from __future__ import annotations

from enum import StrEnum

from models.errors import ValidationError


class Role(StrEnum):
    COORDINATOR = "coordinator"  # everything operational
    ESCORT = "escort"  # their own convoys and tasks
    MANAGER = "manager"  # read only: maps, reports, alerts, figures
    PERMIT_OFFICER = "permit_officer"  # the vehicle-pass workflow
    ENTERPRISE = "enterprise"  # its own registrations, handoffs and desk requests (signed links)
    ADMIN = "admin"  # users and tokens


# Every action a right is asked for, with what it covers (the words of a refusal).
ACTIONS: dict[str, str] = {
    "convoy.read": "see convoys, their status and (masked) rosters",
    "plan.write": "load plans and change campaigns, enterprises, escorts and assignments",
    "convoy.write": "run convoy flows and record their stages",
    "manifest.import": "import manifests, registry lists and registered workers",
    "checkin.write": "record check-ins and positions",
    "custody.write": "hold, withdraw or hand off passengers",
    "alert.read": "see alerts",
    "alert.write": "acknowledge, snooze or resolve alerts",
    "task.read": "see escort tasks",
    "map.read": "draw maps",
    "report.read": "see reports and campaign figures",
    "device.write": "bind or revoke trackers",
    "outbox.read": "see the notification outbox",
    "outbox.write": "send or requeue notifications",
    "permit.read": "see vehicle-pass applications",
    "permit.write": "take vehicle-pass steps",
    "registration.write": "register returning workers",
    "registration.read": "see registered workers and their history",
    "handoff.read": "see handoffs",
    "user.read": "see users",
    "user.write": "add or revoke users and issue tokens",
    "audit.read": "read the audit log",
    "desk.read": "see the service desk: liaison officers, requests, staff checks",
    "desk.write": "assign liaison officers and take, resolve or pass on requests",
    "desk.raise": "raise requests and check staff lists at the service desk",
}

_OPERATIONS = frozenset(
    {
        "convoy.read", "plan.write", "convoy.write", "manifest.import", "checkin.write",
        "custody.write", "alert.read", "alert.write", "task.read", "map.read", "report.read",
        "device.write", "outbox.read", "outbox.write", "permit.read", "registration.read",
        "handoff.read", "audit.read", "desk.read", "desk.write", "desk.raise",
    }
)  # fmt: skip

MATRIX: dict[Role, frozenset[str]] = {
    Role.COORDINATOR: _OPERATIONS,
    Role.ESCORT: frozenset({"convoy.read", "checkin.write", "custody.write", "task.read"}),
    Role.MANAGER: frozenset(
        {
            "convoy.read",
            "alert.read",
            "map.read",
            "report.read",
            "permit.read",
            "audit.read",
            "desk.read",
        }
    ),
    Role.PERMIT_OFFICER: frozenset({"permit.read", "permit.write", "map.read"}),
    Role.ENTERPRISE: frozenset(
        {"registration.write", "registration.read", "handoff.read", "desk.read", "desk.raise"}
    ),
    Role.ADMIN: frozenset({"user.read", "user.write", "audit.read"}),
}

CONVOY_SCOPED = frozenset({"convoy.read", "checkin.write", "custody.write", "task.read"})
ENTERPRISE_SCOPED = frozenset(
    {"registration.write", "registration.read", "handoff.read", "desk.read", "desk.raise"}
)

assert all(actions <= ACTIONS.keys() for actions in MATRIX.values())


def role_of(value: str) -> Role:
    """The role named ``value`` (``permit-officer`` is accepted for ``permit_officer``)."""
    try:
        return Role(value.strip().lower().replace("-", "_"))
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValidationError(f"{value!r} is not a role; the roles are {names}.") from None


def allowed(role: Role | str, action: str) -> bool:
    """True when ``role`` may take ``action`` (a key of ``ACTIONS``), by the matrix alone."""
    if action not in ACTIONS:
        raise KeyError(f"{action!r} is not an action of the role matrix.")
    try:
        return action in MATRIX[Role(role)]
    except ValueError:
        return False
