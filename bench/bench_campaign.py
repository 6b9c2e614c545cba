"""Whole-campaign benchmarks (issue 14), each run in a fresh process (``bench.campaign_worker``).

* ``campaign.1x_vs_bare_prefect``: the whole simulated campaign at scale 1 (43 trips, about
  20,000 workers: writing and importing the manifests through the real import, every convoy
  flow with simulated escorts (in a process of their own, as the simulation runs them) to
  closed — muster, pre-verification, screening, departure, travel with the delay checks,
  arrival, spot checks, handoffs — the route maps, the overview map and the report in four
  formats) over a bare Prefect run in the same process, against the same temporary Prefect
  server, the mean of one run right before and one right after ours (neither side alone gets
  the fresher server): one parent flow starting as many child flows, six at a time as ours,
  each running as many tasks as a convoy flow runs, every task doing nothing. Both sides make
  their flow runs first, one after another (``flows.service.runs_ahead``: the Prefect server
  on SQLite refuses to create a run while it writes, and its client then sleeps seconds), so
  neither waits for that. Target ≤ 1.5: the engine is the floor. Run five times (each a fresh
  process and server; ``CONVOY_BENCH_CAMPAIGN_RUNS``): on two cores shared with the server one
  run's two sides can differ from the next run's, so the run with the median ratio is
  reported, with every run's ratio and times in its detail. The detail also gives where the
  CPU went on each side: the campaign's process, its escorts' process and the Prefect
  server's (read from ``/proc``; the bare side's server time for its run before and after),
  and the lowest ratio that CPU would allow: with every core busy the whole run
  (``cpu_floor_ratio``) and with as many cores as wanted (``process_floor_ratio``, the busiest
  process's CPU: an interpreter runs one thread at a time).
* ``campaign.scaling_10x_over_1x``: the same campaign at scale 10 (430 trips, about 200,000
  workers) over scale 1 (the median of the 1× runs' times), each in its own fresh process.
  Target ≤ 11 (linear is 10).
* ``campaign.peak_mem_10x_mb``: the peak resident memory (ru_maxrss) of the process running the
  10× campaign plus that of its simulated escorts' process (the Prefect temporary server is a
  process of its own, not counted). Target ≤ 1,500 MB.
* ``cli.startup_ratio``: ``convoy convoys --json`` (the installed console script, reading the
  database through its driver as it does at the newest schema) on the database the 1×
  campaign left (43 convoys, 20,000 passengers) over ``python -c pass``, each the best of 11
  rounds in which the commands take turns (the ratio's denominator is about 18 ms: measured
  in blocks, one after the other, the machine's drift alone moved it by 5 %).
  Target ≤ 12. Its detail also gives the stack's floor: ``python -c "import typer,
  pydantic_settings"`` (the CLI framework and the settings library every command needs, none of
  our code), its ratio over ``python -c pass`` and ours over it.

Every figure is measured with our modules' bytecode compiled first (``python -m bench`` does
it, see ``bench/__main__.py``): of ``convoy convoys`` and of each process a campaign starts.

``CONVOY_BENCH_SKIP_10X=1`` leaves the 10× run out (its two figures are then not measured and
the earlier ones are kept by the merge).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import Result, ratio

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STACK_FLOOR = "import typer, pydantic_settings"
RUNS_1X = int(os.environ.get("CONVOY_BENCH_CAMPAIGN_RUNS", "5"))


def _worker(var: Path, scale: float, mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVOY_", "PREFECT_"))}
    proc = subprocess.run(
        [PY, "-m", "bench.campaign_worker", str(var), str(scale), mode],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return out
    raise RuntimeError(f"the {scale}x campaign failed:\n{proc.stderr[-3000:]}")


def _best(cmds: list[list[str]], env: dict[str, str], rounds: int = 11) -> list[float]:
    """The best wall time of each command over ``rounds`` rounds, the commands taking turns
    within a round (the machine's load drifts: measured one after another, one command could
    get the quiet minute and the next the busy one)."""
    best = [float("inf")] * len(cmds)
    for _ in range(rounds):
        for i, cmd in enumerate(cmds):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, check=True)
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def run() -> Iterator[Result | dict[str, Any]]:
    """The figures, each given as soon as it is measured (the 10x run takes long)."""
    runs: list[tuple[dict[str, Any], Path]] = []
    try:
        for _ in range(RUNS_1X):
            var = Path(tempfile.mkdtemp(prefix="convoy-bench-campaign-1x-"))
            runs.append((_worker(var, 1, "compare"), var))
        # The run with the median ratio (two cores shared with the Prefect server: one run's
        # two sides can differ by half from the next run's).
        runs.sort(key=lambda r: r[0]["ours_s"] / r[0]["baseline_s"])
        one, var1 = runs[len(runs) // 2]
        ours_1x = statistics.median(r["ours_s"] for r, _ in runs)
        yield (
            ratio(
                "campaign.1x_vs_bare_prefect",
                one["ours_s"],
                one["baseline_s"],
                1.5,
                "bare Prefect: as many flow runs and task runs doing nothing, same server, "
                "same process",
                **{k: v for k, v in one.items() if k not in ("ours_s", "baseline_s")},
                ratios_of_runs=[round(r["ours_s"] / r["baseline_s"], 3) for r, _ in runs],
                ours_s_of_runs=[r["ours_s"] for r, _ in runs],
                baseline_s_of_runs=[r["baseline_s"] for r, _ in runs],
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVOY_", "PREFECT_"))}
        env["CONVOY_VAR_DIR"] = str(var1)
        convoy = str(Path(PY).parent / "convoy")
        # The floor: what any command of this stack pays before its first line, importing the
        # CLI framework and the settings library (not one module of ours).
        ours, base, floor = _best(
            [[convoy, "convoys", "--json"], [PY, "-c", "pass"], [PY, "-c", STACK_FLOOR]], env
        )
        yield ratio(
            "cli.startup_ratio", ours, base, 12, "python -c pass", convoys=one["convoys"],
            stack_floor_s=round(floor, 4), stack_floor_ratio=round(floor / base, 3),
            over_stack_floor=round(ours / floor, 3),
        )  # fmt: skip
        if os.environ.get("CONVOY_BENCH_SKIP_10X") != "1":
            var10 = Path(tempfile.mkdtemp(prefix="convoy-bench-campaign-10x-"))
            try:
                ten = _worker(var10, 10, "ours")
            except RuntimeError as exc:  # recorded as not measured, with why
                why = f"the 10x run failed: {str(exc).strip().splitlines()[-1][:300]}"
                for name in ("campaign.scaling_10x_over_1x", "campaign.peak_mem_10x_mb"):
                    yield {"name": name, "error": why}
                return
            finally:
                shutil.rmtree(var10, ignore_errors=True)
            yield ratio(
                "campaign.scaling_10x_over_1x", ten["ours_s"], ours_1x, 11,
                "the same campaign at scale 1 (median of its runs), fresh process",
                convoys_10x=ten["convoys"],
                passengers_10x=ten["passengers"], not_closed_10x=len(ten["not_closed"]),
            )  # fmt: skip
            yield Result(
                "campaign.peak_mem_10x_mb", ten["peak_rss_mb"], "MB", 1500,
                "peak RSS (ru_maxrss) of the process running the 10x campaign plus its escorts'",
                ten["peak_rss_mb"] <= 1500,
                {"seconds": ten["ours_s"], "escorts_peak_rss_mb": ten.get("escorts_peak_rss_mb")},
            )  # fmt: skip
    finally:
        for _, var in runs:
            shutil.rmtree(var, ignore_errors=True)
