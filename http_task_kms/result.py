"""The structured result of a Test request (the contract in the README), and redaction.

Every outcome is one :class:`TestRequestResult`: success, an AWS error, a network
failure, or a request refused before sending (``ValidationError`` with ``problems``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import jsonutil
from .errors import PreflightFailed, Problem
from .redact import redact_headers

__all__ = [
    "ErrorDetail",
    "RequestShown",
    "TestRequestResult",
    "failed_step",
    "parse_body",
    "preflight_failure",
    "shown_request",
    "validation_failure",
]


class ErrorDetail(BaseModel):
    """Why a request failed: the service's error code and message, or ours.

    For a failed call made before the request (``step``: ``"GetCallerIdentity"``,
    or a plugin's), ``statusCode`` is that call's HTTP status.
    """

    code: str
    message: str
    retryable: bool = False
    problems: list[Problem] | None = None
    step: str | None = None
    statusCode: int | None = None


class RequestShown(BaseModel):
    """The request as sent (or as it would be sent), with secrets redacted."""

    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    signed: bool = True
    credentials: str | None = Field(
        default=None, description="The task's saved-credentials id, as given (it never selects keys)."
    )


class TestRequestResult(BaseModel):
    """What the builder's Test request shows, and what a workflow run records."""

    model_config = ConfigDict(populate_by_name=True)
    __test__ = False  # not a pytest test class, despite the name

    ok: bool
    statusCode: int | None = None
    reasonPhrase: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    bodyTruncated: bool = False
    error: ErrorDetail | None = None
    requestId: str | None = None
    attempts: int = 0
    elapsedMs: float = 0.0
    request: RequestShown | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, exclude=True)

    def to_json(self) -> dict[str, Any]:
        """The result as the JSON document the CLI prints (plugin extras merged in)."""
        data = self.model_dump(mode="json", exclude={"extra"})
        if not data["warnings"]:
            del data["warnings"]
        if not data["bodyTruncated"]:
            del data["bodyTruncated"]
        for name in ("problems", "step", "statusCode"):
            if data["error"] is not None and data["error"].get(name) is None:
                del data["error"][name]
        if data["request"] is not None and data["request"].get("credentials") is None:
            del data["request"]["credentials"]
        data.update(self.extra)
        return data


def shown_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Any,
    *,
    signed: bool,
    credentials: str | None = None,
) -> RequestShown:
    """A request safe to print: signature and session token redacted."""
    return RequestShown(
        method=method,
        url=url,
        headers=redact_headers(headers),
        body=body,
        signed=signed,
        credentials=credentials,
    )


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """JSON when it parses (``null`` and empty become None), else the text as it came."""
    if not raw.strip():
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return jsonutil.loads(text)
    except ValueError:  # not JSON, or NaN / too deep: kept as the text it is
        return text


def validation_failure(
    problems: list[Problem],
    *,
    request: RequestShown | None = None,
    warnings: list[dict[str, Any]] | None = None,
) -> TestRequestResult:
    """The result of a request refused before sending (exit code 2), with the warnings found too."""
    count = len(problems)
    return TestRequestResult(
        ok=False,
        error=ErrorDetail(
            code="ValidationError",
            retryable=False,
            problems=problems,
            message=f"{count} problem{'s' if count != 1 else ''} found; nothing was sent",
        ),
        request=request,
        warnings=list(warnings or []),
    )


def preflight_failure(failed: PreflightFailed, *, request: RequestShown | None = None) -> TestRequestResult:
    """The result of a request not sent because a call before it failed (exit code 1)."""
    result = TestRequestResult(
        ok=False,
        error=ErrorDetail(
            code=failed.code,
            message=failed.error_message,
            retryable=failed.retryable,
            step=failed.step,
            statusCode=failed.status_code,
        ),
        request=request,
    )
    result.extra = {"sent": False}
    return result


def failed_step(result: TestRequestResult, step: str) -> PreflightFailed:
    """A failed call's result as the :class:`PreflightFailed` of the request it was made for."""
    error = result.error
    return PreflightFailed(
        step=step,
        code=error.code if error else "NoAnswer",
        message=error.message if error else f"{step} gave no usable answer",
        retryable=error.retryable if error else False,
        status_code=result.statusCode,
    )
