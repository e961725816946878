"""AWS credentials (botocore's chain) and SigV4 signing (:mod:`.sigv4_fast`, else botocore's ``SigV4Auth``).

Credentials are resolved once per process and profile; refreshable credentials are
frozen once per signature, so the access key, secret and session token always belong to
the same refresh. Every attempt is signed afresh. Nothing here logs a secret: botocore's
own DEBUG output of the canonical request is scrubbed by :mod:`http_task_kms.redact`.
"""

from __future__ import annotations

import datetime
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ProfileNotFound

from .. import redact
from ..errors import CredentialsError, CredentialsNotFound
from . import sigv4_fast

__all__ = ["AwsCredentials", "SigV4Signer", "sign_with_botocore"]

redact.protect_logger(sigv4_fast.LOG.name)  # the canonical request shows the session token


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
            except ProfileNotFound as exc:
                raise CredentialsNotFound(str(exc)) from None
            except BotoCoreError as exc:
                raise CredentialsError(str(exc)) from None
        return self._session

    def _from_process(self) -> bool:
        """Whether the profile's credentials come from a credential_process (for messages)."""
        try:
            return bool(self.session.get_scoped_config().get("credential_process"))
        except Exception:  # only a hint: a broken config is reported where it is used
            return False

    def _failure(self, before: str, after: str = "", *, exc: BaseException | None = None) -> CredentialsError:
        """A CredentialsError naming the source, the rule and the exception type, never a value."""
        process = self._from_process()
        source = " from the profile's credential_process" if process else ""
        kind = f" ({type(exc).__name__})" if exc is not None else ""
        rules = f". {_PROCESS_FORMAT}" if process else ""
        return CredentialsError(f"{before}{source}{after}{kind}{rules}")

    def _resolve(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                try:
                    found = self.session.get_credentials()
                except CredentialsError:
                    raise
                except Exception as exc:  # a provider may raise anything (see below)
                    # botocore's providers raise their own errors, but also plain ValueError
                    # (credential_process printed non-JSON), KeyError, TypeError, AttributeError
                    # (JSON of the wrong shape) and dateutil's ParserError (a bad Expiration),
                    # whose messages may quote the helper's output: only the type is shown.
                    raise self._failure("could not load AWS credentials", exc=exc) from None
                if found is None:
                    raise CredentialsNotFound(
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
            if "still expired" in str(exc):
                raise CredentialsError(
                    f"could not refresh AWS credentials: {type(exc).__name__} (the refreshed "
                    "credentials were already expired: is the system clock right?)"
                ) from None
            raise self._failure("could not refresh AWS credentials", exc=exc) from None
        problem = _invalid_field(frozen)
        if problem:
            raise self._failure("the AWS credentials", f" are unusable: {problem}")
        redact.register(frozen.secret_key, frozen.token)
        return frozen

    def region(self) -> str | None:
        """The Region of the profile / environment (AWS_REGION, AWS_DEFAULT_REGION, config)."""
        # botocore reads AWS_DEFAULT_REGION only; AWS_REGION (AWS CLI v2, the other SDKs,
        # Lambda and ECS) comes first.
        value: Any = os.environ.get("AWS_REGION") or self.session.get_config_variable("region")
        return str(value) if value else None


_PROCESS_FORMAT = (
    "A credential_process must exit with status 0 and print one JSON object: Version 1, "
    "AccessKeyId, SecretAccessKey, optionally SessionToken and Expiration (ISO 8601); its "
    "output is never shown here"
)
_PRINTABLE_RE = re.compile(r"[!-~]+")  # printable ASCII, no space: what a header value may hold


def _invalid_field(frozen: ReadOnlyCredentials) -> str | None:
    """Which credential field breaks which rule (never its value), or None."""
    key, secret, token = frozen.access_key, frozen.secret_key, frozen.token
    if not isinstance(key, str) or not _PRINTABLE_RE.fullmatch(key) or "," in key or "/" in key:
        # it is sent in the Authorization header as Credential=<key>/<scope>, ...
        return "AccessKeyId must be a string of printable ASCII characters without spaces, ',' or '/'"
    if not isinstance(secret, str) or not _PRINTABLE_RE.fullmatch(secret):
        return "SecretAccessKey must be a non-empty string of printable ASCII characters"
    if token is not None and not (isinstance(token, str) and (token == "" or _PRINTABLE_RE.fullmatch(token))):
        return "SessionToken must be a string of printable ASCII characters"
    return None


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
    """SigV4: :mod:`.sigv4_fast` for the requests it covers, botocore for the rest; one frozen
    credential set per signature."""

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
        """Sign one attempt; adds X-Amz-Date, X-Amz-Security-Token (if any) and Authorization.

        A request of the shape :mod:`.sigv4_fast` covers (every request this tool makes) is
        signed there; any other by botocore.
        """
        frozen = self.credentials.frozen()
        signed = sigv4_fast.sign(
            method,
            url,
            headers,
            body,
            access_key=str(frozen.access_key),  # strings: frozen() checked them
            secret_key=str(frozen.secret_key),
            token=frozen.token,
            service=service,
            region=region,
            clock_offset=clock_offset,
        )
        if signed is None:
            signed = sign_with_botocore(
                method,
                url,
                headers,
                body,
                credentials=frozen,
                service=service,
                region=region,
                clock_offset=clock_offset,
            )
        redact.register_authorization(signed.get("Authorization", ""))
        return signed


def sign_with_botocore(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: ReadOnlyCredentials,
    service: str,
    region: str,
    clock_offset: float = 0.0,
) -> dict[str, str]:
    """botocore's ``SigV4Auth`` (the reference :mod:`.sigv4_fast` is held to): ``headers`` plus
    X-Amz-Date, X-Amz-Security-Token (if any) and Authorization."""
    redact.protect_logger("botocore.auth")  # it logs the canonical request and the signature
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    if clock_offset:
        _SkewCorrectedSigV4Auth(credentials, service, region, clock_offset).add_auth(request)
    else:
        SigV4Auth(credentials, service, region).add_auth(request)
    return dict(request.headers.items())
