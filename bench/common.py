"""Helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Result:
    name: str
    value: float
    unit: str
    target: float
    baseline: str
    ok: bool
    detail: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["detail"] is None:
            d.pop("detail")
        return d


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The best wall time of ``repeat`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def ratio(
    name: str, ours: float, base: float, target: float, baseline: str, **detail: Any
) -> Result:
    """Our time over the baseline's; ok when at most ``target``."""
    value = round(ours / base, 3) if base > 0 else float("inf")
    return Result(name, value, "ratio", target, baseline, value <= target,
                  {"ours_s": round(ours, 4), "baseline_s": round(base, 4), **detail})  # fmt: skip
