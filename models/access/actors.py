"""Who is acting, and from where: the actor of the current operation, held in a context variable.

The CLI sets it once per command (the local operator, ``via="cli"``), the HTTP apps once per
request (a user, a device or a signed link, ``via="api"``), flows for their runs
(``via="flow"``). The audit records it with every write and the rights check reads it.
Code that runs with nobody set acts as the unattributed ``system`` (library calls, tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

Kind = Literal["user", "operator", "device", "link", "system"]
Via = Literal["cli", "api", "flow", "library"]


@dataclass(frozen=True)
class Actor:
    """A person, device or process taking actions.

    ``role`` None means unrestricted (a process, or the local operator before any user exists;
    ``models.access.users.resolve`` turns an operator who is a user into that user's role)."""

    kind: Kind
    name: str
    role: str | None = None
    user_id: int | None = None
    escort_id: int | None = None
    enterprise_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" if self.name else self.kind


SYSTEM = Actor("system", "unattributed")


def operator(name: str) -> Actor:
    """The named local operator of the CLI."""
    return Actor("operator", name)


def service(name: str) -> Actor:
    """A long-running part acting on its own (the delay monitor, the sender, a served flow)."""
    return Actor("system", name)


def device(device_id: str, escort_id: int) -> Actor:
    """An escort's tracker: it acts as its escort (role escort, limited to their convoys)."""
    return Actor("device", device_id, role="escort", escort_id=escort_id)


def link(enterprise: str, enterprise_id: int) -> Actor:
    """Whoever holds an enterprise's signed link (its registration form or its own page)."""
    return Actor("link", f"{enterprise} link", role="enterprise", enterprise_id=enterprise_id)


_current: ContextVar[tuple[Actor, Via]] = ContextVar("convoy_actor", default=(SYSTEM, "library"))


@contextmanager
def acting_as(actor: Actor, via: Via) -> Iterator[Actor]:
    """Everything written inside the block is done by ``actor`` through ``via``."""
    token = _current.set((actor, via))
    try:
        yield actor
    finally:
        _current.reset(token)


def current() -> tuple[Actor, Via]:
    """The actor in force and where they act from."""
    return _current.get()
