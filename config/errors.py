"""The root of the one error hierarchy (``models.errors`` builds on it): the bottom layer needs
it too, for a wrong setting or rule file."""

from __future__ import annotations


class ConvoyOpsError(Exception):
    """Base class of every error Convoy Ops raises on purpose."""


class ConfigurationError(ConvoyOpsError):
    """A setting or rule file is wrong."""
