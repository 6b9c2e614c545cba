"""The deployments of an operation, served by one Prefect runner: ``convoy/convoy``,
``permit/permit`` and ``campaign/campaign``.

``python -m flows.service.deployments`` (a part of ``convoy serve``) serves them against the
configured Prefect server, polling for runs every ``RUNNER_POLL_SECONDS``; beside it a thread
finds the active convoy and application runs again (``flows.service.live.reconcile``) at start
and every minute: after a crash, runs left *Running* are rescheduled and suspended runs whose
input is already recorded are resumed. Coordinators trigger runs with ``convoy run CODE``, the
Prefect UI, or ``prefect deployment run 'convoy/convoy' --param code=CODE``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import flows  # noqa: F401  (the Prefect environment first)

log = logging.getLogger("convoy.deployments")

RUNNER_POLL_SECONDS = 2.0
RECONCILE_SECONDS = 60.0


def deployments() -> list[Any]:
    """The three deployments, ready to serve."""
    from flows.campaign import campaign_flow
    from flows.convoy import convoy_flow
    from flows.permits import permit_flow

    about = "Convoy Ops: "
    return [
        convoy_flow.to_deployment(
            name="convoy",
            description=about + "one convoy's whole trip; suspends while waiting for check-ins.",
            tags=["convoy-ops"],
        ),
        permit_flow.to_deployment(
            name="permit",
            description=about + "one vehicle-pass application, from survey to delivery.",
            tags=["convoy-ops"],
        ),
        campaign_flow.to_deployment(
            name="campaign",
            description=about + "starts every convoy of a campaign at once.",
            tags=["convoy-ops"],
        ),
    ]


def reconcile_forever(stop: threading.Event, every: float = RECONCILE_SECONDS) -> None:
    """Find the active runs again now, then every ``every`` seconds, until ``stop``."""
    from flows.service.live import INPUTS, reconcile

    while True:
        try:
            for line in reconcile(INPUTS):
                print(line, flush=True)
        except Exception as exc:  # the server may still be starting: try again next round
            log.warning("active runs not reconciled: %s", exc)
        if stop.wait(every):
            return


def serve() -> None:
    """Serve the deployments until interrupted (SIGINT or SIGTERM)."""
    import signal

    from prefect import serve as prefect_serve

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    stop = threading.Event()
    finder = threading.Thread(target=reconcile_forever, args=(stop,), daemon=True)
    finder.start()
    try:
        prefect_serve(
            *deployments(),
            print_starting_message=False,
            pause_on_shutdown=False,
            query_seconds=RUNNER_POLL_SECONDS,
        )
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


if __name__ == "__main__":  # pragma: no cover
    serve()
