"""Process set-up: garbage collection for a long batch."""

from __future__ import annotations

import gc

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


def test_cycles_made_in_a_batch_are_still_collected() -> None:
    import weakref

    class Node:
        pass

    with batch_collection():
        a, b = Node(), Node()
        a.other, b.other = b, a  # type: ignore[attr-defined]
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
