"""Process set-up: Prefect's defaults, and garbage collection for a long batch."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.service.runtime import BATCH_THRESHOLDS, batch_collection


def test_a_batch_collects_less_often_and_everything_comes_back_after() -> None:
    before = gc.get_threshold()
    with batch_collection():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what was loaded is left out of every collection
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_thresholds_come_back_when_the_batch_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), batch_collection():
        raise RuntimeError("the batch failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_in_a_batch_are_still_collected_without_asking() -> None:
    """Collection stays automatic in a batch (only less frequent): cycles made in a batch go
    without anybody calling ``gc.collect``."""
    import weakref

    class Node:
        pass

    runs: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            runs.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with batch_collection():
            a, b = Node(), Node()
            a.other, b.other = b, a  # type: ignore[attr-defined]
            gone = weakref.ref(a)
            del a, b
            # Enough new containers to pass the young generation's threshold a few times.
            junk = [[i] for i in range(BATCH_THRESHOLDS[0] * 3)]
            del junk
            assert runs, "no collection ran by itself"
            assert gone() is None
    finally:
        gc.callbacks.remove(count)


SERVER_SETTINGS = """
import flows  # sets Prefect's defaults before Prefect is imported
from prefect.settings import get_current_settings
r = get_current_settings().server.services.task_run_recorder
print(r.batch_size, r.read_batch_size, r.flush_interval)
"""


@pytest.mark.parametrize(
    ("given", "seen"),
    [
        ({}, "200 200 1.0"),
        ({"PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "7"}, "7 200 1.0"),
    ],
)
def test_the_prefect_server_records_task_runs_in_batches_unless_the_user_says_otherwise(
    given: dict[str, str], seen: str, tmp_path: Path
) -> None:
    """The servers our processes start (temporary or ``convoy serve``'s) inherit these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_SERVICES")}
    env.update(given, CONVOY_VAR_DIR=str(tmp_path), PREFECT_HOME=str(tmp_path / "prefect"))
    out = subprocess.run(
        [sys.executable, "-c", SERVER_SETTINGS], env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.split("\n")[-2] == seen
