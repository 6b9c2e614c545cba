"""Geography benchmarks.

* ``geo.gazetteer_load``: building the offline gazetteer from the embedded CSV files
  (``config/data/gazetteer.csv``, 3,261 divisions, and ``places.csv``, 42 stations and
  airports), uncached: ``models.geo.gazetteer`` reads both with ``csv.DictReader``, makes a
  ``Place`` of every row, checks that each curated place lies in a known division and indexes
  every name, short name, alias and adcode for lookup. The baseline reads the same two files
  with ``csv.reader`` into lists of rows (no objects, no checks, no index). Best of 5 each, in
  the same run. Target ratio 20: the gazetteer is loaded once per process, and a load of
  about 0.1 s is acceptable where ``csv.reader`` takes 5–10 ms.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.common import Result, best_of, ratio


def _read_rows(paths: tuple[Path, ...]) -> int:
    rows = 0
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            rows += len(list(csv.reader(fh)))
    return rows


def run() -> list[Result]:
    from config.settings import DATA_DIR
    from models.geo import gazetteer

    files = (DATA_DIR / "gazetteer.csv", DATA_DIR / "places.csv")
    build = gazetteer._load.__wrapped__  # the loader without its per-process cache

    def ours() -> None:
        build(str(files[0]), str(files[1]))

    def base() -> None:
        _read_rows(files)

    ours()  # warm the file cache and the imports for both sides
    base()
    ours_s = best_of(ours, 5)
    base_s = best_of(base, 5)
    return [
        ratio(
            "geo.gazetteer_load",
            ours_s,
            base_s,
            20,
            "csv.reader over the same two files into lists of rows (no objects, no index)",
            rows=_read_rows(files) - len(files),  # without the header lines
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r.as_dict())
