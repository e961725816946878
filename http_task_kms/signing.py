"""AWS credentials (botocore's chain) and SigV4 signing (botocore's ``SigV4Auth``).

Credentials are resolved once per process and profile; refreshable credentials are
frozen once per signature, so the access key, secret and session token always belong to
the same refresh. Every attempt is signed afresh. Nothing here logs a secret: botocore's
own DEBUG output of the canonical request is scrubbed by :mod:`http_task_kms.redact`.
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import botocore.session
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

from . import redact
from .errors import CredentialsError

__all__ = ["AwsCredentials", "SigV4Signer", "Signer", "SignerFactory"]


class Signer(Protocol):
    """Signs one attempt of a request: returns the headers to send (the input is not changed)."""

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        service: str,
        region: str,
        clock_offset: float = 0.0,
    ) -> dict[str, str]:
        """Return ``headers`` plus the authentication headers for this attempt.

        ``clock_offset`` (seconds) corrects the local clock after the service reported skew.
        """
        ...


class SignerFactory(Protocol):
    """Makes the signer for one credentials type (called once per process and profile)."""

    def __call__(self, *, profile: str | None) -> Signer:
        """A signer using the credentials of ``profile`` (None: the default chain)."""
        ...


class AwsCredentials:
    """botocore's credential chain for one profile, resolved on first use, once."""

    def __init__(self, *, profile: str | None = None, credentials: Credentials | None = None) -> None:
        self._profile = profile
        self._credentials = credentials
        self._lock = threading.Lock()
        self._session: botocore.session.Session | None = None

    @property
    def session(self) -> botocore.session.Session:
        """The botocore session (profile and config files), created once."""
        if self._session is None:
            try:
                self._session = botocore.session.Session(profile=self._profile)
                self._session.get_scoped_config()  # raises ProfileNotFound early
            except BotoCoreError as exc:
                raise CredentialsError(str(exc)) from None
        return self._session

    def _resolve(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                try:
                    found = self.session.get_credentials()
                except (BotoCoreError, ClientError) as exc:
                    raise CredentialsError(f"could not load AWS credentials: {type(exc).__name__}") from None
                if found is None:
                    raise CredentialsError(
                        "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                        "AWS_PROFILE or --profile, or run on an instance/container with a role"
                    )
                self._credentials = found
            return self._credentials

    def frozen(self) -> ReadOnlyCredentials:
        """A consistent (key, secret, token) triple, refreshed by botocore when near expiry."""
        credentials = self._resolve()
        try:
            frozen = credentials.get_frozen_credentials()
        except Exception as exc:  # a refresh function may raise anything (botocore: RuntimeError)
            hint = (
                " (the refreshed credentials were already expired: is the system clock right?)"
                if "still expired" in str(exc)
                else ""
            )
            raise CredentialsError(f"could not refresh AWS credentials: {type(exc).__name__}{hint}") from None
        redact.register(frozen.secret_key, frozen.token)
        return frozen

    def region(self) -> str | None:
        """The Region of the profile / environment (AWS_REGION, AWS_DEFAULT_REGION, config)."""
        # botocore reads AWS_DEFAULT_REGION only; AWS_REGION (AWS CLI v2, the other SDKs,
        # Lambda and ECS) comes first.
        value: Any = os.environ.get("AWS_REGION") or self.session.get_config_variable("region")
        return str(value) if value else None


class _SkewCorrectedSigV4Auth(SigV4Auth):
    """botocore's SigV4Auth with the signing time moved by a known clock offset."""

    def __init__(self, credentials: ReadOnlyCredentials, service: str, region: str, offset: float) -> None:
        super().__init__(credentials, service, region)
        self._offset = offset

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        # add_auth has just stamped context['timestamp'] from the local clock; everything
        # after this point (X-Amz-Date, scope, string to sign) reads it from there.
        stamped = datetime.datetime.strptime(request.context["timestamp"], SIGV4_TIMESTAMP)
        corrected = stamped + datetime.timedelta(seconds=self._offset)
        request.context["timestamp"] = corrected.strftime(SIGV4_TIMESTAMP)
        super()._modify_request_before_signing(request)  # type: ignore[misc]


class SigV4Signer:
    """SigV4 with botocore: one frozen credential set per signature."""

    def __init__(self, credentials: AwsCredentials) -> None:
        self.credentials = credentials

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        service: str,
        region: str,
        clock_offset: float = 0.0,
    ) -> dict[str, str]:
        """Sign one attempt; adds X-Amz-Date, X-Amz-Security-Token (if any) and Authorization."""
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        frozen = self.credentials.frozen()
        if clock_offset:
            _SkewCorrectedSigV4Auth(frozen, service, region, clock_offset).add_auth(request)
        else:
            SigV4Auth(frozen, service, region).add_auth(request)
        signed = dict(request.headers.items())
        redact.register_authorization(signed.get("Authorization", ""))
        return signed
