"""Places in an OpenAPI document: JSON Pointers for error locations, and a checked mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SpecError

__all__ = ["escape", "mapping", "pointer"]


def escape(part: str) -> str:
    """One JSON Pointer reference token (``~`` and ``/`` escaped)."""
    return part.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str) -> str:
    """The JSON Pointer (as a URI fragment) of ``parts``."""
    return "#/" + "/".join(map(escape, parts))


def mapping(value: Any, location: str, what: str) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else a :class:`SpecError` at ``location``."""
    if not isinstance(value, Mapping):
        raise SpecError(f"{what} must be a mapping", location=location)
    return value
