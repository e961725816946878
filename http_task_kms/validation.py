"""Check a request body against its template's JSON Schema, every problem at once.

The schema is compiled once per template (:class:`BodyValidator`); each call only walks
the body. Messages name the field and the rule, and never echo a long value back.
Keywords checked beyond JSON Schema's assertions: ``contentEncoding: base64`` (the string
must be strict base64: a blob member), and the extensions ``x-minBytes`` / ``x-maxBytes``
(size limits in bytes: of a base64 string's decoded bytes, else of the string's UTF-8
encoding, e.g. KMS's 32 KB key-policy quota, which the service model cannot express).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import Problem
from .schema_fast import compile_schema, decoded_size, string_size

if TYPE_CHECKING:
    from jsonschema import ValidationError

__all__ = ["BodyValidator", "json_type"]


def _size(instance: str, schema: Mapping[str, Any]) -> tuple[int, str] | None:
    """(size, unit) of a string: its base64-decoded bytes or its UTF-8 bytes; None if not base64."""
    size = string_size(instance, schema)
    if size is None:
        return None
    return size, "once base64-decoded" if schema.get("contentEncoding") == "base64" else "(UTF-8)"


def _content_encoding(
    validator: Any, encoding: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    from jsonschema import ValidationError  # noqa: PLC0415 - jsonschema runs this: it is loaded

    if encoding == "base64" and isinstance(instance, str) and decoded_size(instance) is None:
        yield ValidationError(
            "must be base64-encoded (RFC 4648: A-Z, a-z, 0-9, + and /, padded with =, no line breaks)",
            validator="contentEncoding",
            validator_value=encoding,
        )


def _max_bytes(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    from jsonschema import ValidationError  # noqa: PLC0415 - jsonschema runs this: it is loaded

    measured = _size(instance, schema) if isinstance(instance, str) else None
    if measured is not None and measured[0] > limit:
        size, unit = measured
        yield ValidationError(
            f"is {size:,} bytes {unit}; the limit is {limit:,} bytes",
            validator="x-maxBytes",
            validator_value=limit,
        )


def _min_bytes(
    validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    from jsonschema import ValidationError  # noqa: PLC0415 - jsonschema runs this: it is loaded

    measured = _size(instance, schema) if isinstance(instance, str) else None
    if measured is not None and measured[0] < limit:
        size, unit = measured
        noun = "byte is" if limit == 1 else "bytes are"
        yield ValidationError(
            f"is {size:,} bytes {unit}; at least {limit:,} {noun} required",
            validator="x-minBytes",
            validator_value=limit,
        )


@functools.cache
def _validator_class() -> Any:
    """Draft 2020-12 with the keywords above; jsonschema is loaded only to explain a "no"."""
    from jsonschema import Draft202012Validator, validators  # noqa: PLC0415

    return validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator,
        {"contentEncoding": _content_encoding, "x-maxBytes": _max_bytes, "x-minBytes": _min_bytes},
    )


def json_type(value: Any) -> str:
    """The JSON type name of a Python value ('string', 'boolean', …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if isinstance(value, int) else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _field(error: ValidationError) -> str:
    field = ""
    for part in error.absolute_path:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field


def _message(error: ValidationError) -> tuple[str, str]:
    """(field, message) for one schema violation, phrased for a person."""
    field, rule = _field(error), error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        return (f"{field}.{missing}" if field else missing), "is required"
    if rule == "additionalProperties":
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        known = ", ".join(schema.get("properties", {}))
        return field or "body", f"unknown member(s) {', '.join(extra)}; expected one of: {known}"
    if rule == "type":
        wanted = " or ".join(value) if isinstance(value, list) else value
        got = json_type(instance)
        hint = " (write true or false without quotes)" if wanted == "boolean" and got == "string" else ""
        return field, f"must be of type {wanted}, got {got}{hint}"
    messages = {
        "minLength": lambda: f"must be at least {value} characters long (is {len(instance)})",
        "maxLength": lambda: f"must be at most {value:,} characters long (is {len(instance):,})",
        "pattern": lambda: f"must match the pattern {value}",
        "enum": lambda: "must be one of: " + ", ".join(json.dumps(v) for v in value),
        "minimum": lambda: f"must be at least {value} (is {instance})",
        "maximum": lambda: f"must be at most {value} (is {instance})",
        "minItems": lambda: f"must have at least {value} item(s) (has {len(instance)})",
        "maxItems": lambda: f"must have at most {value} item(s) (has {len(instance)})",
        "minProperties": lambda: f"must have at least {value} entries (has {len(instance)})",
        "maxProperties": lambda: f"must have at most {value} entries (has {len(instance)})",
        "x-maxBytes": lambda: error.message,
        "x-minBytes": lambda: error.message,
        "contentEncoding": lambda: error.message,
    }
    make = messages.get(str(rule))
    return field, make() if make else error.message[:200]


class BodyValidator:
    """A request-body schema compiled once; :meth:`problems` checks one body.

    The compiled yes/no test (:mod:`.schema_fast`) answers first; jsonschema, made when first
    needed, explains a "no" (or answers alone for a schema the compiled test does not cover).
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._schema = schema
        self._valid = compile_schema(schema)  # the quick yes (None: jsonschema alone)

    @functools.cached_property
    def _validator(self) -> Any:
        return _validator_class()(self._schema)

    def problems(self, body: Any) -> list[Problem]:
        """Every schema violation of ``body``, in document order, without duplicates."""
        if self._valid is not None and self._valid(body):
            return []
        seen: set[tuple[str, str]] = set()
        found: list[Problem] = []
        for error in sorted(self._validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
            if error.validator in {"allOf", "anyOf", "oneOf"} and error.context:
                errors = error.context
            else:
                errors = [error]
            for each in errors:
                key = _message(each)
                if key not in seen:
                    seen.add(key)
                    found.append(Problem(field=key[0] or "body", message=key[1]))
        return found
