"""The one error hierarchy of Convoy Ops. Every message is a full sentence a user can act on."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from config.errors import ConfigurationError, ConvoyOpsError

__all__ = ["ConfigurationError", "ConvoyOpsError"]  # the root lives in the bottom layer


class NotFoundError(ConvoyOpsError):
    """Something named by the user does not exist."""


def did_you_mean(given: str, known: Iterable[str], cutoff: float = 0.5) -> str:
    """`` Did you mean A, B?`` naming up to three of ``known`` close to ``given`` ('' if none)."""
    near = difflib.get_close_matches(given, list(known), n=3, cutoff=cutoff)
    return f" Did you mean {', '.join(near)}?" if near else ""


def unknown_convoy(code: str, codes: Iterable[str]) -> NotFoundError:
    """The one wording of a convoy code that is not in the database (``codes`` are those that
    are), whichever way it was looked up."""
    return NotFoundError(f"There is no convoy with the code {code!r}.{did_you_mean(code, codes)}")


class DatabaseUnusableError(ConvoyOpsError):
    """The database refused a query (unreachable, locked, or not the schema expected)."""


class ValidationError(ConvoyOpsError):
    """Input data breaks a rule (a manifest row, a plan file, a check-in)."""


class TransitionError(ConvoyOpsError):
    """A convoy stage or passenger custody change that the lifecycle does not allow."""


class ConservationError(TransitionError):
    """Passengers would be unaccounted for: manifest ≠ handed off + held + withdrawn + custody."""


class GeocodingError(ConvoyOpsError):
    """A place name could not be resolved to a point."""


class UnknownPlaceError(GeocodingError):
    """The gazetteer has no such place; the message lists close matches."""

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class AmbiguousPlaceError(GeocodingError):
    """Several places share the name; the message lists them and asks for a hint."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


class AuthenticationError(ConvoyOpsError):
    """A device or caller did not prove who it is (unknown device, wrong or revoked token)."""


class MonitorBusyError(ConvoyOpsError):
    """Another delay monitor already runs on this database (one scheduler per job store)."""


class LeaseLostError(MonitorBusyError):
    """A monitor or sender found that another process took over its lease: it stops."""


class PermissionDeniedError(ConvoyOpsError):
    """A known user, device or link may not do this (their role, convoys or enterprise)."""


class BusyError(ConvoyOpsError):
    """Another transaction has kept a convoy (or another shared thing) busy for too long."""


class RunBusyError(ConvoyOpsError):
    """A convoy (or application) already has an active flow run; a second one is refused."""
