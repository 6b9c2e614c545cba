"""What every `convoy` command checks before it runs: the settings and the rule file. A typo is
one line naming it and exit code 1, never a traceback (the README's example, run as written)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from config import Settings
from tests.conftest import child_env


def _convoy(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli.main", *args],
        capture_output=True, text=True, timeout=120, env=child_env(settings, **env),
    )  # fmt: skip


def test_a_typo_in_the_rule_file_stops_every_command_with_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("[screening]\nfevr_celsius = 38\n", encoding="utf-8")
    done = _convoy(settings, "status", CONVOY_RULES_FILE=str(typo))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: In the rule file {typo}, screening.fevr_celsius is not a known rule (a typo?)."
    )
    assert "Traceback" not in done.stderr + done.stdout


def test_a_partial_rule_file_is_enough(settings: Settings, tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[delay.bus]\nlate_arrival_min = 90\n", encoding="utf-8")
    done = _convoy(settings, "convoys", CONVOY_RULES_FILE=str(mine))
    assert done.returncode == 0, done.stderr


def test_a_wrong_setting_names_its_variable(settings: Settings) -> None:
    done = _convoy(settings, "convoys", CONVOY_HTTP_PORT="abc")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: The setting http_port (CONVOY_HTTP_PORT) is wrong")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_file_that_is_no_database_is_one_line(settings: Settings, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 400)
    for command in (["convoys", "--json"], ["status", "BUS-1"]):
        done = _convoy(settings, *command, CONVOY_DATABASE_URL=f"sqlite:///{junk}")
        assert done.returncode == 1
        assert done.stderr.strip() == (
            f"Error: The database sqlite:///{junk} cannot be used: file is not a database"
        )
