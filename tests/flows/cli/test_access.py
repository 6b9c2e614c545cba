"""`convoy users …` through the real `convoy` app, acting as named local operators."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from config import Settings, reset_settings
from flows.cli.main import app

runner = CliRunner()


@pytest.fixture
def as_operator(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def switch(name: str) -> None:
        monkeypatch.setenv("CONVOY_OPERATOR", name)
        reset_settings()

    return switch


def convoy(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_users_add_list_token_revoke(as_operator) -> None:  # type: ignore[no-untyped-def]
    as_operator("root")
    code, out = convoy("users", "add", "wang", "--role", "coordinator")
    assert code == 1 and "add an admin first" in out
    assert convoy("users", "add", "root", "--role", "admin")[0] == 0
    assert convoy("users", "add", "wang", "--role", "coordinator")[0] == 0
    code, out = convoy("users", "token", "wang", "--days", "5", "--json")
    assert code == 0, out
    issued = json.loads(out)
    assert issued["token"].startswith("cvo_")
    code, out = convoy("users", "list", "--json")
    users = {u["name"]: u for u in json.loads(out)}
    assert users["wang"]["role"] == "coordinator"
    assert [t["id"] for t in users["wang"]["tokens"]] == [issued["id"]]
    assert issued["token"] not in out  # listings never show a token
    as_operator("wang")  # a coordinator may not change users, nor see them
    code, out = convoy("users", "add", "li", "--role", "manager")
    assert code == 1 and "operator wang (coordinator) may not add or revoke users" in out
    assert convoy("users", "list")[0] == 1
    as_operator("nobody")
    code, out = convoy("users", "list")
    assert code == 1 and "'nobody' is not a Convoy Ops user" in out
    as_operator("root")
    code, out = convoy("users", "revoke", "wang", "--token", "99")
    assert code == 1 and "no token #99" in out
    assert convoy("users", "revoke", "wang", "--token", str(issued["id"]))[0] == 0
    assert convoy("users", "revoke", "wang")[0] == 0
    users = {u["name"]: u for u in json.loads(convoy("users", "list", "--json")[1])}
    assert users["wang"]["active"] is False and users["wang"]["tokens"] == []
    as_operator("wang")
    code, out = convoy("users", "list")
    assert code == 1 and "revoked user" in out


def test_roles_prints_the_matrix(settings: Settings) -> None:
    _, out = convoy("users", "roles", "--json")
    matrix = json.loads(out)
    assert "user.write" in matrix["admin"] and "user.write" not in matrix["coordinator"]
