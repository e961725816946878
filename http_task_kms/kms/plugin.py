"""The KMS plugin: templates from the committed OpenAPI document, the SigV4 signer, and the
pre-flight checks of PutKeyPolicy. It uses only the public hooks, like any other plugin.

What it checks is decided by what goes on the wire — a request signed for ``kms`` whose
``X-Amz-Target`` is exactly ``TrentService.PutKeyPolicy`` — never by a template's id: a
``--spec`` document may name its operations as it likes, and its schema may be
permissive, so such a request is also validated against this plugin's own schema, and the
plugin's own calls (GetKeyPolicy) use its own templates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..auth.sigv4 import AwsCredentials, Signer, SignerFactory, SigV4Signer
from ..openapi.load import templates_from_file
from ..plugins.hookspecs import hookimpl
from ..plugins.types import Check, RequestContext
from ..template import TaskTemplate
from ..validation import BodyValidator
from .checks import check_put_key_policy

if TYPE_CHECKING:
    from ..client import Client
    from ..prepare import PreparedRequest
    from ..result import TestRequestResult

__all__ = [
    "PUT_KEY_POLICY",
    "SIGNING_NAME",
    "SPEC_RESOURCE",
    "check_request",
    "is_put_key_policy",
    "own_template",
    "register_signers",
    "register_templates",
    "send_request",
    "spec_path",
]

#: The committed OpenAPI document (``specs/kms/2014-11-01/openapi.yaml``), shipped in the package.
SPEC_RESOURCE = "openapi.yaml"
SIGNING_NAME = "kms"
PUT_KEY_POLICY = "TrentService.PutKeyPolicy"


def spec_path() -> Path:
    """The packaged KMS OpenAPI document."""
    return Path(str(resources.files(__package__) / SPEC_RESOURCE))


@functools.cache
def _own_templates() -> dict[str, TaskTemplate]:
    return {template.id: template for template in templates_from_file(spec_path())}


def own_template(template_id: str) -> TaskTemplate:
    """One of this plugin's own templates (never one from a ``--spec`` document)."""
    return _own_templates()[template_id]


@functools.cache
def _own_validator() -> BodyValidator:
    return BodyValidator(own_template("kms.PutKeyPolicy").body_schema)


def is_put_key_policy(signing_name: str | None, target: str | None) -> bool:
    """True for a request that KMS will run as PutKeyPolicy."""
    return signing_name == SIGNING_NAME and target == PUT_KEY_POLICY


@hookimpl
def register_templates(register: Callable[[TaskTemplate], None]) -> None:
    """Register one template per KMS operation."""
    for template in _own_templates().values():
        register(template)


def _sigv4(*, profile: str | None) -> Signer:
    return SigV4Signer(AwsCredentials(profile=profile))


@hookimpl
def register_signers(register: Callable[[str, SignerFactory], None]) -> None:
    """``aws-sigv4``: botocore's credential chain and SigV4."""
    register("aws-sigv4", _sigv4)


def _own_schema_checks(context: RequestContext) -> list[Check]:
    """A PutKeyPolicy matched to another document's template is held to this plugin's schema too."""
    own = own_template("kms.PutKeyPolicy")
    if context.template is own:
        return []
    defaults: dict[str, Any] = {
        name: prop["default"] for name, prop in own.body_schema["properties"].items() if "default" in prop
    }
    body = {**defaults, **context.body} if isinstance(context.body, dict) else context.body
    return [
        Check(severity="ERROR", code="SCHEMA", field=p.field, message=p.message)
        for p in _own_validator().problems(body)
    ]


@hookimpl
def check_request(context: RequestContext) -> list[Check] | None:
    """PutKeyPolicy: key id, policy name, policy document, lockout and cross-account checks."""
    if not is_put_key_policy(context.signing_name, context.target):
        return None
    own = _own_schema_checks(context)
    return own or check_put_key_policy(context)


@hookimpl
def send_request(request: PreparedRequest, client: Client) -> TestRequestResult | None:
    """PutKeyPolicy: read, diff and back up the current policy first; skip a no-op."""
    if not is_put_key_policy(request.signing_name, request.target):
        return None
    from .safety import put_key_policy_safely  # noqa: PLC0415 - only for PutKeyPolicy

    return put_key_policy_safely(request, client)
