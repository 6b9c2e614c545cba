"""Every `convoy permit …` command the README shows runs as written, in order, on a new
database (a newcomer's first permit commands must not fail on the day they are run)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import Settings
from flows.cli.main import app
from tests.flows.cli.test_readme import readme_commands

ROOT = Path(__file__).resolve().parents[3]
PERMIT_COMMANDS = [c for c in readme_commands() if c.startswith("convoy permit ")]
runner = CliRunner()


def _run(*args: str) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, f"{' '.join(args)} → exit {out.exit_code}: {out.output}"
    return out.output


def test_the_readme_shows_the_permit_workflow() -> None:
    shown = {" ".join(shlex.split(c)[1:3]) for c in PERMIT_COMMANDS}
    for command in ("apply", "survey", "route", "issue", "deliver", "run", "stats", "import",
                    "extend", "project", "trip"):  # fmt: skip
        assert f"permit {command}" in shown, f"the README shows no `convoy permit {command}`"


def test_every_readme_permit_command_runs_as_written_in_order(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the README's example files are relative to the checkout
    _run("init")
    for line in PERMIT_COMMANDS:
        _run(*shlex.split(line)[1:])
    # What the README promises came true.
    first = json.loads(_run("permit", "show", "TX-20200220-0001", "--json"))
    assert first["events"][-1]["kind"] == "extended" and first["valid_until"] == "2020-06-30"
    fleet = json.loads(_run("permit", "show", "TX-20200220-0002", "--json"))
    assert [p["number"] for p in fleet["passes"]] == [
        f"TX-20200220-0002-{i:03d}" for i in range(1, 6)
    ]
    assert {p["delivered_to"] for p in fleet["passes"]} == {"陈经理"}
    assert {p["trip"] for p in fleet["passes"]} == {"SD-20200220-0001"}
    assert (settings.output_dir / "permits" / "trips" / "SD-20200220-0001.html").exists()
    assert (settings.output_dir / "permits" / "TX-20200220-0001.html").exists()  # the run's map
    again = json.loads(_run("permit", "import", "docs/examples/passes.csv", "--json"))
    assert again["already"] == again["read"] == 3 and again["imported"] == 0
    report = json.loads(_run("report", "--json"))
    assert report["passes_issued"] == 1 + 5 + 3 and report["units_served"] == 4
