"""Strict, bounded YAML: what ``--spec`` documents (YAML or JSON) are read with.

PyYAML keeps the last of two equal keys silently, and it does not expand aliases while
loading: a "billion laughs" document is a few hundred bytes and a small object graph,
which blows up only when it is later serialised or walked (4.7 GB for one of them). So
:func:`loads` composes the node graph first (with libyaml's C parser when PyYAML has it:
5x faster on the 800 KB KMS document) and checks it before a single Python object is
built: the size with every alias expanded (memoised, so counting costs one visit per
distinct node), the depth, recursive aliases (cycle detection), duplicate mapping keys,
and non-finite numbers (``.inf``, ``.nan``, ``1.0e+400``: no JSON has them). A document
without aliases — ours — pays for one walk over its nodes, a few per cent of composing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable
from itertools import chain
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..config import MAX_SPEC_DEPTH, MAX_SPEC_NODES

__all__ = ["C_LOADER", "StrictYAMLError", "loads"]

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Whether libyaml's parser is used (it refuses surrogate escapes itself).
C_LOADER: Final = _SAFE_LOADER is not yaml.SafeLoader
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class StrictYAMLError(ValueError):
    """A document refused by a rule; the message names the rule and the line and column."""


def _at(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


def loads(text: str, *, max_nodes: int = MAX_SPEC_NODES, max_depth: int = MAX_SPEC_DEPTH) -> Any:
    """Parse one YAML (or JSON) document strictly; raise :class:`StrictYAMLError` or ``yaml.YAMLError``."""
    loader = _SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node, loader, max_nodes=max_nodes, max_depth=max_depth)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check(root: Node, constructor: Any, *, max_nodes: int, max_depth: int) -> None:
    """Refuse the graph before construction: size and depth with aliases expanded, cycles, keys."""
    if isinstance(root, ScalarNode):
        _check_scalar(root, constructor)
    elif not _check_tree(root, constructor, max_nodes=max_nodes, max_depth=max_depth):
        _check_graph(root, constructor, max_nodes=max_nodes, max_depth=max_depth)


def _too_many(node: Node, max_nodes: int) -> StrictYAMLError:
    return StrictYAMLError(
        f"the document expands to more than {max_nodes:,} nodes with its aliases expanded (at "
        f"{_at(node)}; the limit for an OpenAPI document: a 'billion laughs' document is small "
        "on disk and huge when expanded)"
    )


def _too_deep(node: Node, max_depth: int) -> StrictYAMLError:
    return StrictYAMLError(f"nested more than {max_depth} levels deep at {_at(node)} (aliases expanded)")


def _check_tree(root: Node, constructor: Any, *, max_nodes: int, max_depth: int) -> bool:
    """The fast path, one visit per node; False as soon as a collection is reached twice (an alias)."""
    seen = {id(root)}
    count = 1
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        value = node.value
        children: Iterable[Node]
        if isinstance(node, MappingNode):
            _check_keys(node, constructor)
            children, size = chain.from_iterable(value), 2 * len(value)
        else:
            children, size = value, len(value)
        if not size:
            continue
        count += size
        if count > max_nodes:
            raise _too_many(node, max_nodes)
        if depth >= max_depth:
            raise _too_deep(node, max_depth)
        for child in children:
            if isinstance(child, ScalarNode):
                if child.tag == _FLOAT_TAG or not C_LOADER:
                    _check_scalar(child, constructor)
            elif id(child) in seen:
                return False
            else:
                seen.add(id(child))
                stack.append((child, depth + 1))
    return True


def _check_graph(root: Node, constructor: Any, *, max_nodes: int, max_depth: int) -> None:
    """With aliases: expanded size and height memoised per distinct node, cycles refused."""
    size: dict[int, int] = {}  # id(node) -> nodes with every alias expanded
    height: dict[int, int] = {}
    active: set[int] = set()  # the nodes on the path from the root: an alias to one is a cycle
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            total, tallest = 1, 0
            for child in _children(node):
                if isinstance(child, ScalarNode):
                    total, tallest = total + 1, max(tallest, 1)
                else:
                    total, tallest = total + size[id(child)], max(tallest, height[id(child)])
            if total > max_nodes:
                raise _too_many(node, max_nodes)
            if tallest + 1 > max_depth:
                raise _too_deep(node, max_depth)
            size[key], height[key] = total, tallest + 1
            active.discard(key)
            continue
        if key in size:
            continue
        active.add(key)
        stack.append((node, True))
        if isinstance(node, MappingNode):
            _check_keys(node, constructor)
        for child in _children(node):
            if isinstance(child, ScalarNode):
                _check_scalar(child, constructor)
            elif id(child) in active:
                raise StrictYAMLError(
                    f"recursive alias: the node at {_at(child)} contains an alias to itself, so it "
                    "cannot be expanded (or written as JSON)"
                )
            elif id(child) not in size:
                stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_scalar(node: ScalarNode, constructor: Any) -> None:
    if node.tag == _FLOAT_TAG and not math.isfinite(constructor.construct_yaml_float(node)):
        raise StrictYAMLError(
            f"the number {node.value!r} at {_at(node)} is not finite (JSON has no NaN or infinity)"
        )
    if not C_LOADER and _SURROGATE.search(node.value):  # libyaml refuses these escapes itself
        raise StrictYAMLError(
            f"lone surrogate at {_at(node)} (a surrogate escape without its pair is not a Unicode character)"
        )


def _check_keys(node: MappingNode, constructor: Any) -> None:
    """Two keys that PyYAML would build into one dict key (it keeps the last one silently)."""
    pairs = node.value
    if len(pairs) < 2:
        return
    names = {key.value for key, _ in pairs if key.tag == _STR_TAG and isinstance(key, ScalarNode)}
    if len(names) == len(pairs):
        return  # the usual case: distinct string keys
    seen: set[Any] = set()
    for key_node, _ in pairs:
        if not isinstance(key_node, ScalarNode):
            continue  # a sequence or mapping as a key: the constructor refuses it (unhashable)
        if key_node.tag == _STR_TAG:
            key = key_node.value
        elif key_node.tag == _MERGE_TAG:
            key = (_MERGE_TAG,)  # '<<' twice is a repeated key too
        else:
            key = constructor.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue
        if key in seen:
            raise StrictYAMLError(
                f"duplicate key {key_node.value!r} at {_at(key_node)}: each key may appear only "
                "once in a mapping (YAML readers disagree on which value wins)"
            )
        seen.add(key)
