"""The README's promises point at tests that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^`]*\])?`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_the_readme_names_exists() -> None:
    named = TEST_ID.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(named) > 50  # the guarantees are listed with their tests
    missing = [f"{file}::{name}" for file, name in named if name not in _functions(ROOT / file)]
    assert missing == []
