"""A body schema compiled to a yes/no test: the quick pass before jsonschema explains a no.

:func:`compile_schema` turns a request-body schema of the shape the templates have (types,
properties, required members, lengths, patterns, string enums, bounds, items, ``$ref`` into
``$defs``, ``allOf``, and :mod:`.validation`'s ``contentEncoding``/``x-minBytes``/``x-maxBytes``)
into a function that answers "valid?" with jsonschema's Draft 2020-12 semantics, without
collecting errors. A schema using anything else compiles to ``None`` (jsonschema alone then).
:class:`~.validation.BodyValidator` asks it first and runs jsonschema only on a no, so every
message still comes from jsonschema; ``tests/test_schema_fast.py`` holds the two to the same
answers on random bodies for every template.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "compile_schema", "decoded_size", "string_size"]

#: Is this value valid?
Check = Callable[[Any], bool]

#: Keywords that assert nothing (jsonschema ignores ``format`` without a format checker, and
#: every keyword it does not know, such as ``x-json-document``).
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "deprecated", "examples", "format"}
)
_ASSERTIONS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "minLength",
        "maxLength",
        "pattern",
        "enum",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "items",
        "$ref",
        "$defs",
        "allOf",
        "contentEncoding",
        "x-minBytes",
        "x-maxBytes",
    }
)


class _Unsupported(Exception):
    """The schema uses a keyword (or a form of one) compiled here not: jsonschema alone decides."""


def _known(keyword: Any) -> bool:
    return isinstance(keyword, str) and (
        keyword in _ASSERTIONS or keyword in _ANNOTATIONS or keyword.startswith("x-")
    )


def decoded_size(text: str) -> int | None:
    """The size of strict base64 ``text`` once decoded (RFC 4648, padded, no line breaks); None if invalid."""
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True))
    except (UnicodeEncodeError, binascii.Error):
        return None


def string_size(text: str, schema: Mapping[str, Any]) -> int | None:
    """What ``x-minBytes``/``x-maxBytes`` measure: a base64 string's decoded bytes (None if it is
    not base64), any other string's UTF-8 bytes."""
    if schema.get("contentEncoding") == "base64":
        return decoded_size(text)
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": _is_number,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def compile_schema(schema: Mapping[str, Any]) -> Check | None:
    """The yes/no test of ``schema`` (a root schema, its ``$defs`` included), or None."""
    try:
        return _Compiler(schema).compile(schema)
    except _Unsupported:
        return None


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self._defs: Mapping[str, Any] = (
            root.get("$defs", {}) if isinstance(root.get("$defs", {}), dict) else {}
        )
        self._refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda _: True
        if schema is False:
            return lambda _: False
        if not isinstance(schema, dict):
            raise _Unsupported
        if any(not _known(k) for k in schema):
            raise _Unsupported
        checks = [check for check in (self._keyword(name, schema) for name in schema) if check is not None]
        if len(checks) == 1:
            return checks[0]

        def every(value: Any) -> bool:
            for each in checks:  # noqa: SIM110 - a loop is faster than all() over a generator, and this is hot
                if not each(value):
                    return False
            return True

        return every

    def _keyword(self, name: str, schema: Mapping[str, Any]) -> Check | None:
        builder = _BUILDERS.get(name)
        if builder is not None:
            return builder(self, schema[name], schema)
        return None  # an annotation, $defs (compiled when referenced), or x-json-document and the like

    # -- keywords whose subschemas need compiling ----------------------------------------------

    def properties(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, dict):
            raise _Unsupported
        members = [(name, self.compile(sub)) for name, sub in value.items()]

        def check(body: Any) -> bool:
            if not isinstance(body, dict):
                return True
            for name, member in members:  # noqa: SIM110 - as above
                if name in body and not member(body[name]):
                    return False
            return True

        return check

    def additional(self, value: Any, schema: Mapping[str, Any]) -> Check:
        known = frozenset(schema.get("properties", {}))
        if "patternProperties" in schema:
            raise _Unsupported
        rest = self.compile(value)

        def check(body: Any) -> bool:
            if not isinstance(body, dict):
                return True
            return all(rest(item) for name, item in body.items() if name not in known)

        return check

    def items(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise _Unsupported
        each = self.compile(value)
        return lambda body: not isinstance(body, list) or all(each(item) for item in body)

    def all_of(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, list):
            raise _Unsupported
        parts = [self.compile(sub) for sub in value]
        return lambda body: all(part(body) for part in parts)

    def ref(self, value: Any, schema: Mapping[str, Any]) -> Check:
        if not isinstance(value, str) or not value.startswith("#/$defs/") or "/" in value[8:]:
            raise _Unsupported
        name = value[8:]
        if name not in self._defs:
            raise _Unsupported
        refs = self._refs
        if name not in refs:
            refs[name] = _never  # a reference back to it while it compiles finds it here
            refs[name] = self.compile(self._defs[name])

        def check(body: Any) -> bool:  # looked up when called: the definition may be recursive
            return refs[name](body)

        return check


def _never(_: Any) -> bool:
    raise AssertionError("a reference used before its definition compiled")


def _type(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(n, str) and n in _TYPES for n in names):
        raise _Unsupported
    tests = [_TYPES[n] for n in names]
    return tests[0] if len(tests) == 1 else (lambda body: any(test(body) for test in tests))


def _required(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list):
        raise _Unsupported
    names = tuple(value)
    return lambda body: not isinstance(body, dict) or all(name in body for name in names)


_Builder = Callable[["_Compiler", Any, Mapping[str, Any]], Check]


def _size(kind: type[str] | type[list[Any]], bound: str) -> _Builder:
    """min/maxLength (``kind`` str) and min/maxItems (``kind`` list): a bound on ``len``."""

    def build(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
        if not _is_integer(value):
            raise _Unsupported
        if bound == "min":
            return lambda body: not isinstance(body, kind) or len(body) >= value
        return lambda body: not isinstance(body, kind) or len(body) <= value

    return build


def _bound(side: str) -> Callable[[_Compiler, Any, Mapping[str, Any]], Check]:
    def build(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
        if not _is_number(value):
            raise _Unsupported
        if side == "min":
            return lambda body: not _is_number(body) or body >= value
        return lambda body: not _is_number(body) or body <= value

    return build


def _pattern(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, str):
        raise _Unsupported
    try:
        search = re.compile(value).search  # jsonschema: re.search, unanchored
    except re.error:
        raise _Unsupported from None
    return lambda body: not isinstance(body, str) or search(body) is not None


def _enum(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Unsupported  # jsonschema's equality for numbers, booleans and containers: its own
    choices = frozenset(value)
    return lambda body: isinstance(body, str) and body in choices


def _encoding(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check | None:
    if value != "base64":
        return None  # an annotation, as for jsonschema
    return lambda body: not isinstance(body, str) or decoded_size(body) is not None


def _bytes(bound: str) -> Callable[[_Compiler, Any, Mapping[str, Any]], Check]:
    def build(_: _Compiler, value: Any, schema: Mapping[str, Any]) -> Check:
        if not _is_number(value):
            raise _Unsupported

        def check(body: Any) -> bool:
            if not isinstance(body, str):
                return True
            size = string_size(body, schema)
            return size is None or (size >= value if bound == "min" else size <= value)

        return check

    return build


_BUILDERS: dict[str, Callable[[_Compiler, Any, Mapping[str, Any]], Check | None]] = {
    "type": _type,
    "properties": _Compiler.properties,
    "required": _required,
    "additionalProperties": _Compiler.additional,
    "minLength": _size(str, "min"),
    "maxLength": _size(str, "max"),
    "pattern": _pattern,
    "enum": _enum,
    "minimum": _bound("min"),
    "maximum": _bound("max"),
    "minItems": _size(list, "min"),
    "maxItems": _size(list, "max"),
    "items": _Compiler.items,
    "$ref": _Compiler.ref,
    "allOf": _Compiler.all_of,
    "contentEncoding": _encoding,
    "x-minBytes": _bytes("min"),
    "x-maxBytes": _bytes("max"),
}
