"""The shape of the code: a generic core, the KMS support only in its plugin, no import cycle."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "http_task_kms"
ROOT = PACKAGE.parent


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports — at module level, under TYPE_CHECKING, or inside a function."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)  # `from . import x`


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {t for t in _imports(path) if t in modules and t != name} for name, path in modules.items()}


def _core() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "kms" not in p.relative_to(PACKAGE).parts]


def test_the_core_imports_nothing_of_the_kms_plugin() -> None:
    offenders = {
        _module(p): sorted(t for t in _imports(p) if t.startswith("http_task_kms.kms")) for p in _core()
    }
    assert {m: found for m, found in offenders.items() if found} == {}


def test_the_core_names_no_kms_operation() -> None:
    from http_task_kms.kms.templates import own_templates

    # single-word operations (Sign, Encrypt …) are ordinary words; the others name KMS
    operations = {t.operation for t in own_templates().values() if len(re.findall("[A-Z]", t.operation)) >= 2}
    assert {"PutKeyPolicy", "GetKeyPolicy", "CreateKey"} <= operations
    pattern = re.compile(r"\b(TrentService|" + "|".join(sorted(operations)) + r")\b")
    found = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in _core()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a path that comes back to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_there_is_no_import_cycle_not_even_a_lazy_or_type_only_one() -> None:
    graph = _graph()
    # a package's __init__ is imported with each of its modules: an import of a submodule
    # is not an import of the package's face
    for name in graph:
        graph[name] = {t for t in graph[name] if not (graph.get(t) is not None and name.startswith(t + "."))}
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
