"""Temporary credentials that expire mid-run: fresh ones are used, and never mixed.

botocore's ``RefreshableCredentials`` with a refresh function that issues a new
(key, secret, token) each call and a fake clock that runs faster than the credentials
live. The fault server records each request's access key and session token; every pair
must come from one refresh, and the signature must verify with that refresh's secret.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.credentials import RefreshableCredentials
from faultserver import FaultServer, loopback_only, ok, throttle, verify_sigv4  # noqa: F401 - loopback_only

from http_task_kms import Client, CredentialsError, Options
from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer
from http_task_kms.transport import Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

UTC = datetime.timezone.utc
LIFETIME = datetime.timedelta(minutes=20)  # botocore refreshes 15 (advisory) / 10 (mandatory) min before


@dataclass
class Issuer:
    """An STS stand-in: each refresh issues a new triple that lives LIFETIME on the fake clock."""

    now: datetime.datetime = field(default_factory=lambda: datetime.datetime(2026, 1, 1, tzinfo=UTC))
    issued: dict[str, tuple[str, str]] = field(default_factory=dict)  # key → (secret, token)
    expiry: dict[str, datetime.datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    lifetime: datetime.timedelta = LIFETIME

    def refresh(self) -> dict[str, Any]:
        with self.lock:
            n = len(self.issued)
            key = f"ASIAROTATE{n:010d}"
            secret, token = f"rotSECRET{n:06d}" + "s" * 25, f"rotTOKEN{n:06d}" + "t" * 60
            self.issued[key] = (secret, token)
            self.expiry[key] = self.now + self.lifetime
            return {
                "access_key": key,
                "secret_key": secret,
                "token": token,
                "expiry_time": self.expiry[key].isoformat(),
            }

    def clock(self) -> datetime.datetime:
        with self.lock:
            return self.now

    def advance(self, minutes: float) -> None:
        with self.lock:
            self.now += datetime.timedelta(minutes=minutes)


def refreshable(issuer: Issuer) -> RefreshableCredentials:
    credentials = RefreshableCredentials.create_from_metadata(issuer.refresh(), issuer.refresh, "test-sts")
    credentials._time_fetcher = issuer.clock  # the fake clock (create_from_metadata takes none)
    return credentials


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(default=ok({"Keys": []}), max_requests=1000) as started:
        yield started


def client_for(server: FaultServer, credentials: RefreshableCredentials) -> Client:
    signer = SigV4Signer(AwsCredentials(credentials=credentials))
    options = Options(region="us-east-1", endpoint_url=server.url, read_timeout=2, connect_timeout=2)
    return Client(options, signer=signer, transport=Transport(sleep=lambda _: None))


def assert_each_request_used_one_refresh(server: FaultServer, issuer: Issuer) -> None:
    for received in server.received:
        key = received.access_key
        assert key in issuer.issued, key
        secret, token = issuer.issued[key]
        assert received.header("X-Amz-Security-Token") == token, f"{key} sent with another refresh's token"
        assert verify_sigv4(received, secret, url=server.url), f"{key} signed with another refresh's secret"


def test_long_run_signs_with_fresh_credentials(server):
    issuer = Issuer()
    client = client_for(server, refreshable(issuer))
    used_at: list[tuple[datetime.datetime, str]] = []
    for _ in range(40):  # 40 requests x 2 minutes: 80 minutes, four lifetimes
        issuer.advance(2)
        result = client.test_request("kms.ListKeys", {})
        assert result.ok, result.to_json()
        used_at.append((issuer.clock(), server.received[-1].access_key or ""))
    assert_each_request_used_one_refresh(server, issuer)
    assert len(issuer.issued) >= 80 / 20  # refreshed at least once per lifetime
    assert len({key for _, key in used_at}) >= 4
    for when, key in used_at:  # never signed with credentials past (or within 10 min of) expiry
        assert issuer.expiry[key] - when > datetime.timedelta(minutes=10), (when, key)


def test_concurrent_signing_never_mixes_key_and_token(server):
    issuer = Issuer()
    credentials = refreshable(issuer)
    errors: list[BaseException] = []

    def worker() -> None:
        client = client_for(server, credentials)  # one credentials object shared by every thread
        try:
            for _ in range(15):
                issuer.advance(1)
                result = client.test_request("kms.ListKeys", {})
                assert result.ok, result.to_json()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert server.count == 90
    assert len(issuer.issued) > 3
    assert_each_request_used_one_refresh(server, issuer)


def test_credentials_that_stay_expired_are_a_credentials_error_not_a_traceback(server):
    issuer = Issuer(lifetime=datetime.timedelta(minutes=-1))  # every refresh is already expired
    client = client_for(server, refreshable(issuer))
    with pytest.raises(CredentialsError) as raised:
        client.test_request("kms.ListKeys", {})
    assert "rotSECRET" not in str(raised.value)
    assert "rotTOKEN" not in str(raised.value)
    assert server.count == 0


def test_credentials_lost_between_attempts_give_a_result(server):
    issuer = Issuer()
    credentials = refreshable(issuer)
    client = client_for(server, credentials)
    calls = {"n": 0}

    def failing_refresh() -> dict[str, Any]:
        calls["n"] += 1
        raise RuntimeError("the credential source went away")

    server.push(throttle())
    original = credentials._time_fetcher

    def clock_then_expire() -> datetime.datetime:
        # after the first attempt was sent, jump past expiry: the next signature must refresh
        return original() + (datetime.timedelta(hours=1) if server.count else datetime.timedelta(0))

    credentials._time_fetcher = clock_then_expire
    credentials._refresh_using = failing_refresh
    result = client.test_request("kms.ListKeys", {})
    assert server.count == 1
    assert calls["n"] >= 1
    assert not result.ok
    assert result.attempts == 1
    assert result.statusCode == 400
    assert result.error.code == "CredentialsError"
    assert "ThrottlingException" in result.error.message
