"""The rooms of docs/architecture.md, checked against the code: one-way imports, no
orchestration frameworks below flows/, a one-line docstring per package, only flows at the top
of flows/, a handful of loose modules in models/, and no reference to documents outside."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["config", "models", "maps", "flows"]  # each may import only those to its left
FRAMEWORKS = {"prefect", "typer", "fastapi", "apscheduler", "uvicorn", "starlette"}
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_one_way(layer: str) -> None:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    for path in _modules(layer):
        wrong = _imported_roots(path) & above
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)} (upward)"


@pytest.mark.parametrize("layer", ["config", "models", "maps"])
def test_no_orchestration_below_flows(layer: str) -> None:
    for path in _modules(layer):
        wrong = _imported_roots(path) & FRAMEWORKS
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_every_package_says_what_lives_there_in_one_line() -> None:
    for layer in LAYERS:
        for init in (ROOT / layer).rglob("__init__.py"):
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            assert doc, f"{init.relative_to(ROOT)} has no docstring"
            assert "\n" not in doc.strip(), f"{init.relative_to(ROOT)}: one line, please"


def test_flows_top_level_holds_only_flows() -> None:
    loose = {p.stem for p in (ROOT / "flows").glob("*.py")} - {"__init__"}
    for stem in loose:
        text = (ROOT / "flows" / f"{stem}.py").read_text(encoding="utf-8")
        assert "@flow" in text, f"flows/{stem}.py holds no Prefect flow: give it a room"


def test_models_has_only_a_handful_of_loose_modules() -> None:
    loose = {p.stem for p in (ROOT / "models").glob("*.py")} - {"__init__"}
    assert len(loose) <= 5, sorted(loose)


def test_every_room_in_the_document_exists() -> None:
    rooms = re.findall(r"^\| `([a-z_/.]+)`", DOC, flags=re.M)
    assert len(rooms) >= 15
    for room in rooms:
        assert (ROOT / room).exists(), f"docs/architecture.md names {room}, which is not there"
    for package in (ROOT / "models").iterdir():
        if (package / "__init__.py").is_file():
            assert f"`models/{package.name}/`" in DOC, f"models/{package.name}/ is not described"
    for package in (ROOT / "flows").iterdir():
        if (package / "__init__.py").is_file():
            assert f"`flows/{package.name}/`" in DOC, f"flows/{package.name}/ is not described"


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    outside = re.compile(r"\b(DESIGN|RESEARCH)\.md\b|\.\./shared")
    for path in ROOT.rglob("*"):
        if path.suffix not in {".py", ".md", ".toml", ".yaml", ".txt"} or not path.is_file():
            continue
        if {".venv", "var", ".git", "node_modules"} & set(path.relative_to(ROOT).parts):
            continue
        assert not outside.search(path.read_text(encoding="utf-8", errors="ignore")), path
