"""The README's and tests/README.md's promises point at tests that exist, and links resolve."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^`]*\])?`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_every_test_the_readmes_name_exists() -> None:
    text = "".join((ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "tests/README.md"))
    named = TEST_ID.findall(text)
    assert len(named) > 100  # the guarantees are listed with their tests
    missing = [f"{file}::{name}" for file, name in named if name not in _functions(ROOT / file)]
    assert missing == []


def test_the_guarantees_live_in_tests_readme_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(tests/README.md)" in readme
    assert len(TEST_ID.findall((ROOT / "tests" / "README.md").read_text(encoding="utf-8"))) > 100


def test_the_readmes_links_to_their_own_sections_resolve() -> None:
    for name, prefix in (("README.md", "#"), ("tests/README.md", "../README.md#")):
        text = (ROOT / name).read_text(encoding="utf-8")
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        target = readme if prefix != "#" else text
        anchors = {_anchor(h) for h in re.findall(r"(?m)^#+ (.*)$", target)}
        links = re.findall(r"\]\(" + re.escape(prefix) + r"([^)]+)\)", text)
        assert [link for link in links if link not in anchors] == [], name
