"""Run the benchmarks and merge their figures into bench/results.json (`make bench`).

``python -m bench`` runs every ``bench/bench_*.py``; ``python -m bench campaign monitor`` runs
only those files (``bench_`` may be left out). Figures are merged by name: a partial run
replaces the figures it measured and keeps every other one, each with the machine and the
time it was measured on. One table of this run's figures is printed at the end, and the
README's benchmark table (between its ``bench:begin``/``bench:end`` markers) is rewritten from
the merged file.

Before the first benchmark, the project's modules are compiled to bytecode, as an installed
package's are (``make install`` compiles them too): an editable install leaves that to each
run, and where PYTHONDONTWRITEBYTECODE is set every process a benchmark starts would compile
them again (about 20 ms of ``convoy convoys``).
"""

from __future__ import annotations

import compileall
import importlib
import json
import platform
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {platform.python_version()}"


def load(path: Path | None = None) -> dict[str, Any]:
    path = path or RESULTS
    if not path.exists():
        return {"machine": machine(), "when": "", "results": []}
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for r in doc.get("results", []):  # figures from before per-figure stamps: the file's
        r.setdefault("machine", doc.get("machine", ""))
        r.setdefault("when", doc.get("when", ""))
    return doc


def merge(doc: dict[str, Any], new: list[dict[str, Any]]) -> dict[str, Any]:
    """``doc`` with ``new`` figures replacing those of the same name (others kept, order kept,
    new names appended)."""
    by_name = {r["name"]: r for r in new}
    merged = [by_name.pop(r["name"], r) for r in doc.get("results", [])]
    merged += list(by_name.values())
    return {"machine": machine(), "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "results": merged}  # fmt: skip


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'name':34} {'value':>10} {'unit':6} {'target':>8}  status"]
    for r in results:
        if "error" in r:
            lines.append(f"{r['name']:34} {'error':>10}")
            continue
        flag = "ok" if r["ok"] else "OVER TARGET"
        lines.append(f"{r['name']:34} {r['value']:>10} {r['unit']:6} {r['target']:>8}  {flag}")
    return "\n".join(lines)


def readme_table(doc: dict[str, Any]) -> str:
    rows = [
        "| name | latest | target | measured on | baseline |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for r in doc["results"]:
        if "error" in r:
            if r["name"].startswith("bench_"):
                continue
            when = str(r.get("when", ""))[:10]
            rows.append(f"| `{r['name']}` | not measured | | {r.get('machine', '')}, {when} | "
                        f"{str(r['error']).splitlines()[0]} |")  # fmt: skip
            continue
        value = f"{r['value']} {'×' if r['unit'] == 'ratio' else r['unit']}"
        flag = "" if r["ok"] else " (over)"
        when = str(r.get("when", ""))[:10]
        rows.append(f"| `{r['name']}` | {value}{flag} | ≤ {r['target']} | "
                    f"{r.get('machine', '')}, {when} | {r['baseline']} |")  # fmt: skip
    return "\n".join(rows)


def update_readme(doc: dict[str, Any], path: Path | None = None) -> bool:
    path = path or README
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{readme_table(doc)}\n{END}{tail}", encoding="utf-8")
    return True


def run(names: list[str], save: Any = None) -> list[dict[str, Any]]:
    only = {n if n.startswith("bench_") else f"bench_{n}" for n in names}
    files = sorted(HERE.glob("bench_*.py"))
    unknown = only - {p.stem for p in files}
    if unknown:
        raise SystemExit(f"No benchmark file {', '.join(sorted(unknown))} in {HERE}.")
    for package in ("config", "models", "maps", "flows"):
        compileall.compile_dir(HERE.parent / package, quiet=1)
    stamp = {"machine": machine()}
    results: list[dict[str, Any]] = []
    for path in files:
        if only and path.stem not in only:
            continue
        print(f"== {path.stem}", flush=True)
        try:
            module = importlib.import_module(f"bench.{path.stem}")
            for r in module.run():
                d = {
                    **r.as_dict(),
                    **stamp,
                    "when": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                results.append(d)
                if save is not None:  # merged at once: a run cut short keeps what it measured
                    save(results)
                if "error" in d:
                    print(f"{d['name']:34} not measured: {d['error']}", flush=True)
                    continue
                flag = "ok" if d["ok"] else "OVER TARGET"
                print(f"{d['name']:34} {d['value']:>10} {d['unit']:6} target {d['target']}"
                      f"  ({d['baseline']})  {flag}", flush=True)  # fmt: skip
        except Exception:  # a benchmark never fails the run; the error is recorded
            traceback.print_exc()
            results.append({"name": path.stem, "error": traceback.format_exc(limit=3), **stamp})
    return results


def main(argv: list[str]) -> int:
    before = load()
    ran = {f"bench_{n.removeprefix('bench_')}" for n in argv} or {
        p.stem for p in HERE.glob("bench_*.py")
    }
    # An error recorded earlier for a file that ran again is replaced by what it gives now.
    before["results"] = [r for r in before["results"] if not ("error" in r and r["name"] in ran)]

    def save(results: list[dict[str, Any]]) -> dict[str, Any]:
        doc = merge(before, results)
        RESULTS.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return doc

    results = run(argv, save)
    doc = save(results)
    print()
    print(table(results))
    print(f"merged {len(results)} figure(s) into {RESULTS}")
    if update_readme(doc):
        print(f"updated the benchmark table of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
