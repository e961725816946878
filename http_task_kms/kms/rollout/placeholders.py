"""The rollout's policy: ``${$.keyId}``, ``${$.keyArn}``, ``${$.accountId}``, ``${$.region}`` per key.

A placeholder may stand anywhere in a string of the policy (an object's keys included) and is
replaced by the key's value as text; ``$${…}`` is a literal ``${…}``, as in task templates.
Nothing else is evaluated: any other ``${…}`` is a problem naming where it is, so a typo
(``${$.keyID}``) is refused before anything is sent, never rendered as nothing.

:func:`fingerprint` is the SHA-256 of a policy's normalised form (:mod:`..policy.diff`): two
policies KMS treats alike have the same one. The journal keeps it for each key written, so
that ``rollback --journal`` restores a key only while it still holds the rollout's policy.
Pure functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import Problem
from ..policy.diff import normalise_policy

__all__ = ["PLACEHOLDERS", "KeyFacts", "PolicyTemplate", "fingerprint"]

#: The names a policy may use, as ``${$.<name>}``.
PLACEHOLDERS = ("keyId", "keyArn", "accountId", "region")
_PLACEHOLDER = re.compile(r"\$(\$?)\{([^{}]*)\}")


@dataclass(frozen=True)
class KeyFacts:
    """What the placeholders stand for, for one key."""

    keyId: str
    keyArn: str
    accountId: str
    region: str


def _problems(value: Any, path: str) -> list[Problem]:
    if isinstance(value, str):
        return [
            Problem(
                field="policy",
                message=f"{path}: unknown placeholder ${{{m.group(2)}}}; the policy may use "
                + ", ".join(f"${{$.{name}}}" for name in PLACEHOLDERS)
                + " (and $${…} for a literal ${…})",
            )
            for m in _PLACEHOLDER.finditer(value)
            if not m.group(1) and m.group(2) not in {f"$.{name}" for name in PLACEHOLDERS}
        ]
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += _problems(key, f"{path} (the name {key!r})")
            found += _problems(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _problems(item, f"{path}[{i}]")]
    return []


def _text(value: str, facts: KeyFacts) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        return str(getattr(facts, match.group(2).removeprefix("$.")))

    return _PLACEHOLDER.sub(replace, value)


def _render(value: Any, facts: KeyFacts) -> Any:
    if isinstance(value, str):
        return _text(value, facts) if "${" in value else value
    if isinstance(value, Mapping):
        return {_render(key, facts): _render(item, facts) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, facts) for item in value]
    return value


@dataclass(frozen=True)
class PolicyTemplate:
    """A key policy (parsed strict JSON) whose placeholders are rendered per key."""

    document: Mapping[str, Any]

    @property
    def problems(self) -> list[Problem]:
        """Every unknown placeholder, by where it is (empty: the policy renders for any key)."""
        return _problems(self.document, "$")

    @property
    def templated(self) -> bool:
        """Whether any placeholder (or ``$${``) appears: else every key gets the same policy."""
        return "${" in json.dumps(self.document)

    def render(self, facts: KeyFacts) -> dict[str, Any]:
        """The policy for one key."""
        rendered: dict[str, Any] = _render(self.document, facts)
        return rendered


def fingerprint(policy: str | Mapping[str, Any]) -> str | None:
    """SHA-256 of the policy's normalised form; None when it is not a policy at all."""
    try:
        canonical = json.dumps(normalise_policy(policy), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return None
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
