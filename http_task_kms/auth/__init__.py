"""Signers by credentials type, registered through the same hook a plugin would use.

The core's own is ``aws-sigv4`` (:mod:`.sigv4`: botocore's credential chain and SigV4),
so a plugin for any AWS service signs without the KMS plugin installed. This module is
registered as a plugin by the manager; it stays cheap to import (botocore is loaded only
when a request first needs the signer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from ..plugins.types import Signer, SignerFactory

__all__ = ["AWS_SIGV4", "register_signers", "sigv4_signer"]

#: The credentials type of AWS's Signature Version 4.
AWS_SIGV4 = "aws-sigv4"


def sigv4_signer(*, profile: str | None) -> Signer:
    """The ``aws-sigv4`` signer of ``profile``'s credentials (a client gives it its own chain)."""
    from .sigv4 import AwsCredentials, SigV4Signer  # noqa: PLC0415 - botocore, only when signing

    return SigV4Signer(AwsCredentials(profile=profile))


@hookimpl
def register_signers(register: Callable[[str, SignerFactory], None]) -> None:
    """``aws-sigv4``: botocore's credential chain and SigV4."""
    register(AWS_SIGV4, sigv4_signer)
