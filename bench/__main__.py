"""Run every benchmark module and write bench/results.json (`make bench`)."""

from __future__ import annotations

import importlib
import json
import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    only = set(argv)
    results = []
    for path in sorted(HERE.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        module = importlib.import_module(f"bench.{path.stem}")
        print(f"== {path.stem}", flush=True)
        try:
            for r in module.run():
                d = r.as_dict()
                results.append(d)
                flag = "ok" if d["ok"] else "OVER TARGET"
                print(f"{d['name']:32} {d['value']:>10} {d['unit']:6} target {d['target']}"
                      f"  ({d['baseline']})  {flag}", flush=True)  # fmt: skip
        except Exception:  # a benchmark never fails the run; the error is recorded
            traceback.print_exc()
            results.append({"name": path.stem, "error": traceback.format_exc(limit=3)})
    doc = {
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    (HERE / "results.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {HERE / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
