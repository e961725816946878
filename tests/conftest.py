"""Shared fixtures: the embedded KMS (moto on 127.0.0.1, signature check on) and clients."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.credentials import Credentials

from http_task_kms import Client, Options
from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer
from http_task_kms.kms.local import AdminIdentity, LocalKms

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ACCOUNT = "123456789012"
#: What a frozen clock shows (:func:`frozen_clock`).
FROZEN_NOW = datetime.datetime(2026, 11, 29, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def frozen_clock() -> Iterator[float]:
    """botocore's signing clock stopped at :data:`FROZEN_NOW`; yields it in epoch seconds.

    botocore has no public seam for the time ``SigV4Auth.add_auth`` signs at: it reads the
    module attribute ``botocore.auth.get_current_datetime``, which this patches. Stop the
    transport's clock too with ``Transport(wall_clock=lambda: frozen_clock)``, and a fault
    server's with ``now=frozen_clock``.
    """
    with mock.patch("botocore.auth.get_current_datetime", return_value=FROZEN_NOW.replace(tzinfo=None)):
        yield FROZEN_NOW.timestamp()


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see the machine's AWS config, credentials or Region."""
    empty = tmp_path_factory.mktemp("aws")
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty / "cache"))  # parsed-spec copies stay in the test tree
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CA_BUNDLE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "REQUESTS_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass(frozen=True)
class TemporaryCredentials:
    """A role session's credentials in the local server (``repr`` hides the secrets)."""

    arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


_ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["kms:*", "sts:GetCallerIdentity"], "Resource": "*"}],
    }
)


def _assume_test_role(server: LocalKms) -> TemporaryCredentials:
    iam = server._client("iam")
    iam.create_role(RoleName="test-role", AssumeRolePolicyDocument=_ROLE_TRUST)
    iam.put_role_policy(RoleName="test-role", PolicyName="kms", PolicyDocument=_ROLE_POLICY)
    assumed = server._client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/test-role", RoleSessionName="integration"
    )
    creds = assumed["Credentials"]
    return TemporaryCredentials(
        arn=assumed["AssumedRoleUser"]["Arn"],
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
    )


@pytest.fixture(scope="session")
def local_kms_setup() -> Iterator[tuple[LocalKms, AdminIdentity, TemporaryCredentials]]:
    """moto's server on 127.0.0.1 with its SigV4 check on, an IAM user and a role session."""
    server = LocalKms().start()
    try:
        admin = server.create_admin("test-admin")
        session = _assume_test_role(server)
        server.require_signatures()
        yield server, admin, session
    finally:
        server.stop()


@pytest.fixture
def local_kms(
    local_kms_setup: tuple[LocalKms, AdminIdentity, TemporaryCredentials],
) -> tuple[LocalKms, AdminIdentity]:
    """The local server and its admin user."""
    return local_kms_setup[0], local_kms_setup[1]


@pytest.fixture
def role_session(
    local_kms_setup: tuple[LocalKms, AdminIdentity, TemporaryCredentials],
) -> TemporaryCredentials:
    """Temporary credentials (with a session token) of a role allowed kms:*."""
    return local_kms_setup[2]


@pytest.fixture
def kms_url(local_kms: tuple[LocalKms, AdminIdentity]) -> str:
    """The local KMS endpoint URL."""
    return local_kms[0].url


@pytest.fixture
def admin(local_kms: tuple[LocalKms, AdminIdentity]) -> AdminIdentity:
    """The local IAM user (its key passes moto's signature check)."""
    return local_kms[1]


def signer_for(access_key: str, secret: str, token: str | None = None) -> SigV4Signer:
    """A SigV4 signer with fixed credentials."""
    return SigV4Signer(AwsCredentials(credentials=Credentials(access_key, secret, token)))


@pytest.fixture
def local_client(kms_url: str, admin: AdminIdentity, tmp_path: Path) -> Callable[..., Client]:
    """Make a Client for the local KMS, signed as the admin user (options overridable).

    A PutKeyPolicy is read back 0.05 s apart rather than 0.5 s: moto shows a write at once.
    """

    def make(**overrides: Any) -> Client:
        signer = overrides.pop("signer", None) or signer_for(admin.access_key_id, admin.secret_access_key)
        plugin_options = {
            "backup_dir": str(tmp_path / "backups"),
            "verify_interval": 0.05,
            **overrides.pop("plugin_options", {}),
        }
        options = Options(
            **{"region": "us-east-1", "endpoint_url": kms_url, "plugin_options": plugin_options, **overrides}
        )
        return Client(options, signer=signer)

    return make


@pytest.fixture
def new_key(local_client: Callable[..., Client]) -> str:
    """A fresh key in the local KMS (its id)."""
    result = local_client().test_request("kms.CreateKey", {"Description": "test key"})
    assert result.ok, result.to_json()
    key_id: str = result.body["KeyMetadata"]["KeyId"]
    return key_id


def policy_for(*principals: str, account: str = ACCOUNT) -> dict[str, Any]:
    """The default key policy plus an admin statement for each principal."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
    ]
    statements += [
        {"Sid": f"Admin{i}", "Effect": "Allow", "Principal": {"AWS": p}, "Action": "kms:*", "Resource": "*"}
        for i, p in enumerate(principals)
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def write_json(path: Path, data: Any) -> str:
    """Write JSON to ``path``; return the path as text."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)
