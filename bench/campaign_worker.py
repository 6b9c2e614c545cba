"""One measured campaign in a fresh process (used by ``bench_campaign``; not a benchmark file).

``python -m bench.campaign_worker VAR SCALE compare`` runs, in this process and against the one
temporary Prefect server it starts: a warm-up flow (so neither side pays the server's start),
then, each after a pause of ``SETTLE_SECONDS`` (the server done with the last side's events),
the whole simulated campaign at SCALE (``flows.sim.campaign_run.simulate``: writing and
importing the manifests, every convoy flow with its simulated escorts to closed — muster,
verification, screening, travel, arrival, handoffs — the maps and the report files; the vehicle
passes, which are no convoy work, left out; the escorts play in a process of their own, as
``simulate`` runs them), with the bare Prefect run right before and right after it: one parent
flow starting as many convoy flows, as many at a time, each running as many tasks as ours ran,
every task doing nothing, its flow runs made first, one after another, and run a few at a time
by worker threads that keep one Prefect client each, as the campaign does
(``flows.service.runs_ahead``); the baseline is the mean of the two. With ``ours``
only the campaign runs. Prints one JSON line: the times (wall clock, this process's CPU time,
the escorts' process's and the Prefect server's, read from ``/proc``), the run counts, the peak
resident memory (this process's plus the escorts' process's), and how often and how long each
side's Prefect client slept before trying a request again (the temporary server keeps its state
in SQLite and answers 503 when that is busy; the client then waits 2, 4, 8 … seconds), and the
lowest ratio our side's CPU would allow (``_floors``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

CONCURRENCY = 6
# The server writes a run's last events for a few seconds after it ends (its event persister
# flushes every 5 s): each side starts after this pause, on a quiet server, untimed.
SETTLE_SECONDS = 6.0


class RetrySleeps(logging.Filter):
    """Counts the Prefect client's waits before trying a request again (read from its debug
    line "Another attempt will be made in Ns"); lets no debug record through."""

    def __init__(self) -> None:
        super().__init__()
        self.count, self.seconds = 0, 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            return True
        found = re.search(r"Another attempt will be made in ([0-9.]+)s", record.getMessage())
        if found:
            self.count += 1
            self.seconds += float(found[1])
        return False

    def take(self) -> tuple[int, float]:
        """(waits, seconds) since the last call."""
        out = (self.count, round(self.seconds, 1))
        self.count, self.seconds = 0, 0.0
        return out


def main(var: str, scale: float, mode: str) -> dict[str, Any]:
    os.environ["CONVOY_VAR_DIR"] = var
    os.environ.pop("PREFECT_HOME", None)
    # The temporary Prefect server answers 503 when it falls behind (430 convoy flows on two
    # busy cores): the client tries again for longer before it gives up.
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "12")
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    import flows  # noqa: F401  (Prefect's home under VAR, before Prefect is imported)
    from flows.convoy import CHECKLIST
    from flows.service.runs_ahead import RunsAhead, run_each
    from flows.sim.campaign import plan_campaign
    from flows.sim.campaign_run import simulate
    from models.access.actors import acting_as, operator
    from models.db import init_db

    @task(name="nothing", cache_policy=NO_CACHE, persist_result=False)
    def nothing(i: int) -> None:
        return None

    @flow(name="bare-convoy")
    def bare_convoy(code: str, tasks: int) -> None:
        for i in range(tasks):
            nothing(i)

    @flow(name="bare-campaign")
    def bare_campaign(codes: list[str], tasks: int) -> None:
        # Its flow runs made first, in order, as ours are (``flows.service.runs_ahead``).
        def parameters(code: str) -> dict[str, Any]:  # made and run alike
            return {"code": code, "tasks": tasks}

        ahead = RunsAhead.create(bare_convoy, codes, parameters)

        def one(code: str) -> None:
            run_flow(bare_convoy, flow_run=ahead.take(code), parameters=parameters(code))

        run_each(one, codes, CONCURRENCY)
        nothing(0)

    def flow_runs() -> int:
        with get_client(sync_client=True) as client:
            return client.count_flow_runs()

    def bare() -> tuple[float, float, int, tuple[int, float], float | None]:
        """One bare run: its wall and CPU seconds, the flow runs it made, its client's waits,
        the server's CPU seconds meanwhile."""
        time.sleep(SETTLE_SECONDS)
        before = flow_runs()
        sleeps.take()
        t0, c0, s0 = time.perf_counter(), _cpu(), _server_cpu()
        bare_campaign([t.code for t in plan.trips], per_convoy)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        return wall, cpu, flow_runs() - before, sleeps.take(), _minus(_server_cpu(), s0)

    sleeps = RetrySleeps()
    client_log = logging.getLogger("prefect.client")
    client_log.addFilter(sleeps)
    client_log.setLevel(logging.DEBUG)
    init_db()
    bare_convoy("warm-up", 1)
    plan = plan_campaign(scale, 2020)
    # Tasks per convoy flow: its checklist steps, the pre-verification table and the map and
    # summary; plus the campaign's report task.
    per_convoy = len(CHECKLIST) + 2
    first = bare() if mode == "compare" else None
    time.sleep(SETTLE_SECONDS)
    before = flow_runs()
    sleeps.take()
    t0, c0, e0 = time.perf_counter(), _cpu(), _cpu(resource.RUSAGE_CHILDREN)
    s0 = _server_cpu()
    with acting_as(operator("bench"), "cli"):
        done = simulate(plan, concurrency=CONCURRENCY, passes=False)
    ours, ours_cpu = time.perf_counter() - t0, _cpu() - c0
    ours_server_cpu = _minus(_server_cpu(), s0)
    # The escorts' process has ended (and been waited for); the Prefect server runs on.
    escorts_cpu = _cpu(resource.RUSAGE_CHILDREN) - e0
    ours_waits = sleeps.take()
    ours_flows = flow_runs() - before
    out: dict[str, Any] = {
        "scale": scale, "ours_s": round(ours, 3), "convoys": len(plan.trips),
        "passengers": done.report["figures"]["passengers"], "flow_runs": ours_flows,
        "task_runs": len(plan.trips) * per_convoy + 1, "not_closed": done.not_closed,
        "ours_cpu_s": round(ours_cpu, 3), "ours_escorts_cpu_s": round(escorts_cpu, 3),
        "ours_server_cpu_s": ours_server_cpu,
        # Waits of the client before trying again (summed over threads): count, seconds.
        "ours_client_retry_waits": ours_waits[0], "ours_client_retry_wait_s": ours_waits[1],
    }  # fmt: skip
    if first is not None:
        # The bare run before ours (a fresh server) and after it (a server that has ours in
        # its database and may still be working through its events): the baseline is their
        # mean, so that neither side alone gets the quieter server.
        second = bare()
        out["baseline_s"] = round((first[0] + second[0]) / 2, 3)
        out["baseline_cpu_s"] = round((first[1] + second[1]) / 2, 3)
        out["baseline_runs_s"] = [round(first[0], 3), round(second[0], 3)]
        out["baseline_flow_runs"] = second[2]
        out["baseline_client_retry_waits"] = [first[3][0], second[3][0]]
        out["baseline_client_retry_wait_s"] = [first[3][1], second[3][1]]
        out["baseline_server_cpu_s"] = [first[4], second[4]]
        out.update(_floors(out))
    mb = {
        w: resource.getrusage(w).ru_maxrss / 1024
        for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    }
    # This process's peak plus the escorts' (the largest child ended so far: the Prefect server
    # is still running): both at once at most.
    out["peak_rss_mb"] = round(mb[resource.RUSAGE_SELF] + mb[resource.RUSAGE_CHILDREN], 1)
    out["escorts_peak_rss_mb"] = round(mb[resource.RUSAGE_CHILDREN], 1)
    return out


def _floors(out: dict[str, Any]) -> dict[str, Any]:
    """The lowest ratio our side's CPU allows, however well it were spread: ``cpu_floor_ratio``
    with every core of the machine busy for the whole run (our three processes' CPU seconds
    over the cores), ``process_floor_ratio`` with as many cores as wanted (a process runs one
    thread at a time: its CPU seconds cannot take less time). Both over the baseline."""
    cores = len(os.sched_getaffinity(0))
    parts = [out["ours_cpu_s"], out["ours_escorts_cpu_s"], out["ours_server_cpu_s"] or 0.0]
    return {
        "cores": cores,
        "cpu_floor_ratio": round(sum(parts) / cores / out["baseline_s"], 3),
        "process_floor_ratio": round(max(parts) / out["baseline_s"], 3),
    }


def _minus(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(after - before, 2)


def _server_cpu() -> float | None:
    """CPU seconds the temporary Prefect server (a child process running uvicorn) has used so
    far, read from ``/proc``; None where that cannot be read."""
    tick = os.sysconf("SC_CLK_TCK")
    children: list[str] = []
    try:
        for thread in os.listdir(f"/proc/{os.getpid()}/task"):
            with suppress(OSError):  # a thread that has ended since
                children += Path(f"/proc/{os.getpid()}/task/{thread}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if b"uvicorn" in cmdline:
            fields = stat.rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return None


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    """CPU seconds this process has used (or its children ended so far: ``RUSAGE_CHILDREN``)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    result = main(sys.argv[1], float(sys.argv[2]), sys.argv[3])
    print("RESULT " + json.dumps(result), flush=True)
