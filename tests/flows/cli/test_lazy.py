"""The `convoy` command imports only the module of the command it runs; the table saying which
module adds which command must match what the modules add."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from config import Settings
from flows.cli.main import COMMANDS_OF, OWN_COMMANDS, app, modules_for
from tests.conftest import child_env


def test_every_module_adds_exactly_the_commands_the_table_says() -> None:
    for module, names in COMMANDS_OF.items():
        sub = typer.Typer()
        importlib.import_module(module).register(sub)
        added = [c.name or c.callback.__name__ for c in sub.registered_commands if c.callback]
        added += [g.name for g in sub.registered_groups if g.name]
        assert sorted(added) == sorted(names), module
    # Imported here (not as `convoy`), the app has them all.
    every = {n for names in COMMANDS_OF.values() for n in names}
    groups = {g.name for g in app.registered_groups}
    commands = {
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    }
    assert every <= groups | commands
    assert not OWN_COMMANDS & every


def test_modules_for_a_command_line() -> None:
    everything = list(COMMANDS_OF)
    assert modules_for(["/x/.venv/bin/convoy", "convoys", "--json"]) == []
    assert modules_for(["/x/.venv/bin/convoy", "permit", "stats"]) == ["flows.cli.permits"]
    assert modules_for(["/x/.venv/bin/convoy", "--help"]) == everything
    assert modules_for(["/x/.venv/bin/convoy", "nonsense"]) == everything
    assert modules_for(["pytest", "convoys"]) == everything


def test_listing_convoys_loads_neither_the_orm_nor_rich(
    settings: Settings, make_convoy: Callable[..., str]
) -> None:
    """`convoy convoys --json` (what scripts run) reads through the database driver: no
    SQLAlchemy, SQLModel, rich or Prefect is imported (``-X importtime`` lists what is)."""
    code = make_convoy("BUS-L1")
    convoy = Path(sys.executable).parent / "convoy"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(convoy), "convoys", "--json"],
        capture_output=True, text=True, timeout=120, env=child_env(settings),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert [s["code"] for s in json.loads(done.stdout)] == [code]
    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "models.views.summaries" in loaded
    heavy = {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "sqlmodel", "rich", "prefect")}
    assert not heavy
