"""Would the caller still be allowed ``kms:PutKeyPolicy`` on the key under a new policy?

KMS refuses a policy that would lock the caller out (unless the lockout safety check is
bypassed); :func:`check_lockout` predicts that offline, the IAM way:

- each statement *applies* (yes / no / unknown) when its principal, action, resource and
  condition all match the request ``kms:PutKeyPolicy`` by the caller on the key;
- an explicit Deny wins over any Allow; a statement whose Condition cannot be decided
  offline is *unknown*, never silently true;
- an Allow that names the caller (its ARN, its role's ARN, or ``*``) is a PASS; an Allow
  that names only the caller's account delegates to the account's IAM policies
  (PASS_DELEGATED); an answer that depends on a condition or an undecidable resource is
  UNCERTAIN; no applicable Allow, or an applicable Deny, is a FAIL.

``NotPrincipal`` with Deny excludes the caller only when it names the caller (or its role)
*and* the caller's account, as AWS requires; naming only one of them is unknown (caller
only) or no exclusion (account only). ``NotPrincipal`` with Allow, which AWS does not
support, is unknown.

Conditions on ``aws:PrincipalArn`` and ``aws:PrincipalAccount`` with the String/Arn
equality and wildcard operators are evaluated against the caller; every other condition
is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .arns import AwsPrincipal, classify_aws_principal, parse_arn
from .conditions import Tri, evaluate_condition, tri_and
from .lint_actions import covers_put_key_policy
from .model import as_list, glob_match, indexed_statements, is_object, statement_label, statement_path

__all__ = [
    "CALLER_KINDS",
    "LockoutResult",
    "Verdict",
    "caller_principal_arns",
    "check_lockout",
    "parse_arn",
]

Verdict = Literal["PASS", "PASS_DELEGATED", "UNCERTAIN", "FAIL"]
Strength = Literal["named", "account"]

#: The principal kinds a caller can be (what sts:GetCallerIdentity returns).
CALLER_KINDS = ("root", "user", "role", "assumed_role", "federated_user")


class LockoutResult(BaseModel):
    """The lockout verdict, why, and the JSONPaths of the statements that decided it."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reason: str
    statements: list[str]


def caller_principal_arns(caller_arn: str) -> list[str]:
    """The principal ARNs that name this caller: itself, and for a role session its role.

    ``arn:aws:sts::111122223333:assumed-role/Admin/alice`` →
    ``[that ARN, "arn:aws:iam::111122223333:role/Admin"]``.
    """
    principal = classify_aws_principal(caller_arn)
    if principal.kind == "assumed_role" and principal.role_arn is not None:
        return [caller_arn, principal.role_arn]
    return [caller_arn]


@dataclass(slots=True)
class _Outcome:
    """How one statement relates to the request."""

    path: str
    statement: Mapping[str, Any]
    effect: str
    applies: Tri
    strength: Strength | None
    why: str
    grants_others: bool = False

    @property
    def label(self) -> str:
        """How a reason names the statement (made only for the statements a reason names)."""
        return statement_label(self.statement, self.path)


@dataclass(slots=True)
class _Evaluator:
    caller: AwsPrincipal
    key_arn: str | None

    # -- principals --------------------------------------------------------------------

    def _match_value(self, value: str) -> tuple[Strength | None, str]:
        caller = self.caller
        if value == "*":
            return "named", 'its principal is "*" (anyone)'
        if value == caller.value:
            return "named", f"it names the caller {value}"
        other = classify_aws_principal(value)
        if other.kind in ("account", "root") and other.account == caller.account:
            if other.kind == "root" and other.partition != caller.partition:
                return None, ""
            if caller.kind == "root":
                return "named", f"it names the caller's account {value} and the caller is root"
            return "account", f"it names the caller's account {value}"
        same_role = (
            caller.kind == "assumed_role"
            and other.kind == "role"
            and (other.partition, other.account, other.name)
            == (caller.partition, caller.account, caller.name)
        )
        if same_role and other.path == "/":
            return "named", f"it names the caller's role {value}"
        if same_role:
            return "named", (
                f"it names the role {value}, whose name matches the caller's role (a session "
                f"ARN does not show the role path {other.path}, so this is taken as a match)"
            )
        return None, ""

    def _match(self, principal: Any) -> tuple[Strength | None, str]:
        if principal == "*":
            return "named", 'its principal is "*" (anyone)'
        if not is_object(principal):
            return None, ""
        best: tuple[Strength | None, str] = (None, "")
        for value in as_list(principal.get("AWS")):
            if not isinstance(value, str):
                continue
            strength, why = self._match_value(value)
            if strength == "named":
                return strength, why
            if strength == "account":
                best = (strength, why)
        return best

    def _principal(self, statement: Mapping[str, Any]) -> tuple[Tri, Strength | None, str]:
        if "Principal" in statement:
            strength, why = self._match(statement["Principal"])
            return strength is not None, strength, why
        applies, why = self._not_principal(statement["NotPrincipal"])
        if applies is not False and statement.get("Effect") == "Allow":
            # AWS documents NotPrincipal as supported with Deny only.
            return None, "named", "it uses NotPrincipal with Allow, which AWS does not support"
        return applies, "named" if applies is not False else None, why

    def _not_principal(self, excluded: Any) -> tuple[Tri, str]:
        """Whether a statement with this NotPrincipal applies to the caller."""
        if excluded == "*":
            return False, 'its NotPrincipal "*" excludes everyone'
        strength, _ = self._match(excluded)
        if strength is None:
            return True, "its NotPrincipal does not exclude the caller"
        if strength == "account":
            return True, "its NotPrincipal lists the caller's account but not the caller itself"
        listed = as_list(excluded.get("AWS")) if is_object(excluded) else []
        account_listed = self.caller.kind == "root" or any(
            isinstance(value, str)
            and classify_aws_principal(value).kind in ("account", "root")
            and classify_aws_principal(value).account == self.caller.account
            for value in listed
        )
        if account_listed:
            return False, "its NotPrincipal excludes the caller"
        return None, (
            "its NotPrincipal lists the caller but not the caller's account, which AWS needs "
            "as well to exclude it"
        )

    # -- action, resource, condition ----------------------------------------------------

    def _resource(self, statement: Mapping[str, Any]) -> Tri:
        if statement.get("Resource") == "*":
            return True
        for element, inverted in (("Resource", False), ("NotResource", True)):
            if element not in statement:
                continue
            patterns = [item for item in as_list(statement[element]) if isinstance(item, str)]
            if self.key_arn is None:
                if "*" in patterns:
                    return not inverted
                return None if patterns else inverted
            key_arn = self.key_arn
            matched = "*" in patterns or any(glob_match(p, key_arn, ignore_case=False) for p in patterns)
            return matched != inverted
        return False

    # -- one statement -------------------------------------------------------------------

    def evaluate(self, statement: Mapping[str, Any], index: int | None) -> _Outcome | None:
        """How the statement relates to the request; None when it cannot apply nor grant the action.

        A statement whose action or resource is not the request's applies to nobody and
        grants kms:PutKeyPolicy on this key to nobody, so no verdict depends on it: its
        principal and condition are not even looked at.
        """
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny") or (
            "Principal" not in statement and "NotPrincipal" not in statement
        ):
            return None  # KMS rejects such a statement; the lint reports it
        if not covers_put_key_policy(statement):
            return None
        resource = self._resource(statement)
        if resource is False:
            return None
        principal, strength, principal_why = self._principal(statement)
        condition, condition_why = evaluate_condition(statement.get("Condition"), self.caller)
        applies = tri_and(principal, resource, condition)
        reasons = [principal_why] if principal is not False else []
        if resource is None:
            reasons.append("its Resource cannot be matched to the key (no key ARN given)")
        if condition_why:
            reasons.append(condition_why)
        # Grants kms:PutKeyPolicy, but its principal or condition rules this caller out.
        grants_others = applies is False
        why = "; ".join(reasons)
        return _Outcome(statement_path(index), statement, str(effect), applies, strength, why, grants_others)


def _names(outcomes: list[_Outcome]) -> str:
    """``Statement "a" ($.Statement[0])`` or ``Statements "a" (...), "b" (...)``."""
    noun = "Statement" if len(outcomes) == 1 else "Statements"
    return f"{noun} " + ", ".join(outcome.label for outcome in outcomes)


def _verb(outcomes: list[_Outcome], singular: str, plural: str) -> str:
    return singular if len(outcomes) == 1 else plural


def _result(verdict: Verdict, reason: str, outcomes: list[_Outcome]) -> LockoutResult:
    statements = [outcome.path for outcome in outcomes]
    # valid as built: model_construct skips the validation (a lockout check is run per request)
    return LockoutResult.model_construct(verdict=verdict, reason=reason, statements=statements)


def check_lockout(policy: Mapping[str, Any], *, caller_arn: str, key_arn: str | None = None) -> LockoutResult:
    """Whether ``caller_arn`` could still call ``kms:PutKeyPolicy`` on the key under ``policy``.

    ``key_arn`` is the key's ARN; without it a ``Resource`` other than ``*`` cannot be
    decided. The caller is an IAM user, role, role session, federated user or root ARN,
    as ``sts:GetCallerIdentity`` returns it.
    """
    caller = classify_aws_principal(caller_arn)
    if caller.kind not in CALLER_KINDS:
        return _result(
            "UNCERTAIN",
            f"The caller {caller_arn} is not an IAM or STS principal ARN, so whether the "
            "policy lets it call kms:PutKeyPolicy cannot be checked.",
            [],
        )
    key = parse_arn(key_arn) if key_arn else None
    if key is not None and key.account != caller.account:
        return _result(
            "FAIL",
            f"The key belongs to account {key.account} but the caller to {caller.account}; "
            "PutKeyPolicy cannot be called across accounts.",
            [],
        )
    evaluator = _Evaluator(caller=caller, key_arn=key_arn)
    outcomes = [
        outcome
        for index, statement in indexed_statements(policy)
        if is_object(statement) and (outcome := evaluator.evaluate(statement, index)) is not None
    ]
    return _verdict(outcomes, caller_arn)


def _verdict(outcomes: list[_Outcome], caller_arn: str) -> LockoutResult:
    by_effect: dict[tuple[str, Tri], list[_Outcome]] = {}  # (effect, applies) → outcomes, in order
    for outcome in outcomes:
        by_effect.setdefault((outcome.effect, outcome.applies), []).append(outcome)
    denies = by_effect.get(("Deny", True), [])
    maybe_denies = by_effect.get(("Deny", None), [])
    allows = by_effect.get(("Allow", True), [])
    named = [o for o in allows if o.strength == "named"]
    delegated = [o for o in allows if o.strength == "account"]
    maybe_allows = by_effect.get(("Allow", None), [])
    if denies:
        return _result(
            "FAIL",
            f"{_names(denies)} {_verb(denies, 'denies', 'deny')} kms:PutKeyPolicy to "
            f"{caller_arn} ({denies[0].why}); an explicit Deny overrides every Allow.",
            denies,
        )
    deciding = named or delegated
    if deciding and maybe_denies:
        return _result(
            "UNCERTAIN",
            f"{_names(deciding)} {_verb(deciding, 'allows', 'allow')} kms:PutKeyPolicy "
            f"({deciding[0].why}), but the Deny in {_names(maybe_denies)} may apply too "
            f"({maybe_denies[0].why}).",
            deciding + maybe_denies,
        )
    if named:
        return _result(
            "PASS",
            f"{_names(named)} {_verb(named, 'allows', 'allow')} kms:PutKeyPolicy to {caller_arn} "
            f"({named[0].why}).",
            named,
        )
    if delegated:
        return _result(
            "PASS_DELEGATED",
            f"{_names(delegated)} {_verb(delegated, 'allows', 'allow')} kms:PutKeyPolicy only "
            f"to the caller's whole account ({delegated[0].why}), so {caller_arn} keeps access "
            "only if its own IAM policies allow kms:PutKeyPolicy on this key.",
            delegated,
        )
    if maybe_allows:
        return _result(
            "UNCERTAIN",
            f"No statement surely allows kms:PutKeyPolicy to {caller_arn}; {_names(maybe_allows)} "
            f"might ({maybe_allows[0].why}).",
            maybe_allows,
        )
    others = [o for o in outcomes if o.effect == "Allow" and o.grants_others]
    elsewhere = (
        f" {_names(others)} {_verb(others, 'allows', 'allow')} it, but not to this caller." if others else ""
    )
    return _result(
        "FAIL",
        f"No statement allows kms:PutKeyPolicy to {caller_arn}.{elsewhere} Add the caller "
        "(or its role) to a statement that allows kms:PutKeyPolicy.",
        others,
    )
