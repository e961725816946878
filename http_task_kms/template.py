"""The task template: one API operation, ready to become a builder Http task.

A :class:`TaskTemplate` is plain data built once from an OpenAPI document (see
:mod:`http_task_kms.openapi.load`). It knows how to present itself as a builder Http task
(:meth:`TaskTemplate.to_task`) and as the JSON Schema of its input parameters
(:meth:`TaskTemplate.input_schema`), which is what a builder draws its form from.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import config
from .endpoints import REGION_PATTERN

__all__ = ["ErrorInfo", "ParameterInfo", "ServerInfo", "ServerVariable", "TaskTemplate", "is_url_expression"]

REGION_PARAMETER: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{REGION_PATTERN}$",
    "description": "AWS Region of the endpoint, e.g. us-east-1. Optional: falls back to "
    "--region, the key ARN's Region, then the AWS config/profile.",
}

#: The task URL as a JSONata expression over ``region`` (China has its own DNS suffix).
_URL_EXPRESSION: Final = (
    "jsonata:region ? ('https://{prefix}.' & region & "
    "($substring(region, 0, 3) = 'cn-' ? '.amazonaws.com.cn/' : '.amazonaws.com/'))"
)
_PREFIX: Final = re.compile(r"[a-z0-9][a-z0-9.-]*")  # endpoint prefixes: kms, runtime.sagemaker


def is_url_expression(text: Any) -> bool:
    """Whether ``text`` is a URL expression :meth:`TaskTemplate.url_expression` writes.

    Such an expression is ours: a few string operations on ``region``, safe to evaluate in
    process (see :mod:`http_task_kms.expressions`, "Budgets").
    """
    head, _, tail = _URL_EXPRESSION.partition("{prefix}")
    if not isinstance(text, str) or len(text) <= len(head) + len(tail):
        return False
    prefix = text[len(head) : len(text) - len(tail)]
    return text.startswith(head) and text.endswith(tail) and _PREFIX.fullmatch(prefix) is not None


class ErrorInfo(BaseModel):
    """One error the operation can return, as catalogued in the OpenAPI document."""

    model_config = ConfigDict(frozen=True)

    code: str
    fault: Literal["client", "server"]
    retryable: bool
    throttling: bool = False
    http_status: int | None = None
    description: str = ""


class ParameterInfo(BaseModel):
    """One parameter of the operation (a request header, in this convention), for its reference page."""

    model_config = ConfigDict(frozen=True)

    name: str
    location: str = Field(default="header", description="Where it goes: the OpenAPI 'in' (header, query, …).")
    required: bool = False
    description: str = Field(default="", description="Plain text (HTML stripped).")
    value_schema: dict[str, Any] = Field(
        default_factory=dict, description="What its schema says of its value (type, enum, default, …)."
    )


class ServerVariable(BaseModel):
    """A variable of a server URL, e.g. ``{region}``."""

    model_config = ConfigDict(frozen=True)

    default: str = ""
    enum: tuple[str, ...] = ()
    description: str = ""


class ServerInfo(BaseModel):
    """One server of the document: a URL template, its description and its variables."""

    model_config = ConfigDict(frozen=True)

    url: str
    description: str = ""
    variables: dict[str, ServerVariable] = Field(default_factory=dict)


class TaskTemplate(BaseModel):
    """An HTTP task template for one operation of an AWS JSON-protocol service."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="'<service>.<Operation>', e.g. 'secretsmanager.GetSecretValue'.")
    service: str
    operation: str
    title: str
    description: str = Field(description="Plain text (HTML stripped).")
    method: str = "POST"
    endpoint_prefix: str = Field(description="Host prefix of the regional endpoint, e.g. 'kms'.")
    signing_name: str
    servers: tuple[str, ...] = ()
    server_objects: tuple[ServerInfo, ...] = Field(
        default=(), description="The servers with their descriptions and variables (for the reference page)."
    )
    path: str = Field(
        default="", description="The operation's OpenAPI path, e.g. '/#X-Amz-Target=<Prefix>.<Op>'."
    )
    parameters: tuple[ParameterInfo, ...] = Field(
        default=(),
        description="The operation's parameters (the request headers), as the document declares them.",
    )
    description_sections: tuple[str, ...] = Field(
        default=(),
        description="Labels of the description's headed paragraphs ('Required permissions', …): a "
        "paragraph that starts with '<label>:' opens a section of the reference page.",
    )
    featured: bool = Field(default=False, description="Listed first among its service's templates.")
    headers: dict[str, str] = Field(description="Fixed headers: X-Amz-Target, Content-Type.")
    body_schema: dict[str, Any] = Field(
        description="JSON Schema (2020-12) of the request body, with $defs for nested shapes."
    )
    errors: tuple[ErrorInfo, ...] = ()
    deprecated: bool = False
    credentials_type: str = Field(
        default="aws-sigv4", description="Which signer the operation needs (a registered credentials type)."
    )

    @property
    def target(self) -> str:
        """The X-Amz-Target value that selects this operation."""
        return self.headers["X-Amz-Target"]

    @functools.cached_property
    def retryable_codes(self) -> frozenset[str]:
        """The codes of the errors the document marks retryable (worked out once)."""
        return frozenset(e.code for e in self.errors if e.retryable)

    @property
    def members(self) -> tuple[str, ...]:
        """The top-level request members, in document order."""
        return tuple(self.body_schema.get("properties", {}))

    @property
    def required(self) -> tuple[str, ...]:
        """The request members that must be present."""
        return tuple(self.body_schema.get("required", ()))

    def body_template(self) -> dict[str, str]:
        """The body as placeholders over input parameters of the same names."""
        return {name: "${$." + name + "}" for name in self.members}

    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the task's input parameters: the body members plus ``region``.

        It accepts what rendering accepts: a member with a default may be left out, and a
        JSON-document member (``x-json-document``) may be given as an object.
        """
        schema = dict(self.body_schema)
        schema["title"] = self.title
        schema["description"] = self.description
        properties = {}
        for name, prop in self.body_schema.get("properties", {}).items():
            json_document = prop.get("x-json-document") and prop.get("type") == "string"
            properties[name] = {**prop, "type": ["string", "object"]} if json_document else prop
        schema["properties"] = {**properties, "region": REGION_PARAMETER}
        required = [name for name in self.required if "default" not in properties[name]]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return schema

    def error(self, code: str) -> ErrorInfo | None:
        """The catalogued error with this code, if any."""
        return next((e for e in self.errors if e.code == code), None)

    def url_expression(self) -> str:
        """The task URL as a JSONata expression over ``region`` (China has its own DNS suffix)."""
        return _URL_EXPRESSION.format(prefix=self.endpoint_prefix)

    def to_task(self) -> dict[str, Any]:
        """This template as a builder Http task whose request carries the placeholders."""
        example: dict[str, Any] = {}
        for member, prop in self.body_schema.get("properties", {}).items():
            if "default" in prop:
                example[member] = prop["default"]
            elif member in self.required:
                example[member] = None  # to be filled in: renders as a clear validation error

        return {
            "type": "Http",
            "description": self.description,
            "credentials": "aws-sigv4",
            "inputParameters": {"region": "us-east-1", **example},
            "httpRequest": {
                "url": self.url_expression(),
                "method": self.method,
                "headers": dict(self.headers),
                "body": self.body_template(),
            },
            "retry": {
                "intervalSeconds": config.RETRY_INTERVAL_SECONDS,
                "maxAttempts": config.MAX_ATTEMPTS,
                "backoffRate": config.BACKOFF_RATE,
            },
            "connectionTimeoutSeconds": config.CONNECT_TIMEOUT_SECONDS,
            "readTimeoutSeconds": config.READ_TIMEOUT_SECONDS,
            "end": True,
        }
