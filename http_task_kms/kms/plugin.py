"""The KMS plugin: templates from the committed OpenAPI document, the SigV4 signer, and the
pre-flight checks of PutKeyPolicy. It uses only the public hooks, like any other plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING

from ..checks import Check, RequestContext
from ..hookspecs import hookimpl
from ..signing import AwsCredentials, Signer, SignerFactory, SigV4Signer
from ..spec import templates_from_file
from ..template import TaskTemplate
from .request_checks import check_put_key_policy

if TYPE_CHECKING:
    from ..client import Client
    from ..prepare import PreparedRequest
    from ..result import TestRequestResult

__all__ = ["SPEC_RESOURCE", "check_request", "register_signers", "register_templates", "send_request"]

#: The committed OpenAPI document (``specs/kms/2014-11-01/openapi.yaml``), shipped in the package.
SPEC_RESOURCE = "openapi.yaml"


@hookimpl
def register_templates(register: Callable[[TaskTemplate], None]) -> None:
    """Register one template per KMS operation."""
    with resources.as_file(resources.files(__package__) / SPEC_RESOURCE) as path:
        for template in templates_from_file(path):
            register(template)


def _sigv4(*, profile: str | None) -> Signer:
    return SigV4Signer(AwsCredentials(profile=profile))


@hookimpl
def register_signers(register: Callable[[str, SignerFactory], None]) -> None:
    """``aws-sigv4``: botocore's credential chain and SigV4."""
    register("aws-sigv4", _sigv4)


@hookimpl
def check_request(context: RequestContext) -> list[Check] | None:
    """PutKeyPolicy: key id, policy name, policy document, lockout and cross-account checks."""
    if context.template is None or context.template.id != "kms.PutKeyPolicy":
        return None
    return check_put_key_policy(context)


@hookimpl
def send_request(request: PreparedRequest, client: Client) -> TestRequestResult | None:
    """PutKeyPolicy: read, diff and back up the current policy first; skip a no-op."""
    if request.template is None or request.template.id != "kms.PutKeyPolicy":
        return None
    from .safety import put_key_policy_safely  # noqa: PLC0415 - only for PutKeyPolicy

    return put_key_policy_safely(request, client)
