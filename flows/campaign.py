"""A campaign run: every convoy of the operation started at once, so one convoy that waits (or is
stuck) holds up no other.

From a deployment (``convoy serve``) each convoy is its own top-level deployment run, started
with ``run_deployment(as_subflow=False, timeout=0)`` and tagged with the campaign: a convoy that
already has a live run is attached to, not doubled. The campaign run ends once all are started;
each convoy run suspends and resumes on its own. Embedded (the demo, tests) the convoys' flows
run side by side in this process (at most ``concurrency`` at a time; with ``simulate_speed``
each beside its simulated escorts) and the campaign run returns their summaries, after
attaching the campaign report as a markdown artifact. Their flow runs are all created at the
start, tagged with the campaign, and each convoy runs its own (``flows.service.runs_ahead``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.convoy import artifact_key, convoy_flow
from flows.service import live
from flows.service.runs_ahead import RunsAhead, run_each
from flows.service.waits import from_deployment, pause_key, run_here


@task(name="start convoy run", task_run_name="start convoy run [{code}]", cache_policy=NO_CACHE)
def start_convoy(code: str, campaign: str) -> dict[str, Any]:
    """The convoy's deployment run: attached if live, else created (never two)."""
    info = live.start_run("convoy", code, {"code": code}, [f"campaign:{pause_key(campaign)}"])
    get_run_logger().info("%s", info.line(f"Convoy {code}"))
    return {"code": code, "flow_run_id": info.flow_run_id, "flow_run": info.name,
            "state": info.state, "attached": info.attached}  # fmt: skip


@task(name="publish campaign report", cache_policy=NO_CACHE, persist_result=False)
def publish_report(name: str) -> str:
    """The campaign's figures as a markdown artifact of the campaign run (counts only)."""
    from models.db import session_scope
    from models.views.report_render import report_markdown
    from models.views.report_sections import campaign_report

    with session_scope() as session:
        markdown = report_markdown(campaign_report(session, name))
    create_markdown_artifact(key=artifact_key(f"campaign-{name}-report"), markdown=markdown)
    return markdown


@flow(name="campaign", flow_run_name="campaign-{name}")
def campaign_flow(
    name: str,
    codes: Sequence[str],
    poll_seconds: float | None = None,
    max_wait_seconds: float | None = None,
    concurrency: int | None = None,
    simulate_speed: float | None = None,
) -> list[dict[str, Any]]:
    """Start every convoy of the campaign at once (each one is its own flow run)."""
    if from_deployment():
        return [start_convoy(code, name) for code in codes]
    if not codes:
        return []

    def parameters(code: str) -> dict[str, Any]:  # a convoy's flow run's, made and run alike
        return {"code": code, "poll_seconds": poll_seconds, "max_wait_seconds": max_wait_seconds}

    # Every convoy's flow run is made first, in order, while the server is quiet (making one is
    # the request a busy Prefect server on SQLite refuses, and its client then sleeps).
    ahead = RunsAhead.create(convoy_flow, codes, parameters, tags=[f"campaign:{pause_key(name)}"])

    def one(code: str) -> dict[str, Any]:
        beside: Any = nullcontext()
        if simulate_speed is not None:
            from flows.sim.escorts import simulated_escorts

            beside = simulated_escorts([code], speed=simulate_speed, campaign=True)
        with beside:  # its run taken once its escorts are ready (else cancelled at close)
            run = ahead.take(code)
            return run_here(convoy_flow, flow_run=run, **parameters(code))[0]

    try:
        results = run_each(one, codes, concurrency or len(codes), name="convoy")
    finally:
        if left := ahead.close():
            get_run_logger().warning(
                "%d convoy flow run(s) never started were set Cancelled: %s.",
                len(left), ", ".join(left),
            )  # fmt: skip
    publish_report(name)
    return results
