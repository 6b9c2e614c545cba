"""Every `convoy …` command the README shows exists, with the options it shows (docs that
cannot drift from the code)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from flows.cli.main import app

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("convoy ")]


COMMANDS = readme_commands()


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_exists_with_its_options(line: str) -> None:
    command = typer.main.get_command(app)
    path = []
    for token in shlex.split(line)[1:]:
        if token in getattr(command, "commands", {}):
            command = command.commands[token]  # type: ignore[attr-defined]
            path.append(token)
        else:
            break
    assert path, f"{line!r} names no convoy command"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    used = {t.split("=")[0] for t in shlex.split(line) if t.startswith("--")}
    assert used <= known, f"{line!r}: unknown option(s) {sorted(used - known)}"
