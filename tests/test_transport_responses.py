"""Transport edge cases with ``responses`` (no socket is opened: requests' adapter is mocked).

The endpoint is the real regional KMS URL, which is safe here: ``responses`` answers every
request itself, and the loopback guard fails the test if anything tried the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from conftest import signer_for
from faultserver import loopback_only  # noqa: F401 - a fixture, used by pytestmark

from http_task_kms import Client, Options
from http_task_kms.transport import Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

URL = "https://kms.us-east-1.amazonaws.com/"
AMZ_JSON = "application/x-amz-json-1.1"


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Client:
    transport = Transport(sleep=sleeps.append, jitter=lambda: 1.0)
    return Client(
        Options(region="us-east-1"), signer=signer_for("AKIDEXAMPLE", "secret"), transport=transport
    )


def error(code: str, message: str = "m", *, status: int = 400, key: str = "message") -> dict[str, Any]:
    return {"status": status, "json": {"__type": code, key: message}, "content_type": AMZ_JSON}


def send(client: Client) -> Any:
    return client.test_request("kms.ListKeys", {})


def test_throttling_then_success(mocked, client, sleeps):
    mocked.post(URL, **error("ThrottlingException", "Rate exceeded"))
    mocked.post(URL, json={"Keys": []}, content_type=AMZ_JSON, headers={"x-amzn-RequestId": "r-2"})
    result = send(client)
    assert result.ok
    assert result.attempts == 2
    assert result.requestId == "r-2"
    assert sleeps == [1.0]
    assert len(mocked.calls) == 2
    assert all("Signature=" in call.request.headers["Authorization"] for call in mocked.calls)


def test_5xx_until_attempts_run_out(mocked, client, sleeps):
    for _ in range(3):
        mocked.post(URL, **error("KMSInternalException", status=500))
    result = send(client)
    assert not result.ok
    assert result.statusCode == 500
    assert result.attempts == 3
    assert result.error.code == "KMSInternalException"
    assert result.error.retryable
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (requests.exceptions.ConnectionError("Connection reset by peer"), "ConnectionError"),
        (requests.exceptions.ReadTimeout("read timed out"), "ReadTimeout"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "ConnectTimeout"),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), "IncompleteResponse"),
        (requests.exceptions.SSLError("certificate verify failed"), "TLSError"),
    ],
)
def test_network_exceptions_become_structured_errors(mocked, client, exception, code):
    retryable = code != "TLSError"
    for _ in range(3 if retryable else 1):
        mocked.post(URL, body=exception)
    result = send(client)
    assert result.statusCode is None
    assert result.error.code == code
    assert result.error.retryable is retryable
    assert result.attempts == (3 if retryable else 1)
    json.dumps(result.to_json())


def test_malformed_json_body_is_kept_as_text(mocked, client):
    mocked.post(URL, body=b'{"Keys": [', status=200, content_type=AMZ_JSON)
    result = send(client)
    assert result.ok
    assert result.body == '{"Keys": ['


def test_malformed_json_error_body_is_kept_and_coded_by_status(mocked, client):
    mocked.post(URL, body=b"<<not json>>", status=400, content_type=AMZ_JSON)
    result = send(client)
    assert result.body == "<<not json>>"
    assert result.error.code == "HTTP400"
    assert result.attempts == 1


def test_redirect_is_not_followed(mocked, client):
    mocked.post(URL, status=302, headers={"Location": "https://evil.example/"})
    result = send(client)
    assert result.statusCode == 302
    assert result.error.code == "Redirect"
    assert result.attempts == 1
    assert len(mocked.calls) == 1  # responses would have been asked for evil.example otherwise


def test_limit_exceeded_is_not_retried(mocked, client, sleeps):
    mocked.post(URL, **error("LimitExceededException", "The policy is too large"))
    result = send(client)
    assert result.attempts == 1
    assert not result.error.retryable
    assert sleeps == []


def test_type_prefix_is_stripped_to_the_code(mocked, client):
    mocked.post(URL, **error("com.amazonaws.kms#NotFoundException", "Key 'x' does not exist"))
    result = send(client)
    assert result.error.code == "NotFoundException"
    assert result.error.message == "Key 'x' does not exist"


@pytest.mark.parametrize("key", ["message", "Message"])
def test_message_key_in_either_case(mocked, client, key):
    mocked.post(URL, **error("KMSInvalidStateException", "key is pending deletion", key=key))
    assert send(client).error.message == "key is pending deletion"


@pytest.mark.parametrize("body", [b"", b"null", b"  \n"])
def test_empty_and_null_bodies_are_none(mocked, client, body):
    mocked.post(URL, body=body, status=200, content_type=AMZ_JSON)
    result = send(client)
    assert result.ok
    assert result.body is None
    assert result.to_json()["body"] is None


def test_request_id_from_the_header(mocked, client):
    mocked.post(URL, json={}, headers={"x-amzn-RequestId": "c0ffee00-0000-4000-8000-000000000000"})
    assert send(client).requestId == "c0ffee00-0000-4000-8000-000000000000"


def test_catalogue_retryable_error_is_retried(mocked, client):
    mocked.post(URL, **error("DependencyTimeoutException", status=500))
    mocked.post(URL, json={"Keys": []})
    assert send(client).attempts == 2


@pytest.mark.parametrize("code", ["AccessDeniedException", "InvalidSignatureException", "NotFoundException"])
def test_permanent_errors_are_sent_once(mocked, client, code):
    mocked.post(URL, **error(code))
    result = send(client)
    assert result.attempts == 1
    assert result.error.code == code
    assert not result.error.retryable
