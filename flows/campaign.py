"""A campaign run: every convoy's flow, one after another, under one parent flow run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import flow

from flows.convoy import convoy_flow


@flow(name="campaign", flow_run_name="campaign-{name}")
def campaign_flow(
    name: str,
    codes: Sequence[str],
    poll_seconds: float | None = None,
    max_wait_seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Run each convoy's flow to the end (each one is its own flow run)."""
    return [convoy_flow(code, poll_seconds, max_wait_seconds) for code in codes]
