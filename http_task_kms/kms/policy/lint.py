"""Offline lint of a KMS key policy: every problem at once, each with a JSONPath.

:func:`lint_policy` takes the policy *text* (what goes into PutKeyPolicy's ``Policy``
string) and returns :class:`Finding` objects typed like IAM Access Analyzer's (ERROR,
SECURITY_WARNING, WARNING, SUGGESTION). Nothing is sent anywhere.

ERROR means KMS would reject the policy or the policy cannot mean what was intended;
SECURITY_WARNING means it grants more than is likely meant; WARNING means a part of it
has no effect or will stop working; SUGGESTION is advice.

==============================  ================  ==============================================
code                            severity          meaning
==============================  ================  ==============================================
INVALID_CHARACTER               ERROR             a character outside TAB, LF, CR, U+0020-U+00FF,
                                                  or a lone surrogate escape (``\\ud800``)
POLICY_TOO_LARGE                ERROR             more UTF-8 bytes than ``max_bytes`` (32 KB)
POLICY_NEAR_SIZE_LIMIT          SUGGESTION        over 90 % of ``max_bytes``
INVALID_JSON                    ERROR             not parseable as JSON (line and column given)
NOT_AN_OBJECT                   ERROR             the document is not a JSON object
DUPLICATE_KEY                   ERROR             a key repeated in one JSON object: which value
                                                  KMS applies is unknown
UNKNOWN_ELEMENT                 ERROR             an element not allowed at the top level or in
                                                  a statement
INVALID_TYPE                    ERROR             an element of the wrong JSON type
VERSION_MISSING                 WARNING           no Version: read as 2008-10-17
VERSION_OUTDATED                WARNING           Version 2008-10-17: policy variables not
                                                  substituted
VERSION_INVALID                 ERROR             any other Version
STATEMENT_MISSING               ERROR             no Statement, or an empty one
UNMANAGEABLE_KEY                ERROR             no AWS principal may call kms:PutKeyPolicy:
                                                  nobody could change the policy again
                                                  (SECURITY_WARNING with allow_unmanageable_key)
EFFECT_INVALID                  ERROR             Effect missing or not ``Allow``/``Deny``
CONFLICTING_ELEMENTS            ERROR             both X and NotX in one statement
PRINCIPAL_MISSING               ERROR             neither Principal nor NotPrincipal
NOT_PRINCIPAL_WITH_ALLOW        SECURITY_WARNING  Allow with NotPrincipal: grants nearly everyone
PUBLIC_PRINCIPAL                ERROR             Allow to ``*`` with no Condition at all
                                                  (SECURITY_WARNING with allow_public_principal)
PUBLIC_PRINCIPAL_UNRESTRICTED   SECURITY_WARNING  Allow to ``*`` whose Condition
                                                  restricts no caller (only kms:ViaService...)
PRINCIPAL_TYPE_UNKNOWN          ERROR             a principal key other than AWS, Service,
                                                  Federated, CanonicalUser
PRINCIPAL_ARN_INVALID           ERROR             a malformed ``AWS`` principal
ACCOUNT_ID_INVALID              ERROR             a bare account ID that is not 12 digits
PRINCIPAL_SESSION_ARN           WARNING           an assumed-role session ARN: matches every
                                                  session of the role with that session name
PRINCIPAL_UNIQUE_ID             WARNING           a unique ID (AROA..., AIDA...): a deleted
                                                  principal
SERVICE_PRINCIPAL_INVALID       WARNING           a Service principal that is not an AWS
                                                  service name
ACTION_MISSING                  ERROR             neither Action nor NotAction: KMS rejects it
                                                  (since 2025-08-18)
INVALID_ACTION                  ERROR             an action not shaped ``service:Action``
NON_KMS_ACTION                  WARNING           an action of another service: no effect here
UNKNOWN_KMS_ACTION              ERROR             a ``kms:`` name that is no IAM action of KMS
                                                  (``kms:ReEncrypt`` is an operation)
KMS_WILDCARD_MATCHES_NOTHING    ERROR             a ``kms:`` wildcard matching no KMS action
ACTION_NOT_ON_KEY               WARNING           an action not authorised on a key
                                                  (``kms:CreateKey``): no effect in a key policy
RESOURCE_MISSING                ERROR             no Resource (nor NotResource): KMS rejects it
                                                  (since 2025-08-18)
RESOURCE_NOT_STAR               WARNING           a Resource other than ``*`` that may be this
                                                  key (or a NotResource): AWS accepts only ``*``
RESOURCE_INEFFECTIVE            WARNING           a Resource that is not this key (or a
                                                  NotResource that excludes it)
SID_DUPLICATE                   ERROR             two statements with the same Sid
CONDITION_OPERATOR_UNKNOWN      ERROR             not an IAM condition operator
CONDITION_KEY_NOT_PERMITTED     ERROR             aws:ResourceTag, kms:ResourceTag or
                                                  kms:ResourceAliases: KMS rejects the policy
CONDITION_KEY_UNKNOWN           WARNING           a ``kms:`` key the IAM reference does not list
                                                  (or a key without a service prefix)
CONDITION_KEY_NOT_APPLICABLE    WARNING           a key of none of the statement's actions (or
                                                  of another service): requests never carry it
==============================  ================  ==============================================

``kms:`` actions, the resource types they are authorised on and the condition keys that
apply to them come from the IAM service authorization reference (:mod:`.iam`, the committed
``iam-kms.json``), never from botocore's operation names; names are compared
case-insensitively, as IAM compares them. ``acknowledged`` findings (the operator's
``--allow-unmanageable-key`` and ``--allow-public-principal``) stay in the output as
SECURITY_WARNINGs whose message starts "Acknowledged by --allow-…".

Deliberately *not* findings (other linters report them wrongly for key policies): Sids
with spaces, ``"Resource": "*"`` (in a key policy it means "this key"), the account root
with ``kms:*`` (the default key policy), regional service principals, templated keys such
as ``kms:EncryptionContext:aws:logs:arn``, ``aws:SourceArn`` / ``aws:SourceAccount``, set
operators, and ``"*"`` principals whose Condition restricts the caller.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from ...jsonutil import Document, RepeatedKeys, StrictJSONError
from .lint_actions import all_actions
from .lint_manage import lint_manageable
from .lint_statement import StatementLinter
from .model import (
    POLICY_ELEMENTS,
    Finding,
    Severity,
    child_path,
    did_you_mean,
    is_object,
    iter_statements,
    json_type,
    make_finding,
)

__all__ = ["Finding", "Severity", "kms_actions", "lint_policy"]

_BAD_CHARACTER_RE = re.compile(r"[^\t\n\r\x20-\xff]")
_ALLOWED_BYTES = b"\t\n\r" + bytes(range(0x20, 0x100))
_CURRENT_VERSION = "2012-10-17"
_OLD_VERSION = "2008-10-17"


def kms_actions() -> frozenset[str]:
    """Every IAM action of KMS (``kms:ReEncryptFrom``; no ``kms:ReEncrypt``), from the IAM reference."""
    return all_actions()


def lint_policy(
    policy: str | Document,
    *,
    key_arn: str | None = None,
    max_bytes: int = 32768,
    allow_unmanageable_key: bool = False,
    allow_public_principal: bool = False,
) -> list[Finding]:
    """Every finding about the key policy ``policy`` (its text, or its text already read), in document order.

    ``key_arn`` is the key the policy is for; when given, ``Resource`` values are checked
    against it. ``max_bytes`` is the key-policy size quota (UTF-8 bytes). The two
    ``allow_*`` flags are the operator's acknowledgements (``--allow-unmanageable-key``,
    ``--allow-public-principal``; never from a task or its input): UNMANAGEABLE_KEY and an
    unconditioned PUBLIC_PRINCIPAL are then SECURITY_WARNINGs instead of ERRORs.
    """
    parsed = policy if isinstance(policy, Document) else Document(policy)
    findings: list[Finding] = []
    findings.extend(_check_characters(parsed.text))
    findings.extend(_check_size(parsed.text, max_bytes))
    try:
        document = parsed.value()
    except json.JSONDecodeError as exc:
        if not _is_raw_surrogate(exc):  # a raw one is already an INVALID_CHARACTER finding
            findings.append(_parse_failure(exc))
        return findings
    if not isinstance(document, dict):
        findings.append(
            Finding(
                severity="ERROR",
                code="NOT_AN_OBJECT",
                path="$",
                message=(
                    f"The policy is a JSON {json_type(document)}, not an object. Write it as "
                    '{"Version": "2012-10-17", "Statement": [...]}.'
                ),
            )
        )
        return findings
    if parsed.has_repeated_keys:
        findings.extend(_check_duplicate_keys(document, "$"))
    findings.extend(_check_document(document))
    linter = StatementLinter(key_arn=key_arn, allow_public_principal=allow_public_principal)
    statements: list[tuple[str, Mapping[str, Any]]] = []
    for path, statement in iter_statements(document):
        if not is_object(statement):
            findings.append(
                make_finding(
                    "ERROR",
                    "INVALID_TYPE",
                    path,
                    f"This statement is a JSON {json_type(statement)}; each statement must "
                    "be an object with Effect, Principal, Action and Resource.",
                )
            )
            continue
        statements.append((path, statement))
        findings.extend(linter.lint(statement, path))
    findings.extend(_check_sids(statements))
    findings.extend(
        lint_manageable(document, statements, key_arn=key_arn, acknowledged=allow_unmanageable_key)
    )
    return findings


def _is_raw_surrogate(exc: json.JSONDecodeError) -> bool:
    return (
        isinstance(exc, StrictJSONError)
        and exc.rule == "lone-surrogate"
        and not exc.doc.startswith("\\", exc.pos)
    )


def _parse_failure(exc: json.JSONDecodeError) -> Finding:
    if isinstance(exc, StrictJSONError) and exc.rule == "lone-surrogate":
        return make_finding(
            "ERROR",
            "INVALID_CHARACTER",
            "$",
            f"The policy holds a {exc.msg} at line {exc.lineno}, column {exc.colno}; it cannot be "
            "encoded as UTF-8 or sent. Remove the escape, or write the character itself.",
        )
    if isinstance(exc, StrictJSONError):
        where = f" at line {exc.lineno}, column {exc.colno}" if exc.positioned else ""
        return make_finding(
            "ERROR",
            "INVALID_JSON",
            "$",
            f"The policy is not strict JSON: {exc.msg}{where}. Write it as plain JSON.",
        )
    return make_finding(
        "ERROR",
        "INVALID_JSON",
        "$",
        f"The policy is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Fix the "
        "syntax there (a missing comma or quote, or a trailing comma, is the usual cause).",
    )


def _check_characters(text: str) -> list[Finding]:
    try:
        latin1 = text.encode("latin-1")
    except UnicodeEncodeError:  # a character over U+00FF (or a lone surrogate): found below
        pass
    else:
        if not latin1.translate(None, _ALLOWED_BYTES):  # the text without its allowed bytes
            return []
    bad = _BAD_CHARACTER_RE.search(text)
    if bad is None:
        return []
    position = bad.start()
    char = bad.group()
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    name = "a control character" if unicodedata.category(char) == "Cc" else unicodedata.name(char, "unnamed")
    others = len(_BAD_CHARACTER_RE.findall(text)) - 1
    more = {0: "", 1: " 1 more such character follows it."}.get(
        others, f" {others} more such characters follow it."
    )
    return [
        make_finding(
            "ERROR",
            "INVALID_CHARACTER",
            "$",
            f"Character U+{ord(char):04X} ({name}) at line {line}, column {column} "
            f"(offset {position}) is not allowed: a key policy may contain only TAB, LF, "
            "CR and U+0020 to U+00FF. Replace it with a plain ASCII character (typographic "
            f"quotes and dashes usually come from copying text out of a document).{more}",
        )
    ]


def _check_size(text: str, max_bytes: int) -> list[Finding]:
    # a lone surrogate is still counted
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return [
            make_finding(
                "ERROR",
                "POLICY_TOO_LARGE",
                "$",
                f"The policy is {size} bytes (UTF-8), over the {max_bytes}-byte key-policy "
                f"quota by {size - max_bytes} bytes; KMS would answer LimitExceededException. "
                "Merge statements that share Effect, Principal and Condition, or remove "
                "whitespace.",
            )
        ]
    if size * 10 > max_bytes * 9:
        percent = size * 100 // max_bytes
        return [
            make_finding(
                "SUGGESTION",
                "POLICY_NEAR_SIZE_LIMIT",
                "$",
                f"The policy is {size} bytes, {percent} % of the {max_bytes}-byte key-policy "
                "quota. Leave room for later statements: merge statements that share Effect, "
                "Principal and Condition, or remove whitespace.",
            )
        ]
    return []


def _check_duplicate_keys(value: Any, path: str) -> list[Finding]:
    findings: list[Finding] = []
    if isinstance(value, dict):
        for key in value.repeated if isinstance(value, RepeatedKeys) else ():
            findings.append(
                make_finding(
                    "ERROR",
                    "DUPLICATE_KEY",
                    child_path(path, key),
                    f"{json.dumps(key, ensure_ascii=False)} appears more than once in this object: "
                    "which of its values KMS applies is unknown (the checks here could approve "
                    "one while KMS applies another). Keep one.",
                )
            )
        for key, item in value.items():
            if isinstance(item, dict | list):  # only containers can hold objects
                findings.extend(_check_duplicate_keys(item, child_path(path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                findings.extend(_check_duplicate_keys(item, child_path(path, index)))
    return findings


def _check_document(document: Mapping[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for key in document:
        if key not in POLICY_ELEMENTS:
            findings.append(
                make_finding(
                    "ERROR",
                    "UNKNOWN_ELEMENT",
                    child_path("$", key),
                    f'"{key}" is not a policy element; only Version, Id and Statement are '
                    f"allowed at the top level.{did_you_mean(key, POLICY_ELEMENTS)} "
                    "Remove or rename it.",
                )
            )
    findings.extend(_check_version(document))
    if "Id" in document and not isinstance(document["Id"], str):
        findings.append(make_finding("ERROR", "INVALID_TYPE", "$.Id", "Id must be a string; quote it."))
    findings.extend(_check_statement_element(document))
    return findings


def _check_version(document: Mapping[str, Any]) -> list[Finding]:
    if "Version" not in document:
        return [
            make_finding(
                "WARNING",
                "VERSION_MISSING",
                "$",
                "The policy has no Version, so it is read as version 2008-10-17, in which "
                "policy variables such as ${aws:username} are not substituted. Add "
                '"Version": "2012-10-17".',
            )
        ]
    version = document["Version"]
    if version == _CURRENT_VERSION:
        return []
    if version == _OLD_VERSION:
        return [
            make_finding(
                "WARNING",
                "VERSION_OUTDATED",
                "$.Version",
                "Version 2008-10-17 is the old policy language: policy variables such as "
                '${aws:username} are not substituted. Use "Version": "2012-10-17".',
            )
        ]
    return [
        make_finding(
            "ERROR",
            "VERSION_INVALID",
            "$.Version",
            f"Version {json.dumps(version)} is not a policy language version; KMS rejects "
            'it. Use "Version": "2012-10-17" (the date of the language, not of your policy).',
        )
    ]


def _check_statement_element(document: Mapping[str, Any]) -> list[Finding]:
    statement = document.get("Statement")
    if statement is None or statement in ([], {}):
        where = "$.Statement" if "Statement" in document else "$"
        return [
            make_finding(
                "ERROR",
                "STATEMENT_MISSING",
                where,
                "The policy has no statements, which KMS rejects. Add a Statement list with "
                "at least one statement, for example one that allows your account's root "
                '(arn:aws:iam::<account>:root) "kms:*" on "*" as the default key policy does.',
            )
        ]
    if not isinstance(statement, (list, Mapping)):
        return [
            make_finding(
                "ERROR",
                "INVALID_TYPE",
                "$.Statement",
                f"Statement is a JSON {json_type(statement)}; it must be a list of "
                "statement objects (or a single statement object).",
            )
        ]
    return []


def _check_sids(statements: list[tuple[str, Mapping[str, Any]]]) -> list[Finding]:
    findings: list[Finding] = []
    first_seen: dict[str, str] = {}
    for path, statement in statements:
        sid = statement.get("Sid")
        if not isinstance(sid, str):
            continue
        if sid in first_seen:
            findings.append(
                make_finding(
                    "ERROR",
                    "SID_DUPLICATE",
                    child_path(path, "Sid"),
                    f'Sid "{sid}" is already used by {first_seen[sid]}; Sids must be unique '
                    "within a policy. Rename one of them.",
                )
            )
        else:
            first_seen[sid] = path
    return findings
