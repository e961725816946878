"""ARNs, KMS key identifiers and IAM principal strings: parsing and classification.

Pure functions shared by the key-policy checks and by the request validation of the
KMS plugin. Nothing here does I/O.

- :func:`parse_arn` splits ``arn:<partition>:<service>:<region>:<account>:<resource>``.
- :func:`is_key_arn`, :data:`KEY_ID_RE` and :func:`is_alias` recognise the ways a KMS key
  is named (PutKeyPolicy accepts a key ID or key ARN, never an alias).
- :func:`classify_aws_principal` tells what an ``"AWS"`` principal value names: the
  account, the root user, an IAM user or role, a role session, a federated user, a
  unique ID left behind by a deleted principal, ``*``, or something malformed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCOUNT_ID_RE",
    "KEY_ID_RE",
    "Arn",
    "AwsPrincipal",
    "PrincipalKind",
    "account_root_arn",
    "classify_aws_principal",
    "is_alias",
    "is_key_arn",
    "parse_arn",
]

#: A KMS key ID: a UUID, or ``mrk-`` followed by 32 hex digits for a multi-Region key.
KEY_ID_RE = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|mrk-[0-9a-fA-F]{32})$"
)
#: An AWS account ID: exactly twelve decimal digits.
ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}$")

_ARN_RE = re.compile(
    r"^arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):"
    r"(?P<resource>.+)$",
    re.DOTALL,
)
_PARTITION_RE = re.compile(r"^aws(?:-[a-z]+)*$")
_ALIAS_NAME_RE = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
# The unique IDs IAM gives users (AIDA), roles (AROA), groups (AGPA), instance profiles
# (AIPA) and managed policies (ANPA, ANVA). A policy shows one when the principal it named
# was deleted: IAM replaces the ARN by the ID.
_UNIQUE_ID_RE = re.compile(r"^A(?:IDA|ROA|GPA|IPA|NPA|NVA)[A-Z0-9]{12,}$")
_NAME_PATH_RE = re.compile(r"^(?:[\x21-\x7e]+/)*[\w+=,.@-]+$")


@dataclass(frozen=True, slots=True)
class Arn:
    """The five parts of an ARN after ``arn:``; ``resource`` keeps any ``/`` or ``:``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


@functools.lru_cache(maxsize=4096)
def parse_arn(arn: str) -> Arn | None:
    """Split ``arn`` into its parts, or return ``None`` if it is not shaped like an ARN.

    Only the shape is checked (six ``:``-separated fields, non-empty partition, service
    and resource); wildcards are kept as they are.
    """
    match = _ARN_RE.match(arn)
    if match is None:
        return None
    return Arn(**match.groupdict())


def is_key_arn(arn: str) -> bool:
    """Whether ``arn`` is a KMS key ARN ``arn:<partition>:kms:<region>:<account>:key/<id>``."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "kms" or not parsed.region:
        return False
    if not ACCOUNT_ID_RE.match(parsed.account):
        return False
    kind, _, key_id = parsed.resource.partition("/")
    return kind == "key" and KEY_ID_RE.match(key_id) is not None


def is_alias(value: str) -> bool:
    """Whether ``value`` names a KMS alias: ``alias/<name>`` or an alias ARN."""
    if value.startswith("arn:"):
        parsed = parse_arn(value)
        return (
            parsed is not None
            and parsed.service == "kms"
            and _ALIAS_NAME_RE.match(parsed.resource) is not None
        )
    return _ALIAS_NAME_RE.match(value) is not None


def account_root_arn(account: str, partition: str = "aws") -> str:
    """The ARN that stands for a whole account in a policy: ``arn:<p>:iam::<account>:root``."""
    return f"arn:{partition}:iam::{account}:root"


PrincipalKind = Literal[
    "any",
    "account",
    "root",
    "user",
    "role",
    "assumed_role",
    "federated_user",
    "unique_id",
    "invalid",
]


@dataclass(frozen=True, slots=True)
class AwsPrincipal:
    """What one value of an ``"AWS"`` principal names.

    ``account`` and ``partition`` are set whenever the value shows them (a bare account ID
    has no partition). ``name`` is the user, role or federated-user name without its path,
    ``path`` the IAM path (``/`` when none), ``session`` the role-session name. ``problem``
    explains an ``invalid`` value.
    """

    value: str
    kind: PrincipalKind
    account: str | None = None
    partition: str | None = None
    name: str | None = None
    path: str | None = None
    session: str | None = None
    problem: str | None = None

    @property
    def role_arn(self) -> str | None:
        """For a role session, the ARN of its role without a path (the session lacks it)."""
        if self.kind != "assumed_role":
            return None
        return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"


def _invalid(value: str, problem: str) -> AwsPrincipal:
    return AwsPrincipal(value=value, kind="invalid", problem=problem)


def _split_path(rest: str) -> tuple[str, str]:
    """``team/app/Name`` → (``/team/app/``, ``Name``)."""
    head, _, name = rest.rpartition("/")
    return (f"/{head}/" if head else "/"), name


@functools.lru_cache(maxsize=4096)
def classify_aws_principal(value: str) -> AwsPrincipal:
    """Classify one value of an ``"AWS"`` principal (or of a caller identity ARN).

    Memoised (the result is frozen): a policy is linted on every request, and policies
    repeat their principals. The usual values (an account's root, an IAM user or role)
    are told by one pattern; :func:`_classify` says the same of them, step by step.
    """
    plain = _PLAIN_IAM_RE.fullmatch(value)
    if plain is None:
        return _classify(value)
    partition, account, root, kind, head, name = plain.groups()
    if root:
        return AwsPrincipal(value=value, kind="root", account=account, partition=partition)
    iam_kind: PrincipalKind = "user" if kind == "user" else "role"
    path = f"/{head}" if head else "/"
    return AwsPrincipal(value, iam_kind, account=account, partition=partition, name=name, path=path)


#: What :func:`_classify` takes for a root, user or role ARN, in one pattern (no wildcard,
#: an AWS partition, a 12-digit account, an empty region): partition, account, "root" or the
#: kind, its path's segments (each with its "/") and its name.
_PLAIN_IAM_RE = re.compile(
    r"arn:(aws(?:-[a-z]+)*):iam::([0-9]{12}):"
    r"(?:(root)|(user|role)/((?:[\x21-\x29\x2b-\x3e\x40-\x7e]+/)*)([\w+=,.@-]+))"
)


def _classify(value: str) -> AwsPrincipal:
    """:func:`classify_aws_principal`, step by step."""
    if value == "*":
        return AwsPrincipal(value=value, kind="any")
    if value.isdigit():
        if ACCOUNT_ID_RE.match(value):
            return AwsPrincipal(value=value, kind="account", account=value)
        return _invalid(value, f"an account ID has exactly 12 digits, this one has {len(value)}")
    if _UNIQUE_ID_RE.match(value):
        return AwsPrincipal(value=value, kind="unique_id")
    parsed = parse_arn(value)
    if parsed is None:
        return _invalid(value, "it is neither a 12-digit account ID nor an ARN")
    if "*" in value or "?" in value:
        return _invalid(value, "wildcards are not allowed in a principal ARN")
    if not _PARTITION_RE.match(parsed.partition):
        return _invalid(value, f"'{parsed.partition}' is not an AWS partition")
    if parsed.service not in ("iam", "sts"):
        return _invalid(value, f"service '{parsed.service}' is not iam or sts")
    if parsed.region:
        return _invalid(value, "IAM and STS principal ARNs have an empty region field")
    if not ACCOUNT_ID_RE.match(parsed.account):
        return _invalid(value, f"'{parsed.account}' is not a 12-digit account ID")
    common = {"account": parsed.account, "partition": parsed.partition}
    kind, _, rest = parsed.resource.partition("/")
    if parsed.service == "iam":
        if parsed.resource == "root":
            return AwsPrincipal(value=value, kind="root", **common)
        if kind in ("user", "role") and rest and _NAME_PATH_RE.match(rest):
            path, name = _split_path(rest)
            iam_kind: PrincipalKind = "user" if kind == "user" else "role"
            return AwsPrincipal(value=value, kind=iam_kind, name=name, path=path, **common)
        if kind == "group":
            return _invalid(value, "IAM groups cannot be principals")
        return _invalid(value, "an IAM principal ARN ends in root, user/<name> or role/<name>")
    parts = rest.split("/")
    if kind == "assumed-role" and len(parts) == 2 and all(parts):
        return AwsPrincipal(value=value, kind="assumed_role", name=parts[0], session=parts[1], **common)
    if kind == "federated-user" and rest:
        return AwsPrincipal(value=value, kind="federated_user", name=rest, **common)
    return _invalid(
        value,
        "an STS principal ARN ends in assumed-role/<role>/<session> or federated-user/<name>",
    )
