"""The embedded KMS: moto's server on 127.0.0.1, for ``demo`` and the integration tests.

Needs the ``local`` extra (``pip install 'http-task-kms[local]'``). Nothing here talks to
anything but loopback. :meth:`LocalKms.create_admin` makes an IAM user allowed ``kms:*``
(while moto's authentication is still off); :meth:`LocalKms.require_signatures` then
switches moto's SigV4 verification on, so that every later request must be signed with
that user's key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests

from ..errors import HttpTaskError

__all__ = ["AdminIdentity", "LocalKms", "LocalKmsUnavailable"]

_ADMIN_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Action":["kms:*","sts:GetCallerIdentity"],"Resource":"*"}]}'
)
#: Credentials moto accepts while its authentication is off.
BOOTSTRAP_KEY = ("testing", "testing")


class LocalKmsUnavailable(HttpTaskError):
    """moto is not installed: install the ``local`` extra."""

    field = "local"


@dataclass(frozen=True)
class AdminIdentity:
    """An IAM user of the local server, with an access key (``repr`` hides the secret)."""

    arn: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"AdminIdentity(arn={self.arn!r}, access_key_id={self.access_key_id!r})"


class LocalKms:
    """moto's server in this process, on a free loopback port."""

    def __init__(self, *, region: str = "us-east-1") -> None:
        self.region = region
        self._server: Any = None
        self.url = ""

    def start(self) -> LocalKms:
        """Start the server (a few milliseconds after moto's import)."""
        try:
            from moto.server import ThreadedMotoServer  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise LocalKmsUnavailable(
                "the embedded KMS needs moto: pip install 'http-task-kms[local]'"
            ) from exc
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on stderr
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}/"
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalKms:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _client(self, service: str, key: tuple[str, str] = BOOTSTRAP_KEY) -> Any:
        import botocore.session  # noqa: PLC0415

        return botocore.session.Session().create_client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
        )

    def create_admin(self, user: str = "kms-admin") -> AdminIdentity:
        """An IAM user allowed kms:* with a fresh access key (call before require_signatures)."""
        iam = self._client("iam")
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        iam.put_user_policy(UserName=user, PolicyName="kms-admin", PolicyDocument=_ADMIN_POLICY)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return AdminIdentity(
            arn=arn, access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        )

    def require_signatures(self, on: bool = True) -> None:
        """Switch moto's SigV4 verification on (or off again)."""
        response = requests.post(f"{self.url}moto-api/reset-auth", data=b"0" if on else b"inf", timeout=5)
        response.raise_for_status()
