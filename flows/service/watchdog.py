"""The watchdog of ``convoy serve``: when the service's own process dies (even by ``kill -9``),
it ends every part it started, grandchildren included (the flow runs' processes), so nothing
is left behind.

``python -m flows.service.watchdog PARENT_PID GROUP`` runs in its own session; it polls its
parent and, once it is gone, sends SIGTERM to the parts' process group, then SIGKILL to what is
left after a grace period. It exits on its own once the group is empty (a clean stop).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

GRACE_SECONDS = 5.0


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's: not ours
        return False
    return True


def end_group(group: int, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to the group, SIGKILL to whatever outlives ``grace`` seconds."""
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_alive(group):
        time.sleep(0.1)
    if group_alive(group):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


def watch(parent: int, group: int, every: float = 0.5) -> None:
    while True:
        if not group_alive(group):
            return  # the parts are gone: a clean stop
        if os.getppid() != parent:
            end_group(group)
            return
        time.sleep(every)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    watch(int(args[0]), int(args[1]))


if __name__ == "__main__":  # pragma: no cover
    main()
