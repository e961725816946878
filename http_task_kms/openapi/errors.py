"""Error facts for the generated OpenAPI documents: fault, status, retryable, throttling.

botocore's models say which shapes are exceptions and, sometimes, their HTTP status,
fault and retry traits; its legacy ``_retry.json`` names throttling and transient codes.
This module turns those facts into each exception schema's ``x-aws-exception`` and lists
the errors every AWS JSON service may return although its model does not name them.
"""

from __future__ import annotations

import re
from typing import Any

import botocore.session

__all__ = ["ALWAYS_THROTTLING", "COMMON_ERRORS", "exception_info", "retry_codes"]

# Errors any AWS JSON service may return although its model does not list them:
# (code, HTTP status, documentation).
COMMON_ERRORS: tuple[tuple[str, int, str], ...] = (
    ("ThrottlingException", 400, "The request was denied due to request throttling."),
    ("AccessDeniedException", 400, "You do not have sufficient access to perform this action."),
    ("UnrecognizedClientException", 400, "The access key ID does not exist in our records."),
    ("InvalidSignatureException", 400, "The request signature does not conform to AWS rules."),
    ("IncompleteSignature", 400, "The request signature does not conform to AWS standards."),
    ("RequestExpired", 400, "The request reached the service too long after its date stamp."),
    ("ServiceUnavailable", 503, "The request failed due to a temporary failure of the server."),
    ("InternalFailure", 500, "The request failed because of an unknown error or failure."),
)
ALWAYS_THROTTLING = frozenset({"ThrottlingException"})

# A retry policy of botocore's _retry.json whose name or error code matches this is about
# throttling; the other error-code policies are transient errors.
_THROTTLING_HINT = re.compile(r"throttl|too_?many|limit_?exceeded|throughput", re.IGNORECASE)


def retry_codes(session: botocore.session.Session, prefix: str) -> tuple[set[str], set[str]]:
    """Return (throttling, transient) error codes from botocore's legacy ``_retry.json``.

    Only the ``__default__`` section and the service's own section (keyed by endpoint prefix)
    are read. Deliberately not used: other services' sections and the union list of
    ``botocore.retries.standard`` — both contain ``LimitExceededException``, which for most
    services (KMS: a policy over 32 KB, too many keys) is a quota error that retrying cannot fix.
    """
    data = session.get_component("data_loader").load_data("_retry")
    definitions: dict[str, Any] = data.get("definitions", {})
    retry: dict[str, Any] = data.get("retry", {})
    policies: dict[str, Any] = {}
    for section in (retry.get("__default__", {}), retry.get(prefix, {}).get("__default__", {})):
        policies.update(section.get("policies", {}))
    throttling: set[str] = set()
    transient: set[str] = set()
    for policy_name, policy in policies.items():
        resolved = definitions.get(policy["$ref"], {}) if "$ref" in policy else policy
        code = resolved.get("applies_when", {}).get("response", {}).get("service_error_code")
        if code:
            hint = _THROTTLING_HINT.search(f"{policy_name} {code}")
            (throttling if hint else transient).add(code)
    return throttling, transient


def exception_info(code: str, raw: dict[str, Any], retry_codes: tuple[set[str], set[str]]) -> dict[str, Any]:
    """Build ``x-aws-exception`` from a raw botocore exception shape."""
    error: dict[str, Any] = raw.get("error", {})
    if "httpStatusCode" in error:
        status = int(error["httpStatusCode"])
    else:
        status = 500 if raw.get("fault") or error.get("senderFault") is False else 400
    server = bool(raw.get("fault")) or status >= 500
    trait = raw.get("retryable")
    throttling_codes, transient_codes = retry_codes
    throttling = bool(trait and trait.get("throttling")) or code in throttling_codes
    retryable = server or trait is not None or throttling or code in transient_codes
    return {
        "code": code,
        "httpStatusCode": status,
        "fault": "server" if server else "client",
        "retryable": retryable,
        "throttling": throttling,
    }
