"""`make bench` merges its figures into bench/results.json by name: a partial run replaces what
it measured and keeps every other figure; the README's table is rewritten from the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.__main__ as runner
from bench.common import Result


def _fig(name: str, value: float, when: str = "t0") -> dict[str, object]:
    return {**Result(name, value, "ratio", 2, "base", value <= 2).as_dict(), "machine": "m",
            "when": when}  # fmt: skip


def test_merge_replaces_by_name_and_keeps_the_rest() -> None:
    doc = {"machine": "old", "when": "t0",
           "results": [_fig("a.x", 1), _fig("b.y", 3), _fig("c.z", 1.5)]}  # fmt: skip
    merged = runner.merge(doc, [_fig("b.y", 1.2, "t1"), _fig("d.new", 0.5, "t1")])
    assert [r["name"] for r in merged["results"]] == ["a.x", "b.y", "c.z", "d.new"]
    by = {r["name"]: r for r in merged["results"]}
    assert by["b.y"]["value"] == 1.2 and by["b.y"]["when"] == "t1"
    assert by["a.x"]["when"] == "t0"


def test_a_partial_run_keeps_every_other_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"machine": "m", "when": "t0",
                                   "results": [_fig("a.x", 1), _fig("b.y", 3)]}))  # fmt: skip
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{runner.BEGIN}\nold\n{runner.END}\n\nafter\n")
    monkeypatch.setattr(runner, "RESULTS", results)
    monkeypatch.setattr(runner, "README", readme)
    monkeypatch.setattr(runner, "run", lambda names, save=None: [_fig("b.y", 1.5, "t1")])
    assert runner.main(["monitor"]) == 0
    doc = json.loads(results.read_text())
    assert {r["name"]: r["value"] for r in doc["results"]} == {"a.x": 1, "b.y": 1.5}
    text = readme.read_text()
    assert "| `a.x` | 1 × |" in text and "| `b.y` | 1.5 × |" in text
    assert "old" not in text and text.endswith("\n\nafter\n")


def test_an_unknown_benchmark_file_is_one_line() -> None:
    with pytest.raises(SystemExit, match="No benchmark file bench_nothing"):
        runner.run(["nothing"])
