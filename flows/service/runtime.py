"""Process set-up that must happen before Prefect is imported: where Prefect keeps its state,
and a quiet temporary server (no shutdown tracebacks on the terminal: Prefect
issues #9148 and #15033)."""

from __future__ import annotations

import os
from pathlib import Path

_DEFAULTS = {
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_ROOT_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "false",
}


def _var_dir() -> Path:
    from config import get_settings
    from config.errors import ConfigurationError

    try:
        return get_settings().var_dir.resolve()
    except ConfigurationError:  # the command itself reports it, as one line, when it starts
        return Path("var").resolve()


def prepare_environment() -> None:
    """Set Prefect defaults unless the user has set them (idempotent)."""
    var_dir = _var_dir()
    os.environ.setdefault("PREFECT_HOME", str(var_dir / "prefect"))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
