"""The `convoy` command imports only the module of the command it runs; the table saying which
module adds which command must match what the modules add."""

from __future__ import annotations

import importlib

import typer

from flows.cli.main import COMMANDS_OF, OWN_COMMANDS, app, modules_for


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
