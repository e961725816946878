"""What a member's JSON Schema says, in words: its type, valid values, default and limits.

Used by the reference page (:mod:`http_task_kms.reference`). Schemas are the templates' JSON
Schemas (``$ref`` into ``$defs``; a member may be ``allOf: [{$ref}, {description}]``); a
schema may come from an untrusted document, so following references is bounded and a
keyword of the wrong type is shown as text, never trusted to be a number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .markdown import code, text

__all__ = ["facts", "members", "resolve", "type_name"]

_DEFS = "#/$defs/"
_MAX_FOLLOWS = 32  # references followed to resolve one schema


def _follow(
    schema: Any, defs: Mapping[str, Any], budget: list[int], path: frozenset[str]
) -> tuple[dict[str, Any], str | None]:
    """``schema`` with its ``allOf`` parts and ``$ref`` targets merged in, and the last def named."""
    merged: dict[str, Any] = {}
    name: str | None = None
    if not isinstance(schema, Mapping):
        return merged, name
    allof = schema.get("allOf")
    parts = [*(allof if isinstance(allof, list) else []), {k: v for k, v in schema.items() if k != "allOf"}]
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        ref = part.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS) and ref[len(_DEFS) :] not in path and budget[0] > 0:
            budget[0] -= 1
            target = ref[len(_DEFS) :]
            inner, inner_name = _follow(defs.get(target), defs, budget, path | {target})
            merged.update(inner)
            name = inner_name or target
        merged.update({k: v for k, v in part.items() if k != "$ref"})
    return merged, name


def resolve(schema: Any, defs: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as one flat schema: references and ``allOf`` merged (the member's own keywords win)."""
    return _follow(schema, defs, [_MAX_FOLLOWS], frozenset())[0]


def members(schema: Any, defs: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None, str] | None:
    """The object whose members a member holds — itself, its items (``[]``) or its map values (``.*``).

    Returns (that object's schema, its def name or None when inline, the name suffix), or None.
    """
    resolved, name = _follow(schema, defs, [_MAX_FOLLOWS], frozenset())
    suffix = ""
    if resolved.get("type") == "array":
        resolved, name = _follow(resolved.get("items"), defs, [_MAX_FOLLOWS], frozenset())
        suffix = "[]"
    elif _is_map(resolved):
        resolved, name = _follow(resolved["additionalProperties"], defs, [_MAX_FOLLOWS], frozenset())
        suffix = ".*"
    properties = resolved.get("properties")
    return (resolved, name, suffix) if isinstance(properties, Mapping) and properties else None


def _is_map(schema: Mapping[str, Any]) -> bool:
    return (
        schema.get("type") == "object"
        and not schema.get("properties")
        and isinstance(schema.get("additionalProperties"), Mapping)
    )


def _type(schema: Any, defs: Mapping[str, Any], depth: int) -> str:
    resolved = resolve(schema, defs)
    kind = resolved.get("type")
    if depth > 4:
        return "…"
    if kind == "array":
        return "Array of " + _type(resolved.get("items"), defs, depth + 1)
    if _is_map(resolved):
        return "Map of " + _type(resolved["additionalProperties"], defs, depth + 1)
    if isinstance(kind, list):
        return " or ".join(str(k)[:1].upper() + str(k)[1:] for k in kind)
    if not isinstance(kind, str) or not kind:
        return "Any"
    name = kind[:1].upper() + kind[1:]
    fmt = resolved.get("format")
    if resolved.get("contentEncoding") == "base64":
        return f"{name} (base64)"
    if fmt == "unix-timestamp":
        return f"{name} (Unix time)"
    return f"{name} ({fmt})" if isinstance(fmt, str) and fmt else name


def type_name(schema: Any, defs: Mapping[str, Any]) -> str:
    """The member's type as the reference page shows it: ``String``, ``Array of String``, …"""
    return text(_type(schema, defs, 0))


def _number(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    return text(str(value))


def _range(low: Any, high: Any, unit: str) -> str | None:
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)} {unit}"
    if low is not None:
        return f"at least {_number(low)} {unit}"
    return f"at most {_number(high)} {unit}" if high is not None else None


def _json(value: Any) -> str:
    return code(json.dumps(value, ensure_ascii=False), in_table=True)


def _size_facts(schema: Mapping[str, Any]) -> list[str]:
    low, high = schema.get("x-minBytes"), schema.get("x-maxBytes")
    if schema.get("contentEncoding") == "base64":
        limits = _range(low, high, "bytes once decoded")
        return [f"Base64-encoded binary data: {limits}." if limits else "Base64-encoded binary data."]
    size = _range(low, high, "bytes (UTF-8)")
    return [f"Size: {size}."] if size else []


def facts(schema: Mapping[str, Any]) -> list[str]:
    """What a resolved schema requires of a value, one Markdown line each."""
    lines: list[str] = []
    if schema.get("deprecated") is True:
        lines.append("Deprecated.")
    if isinstance(schema.get("enum"), list):
        lines.append("Valid values: " + ", ".join(_json(value) for value in schema["enum"]))
    if "default" in schema:
        lines.append(f"Default value: {_json(schema['default'])}")
    length = _range(schema.get("minLength"), schema.get("maxLength"), "characters")
    if length:
        lines.append(f"Length: {length}.")
    lines += _size_facts(schema)
    for key in ("pattern", "x-pattern"):
        if isinstance(schema.get(key), str):
            lines.append(f"Pattern: {code(schema[key], in_table=True)}")
    if schema.get("x-json-document") is True:
        lines.append("Holds a JSON document (as input, a JSON object is accepted too).")
    for low, high, unit, label in (
        ("minItems", "maxItems", "", "Items"),
        ("minProperties", "maxProperties", "", "Entries"),
        ("minimum", "maximum", "", "Range"),
    ):
        limits = _range(schema.get(low), schema.get(high), unit)
        if limits:
            lines.append(f"{label}: {limits.strip()}.")
    return lines
