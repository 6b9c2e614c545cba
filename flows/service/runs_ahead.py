"""Flow runs created ahead of the convoys that run them (an embedded campaign).

Creating a flow run is the request the Prefect server refuses when its SQLite database is busy: the
server reads, then inserts, in one transaction, and a write committed in between (another run's
task states, logs, events) makes it answer 503; the client then sleeps 2, 4, 8 … seconds before
trying again. Once convoys are running the server writes all the time, and half the convoys that
started then lost seconds that way before their first step. ``RunsAhead.create`` makes every
convoy's flow run at the start of the campaign, one after another, while nothing else writes to the
server (30 to 40 ms a run here: 15 s for 430); each convoy then runs the flow run made for it
(``run_here(..., flow_run=…)``). Once one run cannot be made (the server is down, say), no more are
tried: that convoy and the ones after it make their own, as Prefect does (rather than each paying
the client's retries here first). Runs made but never run (the campaign stopped before their convoy
started) are set *Cancelled* when the campaign ends (``close``), so none stays *Pending*.

``run_each`` runs the convoys a few at a time, each worker thread with one Prefect client for
all the runs it runs: a flow run started in a thread that has none builds its own client, and
with it a TLS context, even for a server on this machine (about 45 ms of CPU: 2 s of a 1x
campaign's 43 convoys).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class RunsAhead:
    """The flow runs made for a campaign's convoys (``take`` one per convoy, ``close`` last)."""

    def __init__(self, made: dict[str, Any]):
        self._made = made  # code -> its flow run, until taken
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls,
        flow_fn: Any,
        codes: Sequence[str],
        parameters: Callable[[str], dict[str, Any]],
        *,
        tags: Sequence[str] = (),
    ) -> RunsAhead:
        """A *Pending* flow run of ``flow_fn`` for each code (once, however often it is given),
        with the flow's ``parameters(code)``, named by the flow's own ``flow_run_name``
        template, and ``tags``; made in order until one fails."""
        from prefect.client.orchestration import get_client
        from prefect.states import Pending

        template = flow_fn.flow_run_name
        made: dict[str, Any] = {}
        with get_client(sync_client=True) as client:
            for code in dict.fromkeys(codes):
                values = parameters(code)
                try:
                    made[code] = client.create_flow_run(
                        flow_fn,
                        name=template.format(**values) if isinstance(template, str) else None,
                        parameters=flow_fn.serialize_parameters(values),
                        state=Pending(),
                        tags=list(tags),
                    )
                except Exception as exc:  # this convoy and the rest make their own runs
                    log.warning("No more flow runs are made ahead (from %s on): %s", code, exc)
                    break
        return cls(made)

    def take(self, code: str) -> Any:
        """The flow run made for ``code``, given once (None: the convoy makes its own)."""
        with self._lock:
            return self._made.pop(code, None)

    def close(self) -> list[str]:
        """Set every run made but not taken *Cancelled*; returns their codes."""
        with self._lock:
            left, self._made = self._made, {}
        if not left:
            return []
        from prefect.client.orchestration import get_client
        from prefect.states import Cancelled

        message = "The campaign stopped before this convoy started."
        with get_client(sync_client=True) as client:
            for code, run in left.items():
                try:
                    client.set_flow_run_state(run.id, Cancelled(message=message), force=True)
                except Exception as exc:  # reported; the others are still cancelled
                    log.warning("The flow run of %s stays pending: %s", code, exc)
        return list(left)


def run_each(
    fn: Callable[[T], R], items: Iterable[T], workers: int, *, name: str = "worker"
) -> list[R]:
    """``fn(item)`` for every item, ``workers`` at a time in threads named ``name-N``, each
    thread with one Prefect client for everything it runs; the results in the items' order.
    An item that fails does not stop the others; once all have ended, the first failure in
    the items' order is raised (as ``ThreadPoolExecutor.map`` would)."""
    from prefect.context import SyncClientContext

    todo = list(items)
    results: dict[int, R] = {}
    failed: dict[int, BaseException] = {}
    order: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(todo)):
        order.put(i)

    def work() -> None:
        with ExitStack() as stack:
            try:
                stack.enter_context(SyncClientContext.get_or_create())
            except Exception as exc:  # the server is not there: each run meets it on its own
                log.warning("The worker thread runs without a client of its own: %s", exc)
            while True:
                try:
                    i = order.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = fn(todo[i])
                except BaseException as exc:  # raised by the caller once every item has ended
                    failed[i] = exc

    threads = [
        threading.Thread(target=work, name=f"{name}-{n}", daemon=True)
        for n in range(max(1, min(workers, len(todo))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[min(failed)]
    return [results[i] for i in range(len(todo))]
