"""The demo campaign run to the end without Prefect, for tests of the maps a manager sees.

The same steps as ``convoy demo``: :func:`flows.sim.demo.build_demo`, the simulated escorts
reporting beside each convoy, and every step performed with
:func:`models.convoy.operations.advance` (what the convoy flow's tasks call), in order.
"""

from __future__ import annotations

import time

from flows.sim.demo import CAMPAIGN, build_demo
from flows.sim.escorts import simulated_escorts
from models.convoy.lifecycle import STAGES
from models.convoy.operations import advance
from models.db import session_scope

__all__ = ["CAMPAIGN", "run_demo"]


def run_demo(deadline_s: float = 300.0) -> list[str]:
    """Build the demo campaign and take every convoy to ``closed``; returns the codes."""
    with session_scope() as s:
        codes = build_demo(s)
    give_up = time.monotonic() + deadline_s
    with simulated_escorts(codes):
        for code in codes:
            for stage in STAGES[1:]:
                while True:
                    with session_scope() as s:
                        result = advance(s, code, stage)
                    if result.status != "waiting":
                        break
                    if time.monotonic() > give_up:
                        raise RuntimeError(f"The demo convoy {code} never got past {stage}.")
                    time.sleep(0.02)
    return codes
