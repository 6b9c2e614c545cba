"""Process set-up: what must happen before Prefect is imported (where Prefect keeps its state,
a quiet temporary server: no shutdown tracebacks on the terminal, Prefect issues #9148 and
#15033, and a server that records task runs in batches), and garbage collection suited to a
long batch (``batch_collection``)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_DEFAULTS = {
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_ROOT_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "false",
    # The Prefect server this process starts (or ``convoy serve`` starts) records task runs
    # from their events. Prefect's default writes each event in a transaction of its own and
    # costs the server most of its CPU once convoy flows run side by side (measured: 17.5 s
    # of CPU during a 1x campaign, 10 to 11.5 s with these); a task run then shows up to a
    # second later.
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
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


# A long batch (a simulated campaign, its escorts' process) keeps tens of thousands of objects
# alive and makes millions more: with the default thresholds the collector walks the whole
# heap again and again (about 2 s of a 1x campaign's 20 s of CPU, nearly all of it full
# collections). What is loaded before the batch is frozen out of every collection, and the
# young generation is collected less often; cycles are still collected.
BATCH_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def batch_collection() -> Iterator[None]:
    """Within the block, garbage collection suited to a long batch (see above); after it the
    previous thresholds come back and what was frozen is collected as before."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
