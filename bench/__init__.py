"""Benchmarks. `make bench` runs every `bench/bench_*.py` module and writes bench/results.json.

Each module defines ``run() -> list[Result]``; a figure is always a ratio (or size) of this
project's time against a baseline measured in the same run on the same data (docs/architecture.md,
"Benchmarks").
"""
