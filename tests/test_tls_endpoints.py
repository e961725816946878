"""TLS verification is always on, and credentials only go to endpoints that are safe.

An https fault server with a certificate made at test time: refused (``TLSError``, exit 1,
not retried) unless ``AWS_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` trust it. Plain http only to
loopback unless ``--allow-insecure-endpoint``; user info or a path in an endpoint URL is
refused with the field named. Nothing is ever sent anywhere but 127.0.0.1: the loopback
guard fails a test that tries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import signer_for
from faultserver import REFUSED, FaultServer, loopback_only, ok, self_signed_cert  # noqa: F401 - loopback_only

from http_task_kms import Client, HttpTask, Options
from http_task_kms.cli import main
from http_task_kms.endpoints import check_endpoint_url
from http_task_kms.transport import Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

ACCESS_KEY, SECRET = "AKIDTLSTESTS00000001", "tlsSECRETtlsSECRETtlsSECRETtls0123456789"
CALLER = "arn:aws:iam::123456789012:user/tester"


@pytest.fixture(autouse=True)
def _no_ambient_bundles(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Path]:
    """(the server's self-signed cert, its SSL context, an unrelated self-signed cert)."""
    cert, context = self_signed_cert(tmp_path_factory.mktemp("tls"))
    unrelated, _ = self_signed_cert(tmp_path_factory.mktemp("other"))
    return cert, context, unrelated


@pytest.fixture
def https(certs: tuple[Path, Any, Path]) -> Iterator[FaultServer]:
    """An https fault server with a self-signed certificate for 127.0.0.1."""
    with FaultServer(tls=certs[1], default=ok({"Keys": []})) as server:
        yield server


def client_for(url: str) -> Client:
    return Client(
        Options(region="us-east-1", endpoint_url=url, read_timeout=1, connect_timeout=1),
        signer=signer_for(ACCESS_KEY, SECRET),
        transport=Transport(sleep=lambda _: None),
    )


# -- certificate verification ------------------------------------------------------------------
def test_self_signed_certificate_is_refused_and_not_retried(https):
    result = client_for(https.url).test_request("kms.ListKeys", {})
    assert not result.ok
    assert result.statusCode is None
    assert result.attempts == 1
    assert result.error.code == "TLSError"
    assert not result.error.retryable
    assert "certificate verify failed" in result.error.message
    assert https.wait_until(lambda s: s.tls_failures >= 1)  # the handshake failed...
    assert https.count == 0  # ...so not a byte of the request was sent


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_ca_bundle_variable_trusts_the_certificate(https, certs, monkeypatch, variable):
    monkeypatch.setenv(variable, str(certs[0]))
    result = client_for(https.url).test_request("kms.ListKeys", {})
    assert result.ok, result.to_json()
    assert result.body == {"Keys": []}
    assert https.count == 1


def test_aws_ca_bundle_wins_over_requests_ca_bundle(https, certs, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs[0]))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certs[2]))  # trusts another certificate only
    result = client_for(https.url).test_request("kms.ListKeys", {})
    assert result.error.code == "TLSError"
    assert https.count == 0


def test_missing_ca_bundle_file_is_a_tls_error_not_a_traceback(https, monkeypatch, tmp_path):
    missing = tmp_path / "missing-ca.pem"
    monkeypatch.setenv("AWS_CA_BUNDLE", str(missing))
    result = client_for(https.url).test_request("kms.ListKeys", {})
    assert result.error.code == "TLSError"
    assert not result.error.retryable
    assert result.attempts == 1
    assert str(missing) in result.error.message
    assert https.count == 0


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, dict[str, Any]]]:
    """Run the CLI in process with env credentials: (exit code, the JSON document)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    (tmp_path / "input.json").write_text("{}")

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        outcome = CliRunner().invoke(main, [*args, "--input", str(tmp_path / "input.json")])
        assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
        return outcome.exit_code, json.loads(outcome.stdout)

    return run


def test_cli_self_signed_is_exit_1_even_with_allow_insecure(https, cli):
    for extra in ([], ["--allow-insecure-endpoint"]):
        status, document = cli(
            "test-request", "kms.ListKeys", "--endpoint-url", https.url, "--region", "us-east-1", *extra
        )
        assert status == 1
        assert document["error"]["code"] == "TLSError"
        assert document["attempts"] == 1
    assert https.count == 0


def test_cli_with_ca_bundle_is_exit_0(https, certs, cli, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certs[0]))
    status, document = cli(
        "test-request", "kms.ListKeys", "--endpoint-url", https.url, "--region", "us-east-1"
    )
    assert status == 0
    assert document["ok"] is True
    assert https.count == 1


# -- which endpoint URLs are accepted -------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4566",
        "http://127.0.0.1:4566/",
        "http://127.9.9.9:80/",
        "http://localhost:8080",
        "http://LOCALHOST:8080",
        "http://[::1]:4566/",
        "https://kms.us-east-1.amazonaws.com",
        "https://vpce-0123.kms.us-east-1.vpce.amazonaws.com/",
        "https://10.0.0.5/",
    ],
)
def test_accepted_endpoint_urls(url):
    assert check_endpoint_url(url) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com", "loopback"),
        ("http://10.0.0.5:4566/", "loopback"),
        ("http://0.0.0.0:4566/", "loopback"),
        ("http://localhost.example.com/", "loopback"),
        ("http://127.0.0.1.nip.io/", "loopback"),
        ("https://user:hunter2@kms.us-east-1.amazonaws.com/", "user info"),
        ("https://user@127.0.0.1/", "user info"),
        ("http://127.0.0.1@example.com/", "user info"),
        ("https://kms.us-east-1.amazonaws.com/v1", "path"),
        ("http://127.0.0.1:4566/?x=1", "query"),
        ("http://127.0.0.1:4566/#frag", "fragment"),
        ("ftp://127.0.0.1/", "http(s) URL"),
        ("127.0.0.1:4566", "http(s) URL"),
        ("http://127.0.0.1:99999/", "not a valid URL"),
        ("http:///", "http(s) URL"),
        ("https://exa mple.com/", "not a valid host"),
        ("https://kms.us-east-1.amazonaws.com\\.evil.com/", "not a valid host"),
        ("http://%31%32%37.0.0.1/", "not a valid host"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_refused_endpoint_urls_name_the_field_and_the_rule(url, words):
    problems = check_endpoint_url(url, field="endpoint-url")
    assert problems, url
    assert all(p.field == "endpoint-url" for p in problems)
    assert any(words in p.message for p in problems), problems
    assert all("hunter2" not in p.message for p in problems)  # a password in the URL is not echoed


def test_allow_insecure_permits_plain_http_but_nothing_else():
    assert check_endpoint_url("http://example.com", allow_insecure=True) == []
    assert check_endpoint_url("http://u:p@example.com", allow_insecure=True)
    assert check_endpoint_url("http://example.com/path", allow_insecure=True)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com", "loopback"),
        ("http://example.com:4566/", "loopback"),
        ("https://admin:s3cretpw@127.0.0.1/", "user info"),
        ("https://127.0.0.1/kms", "path"),
    ],
)
@pytest.mark.parametrize("command", ["test-request", "render"])
def test_cli_refuses_the_endpoint_with_exit_2_and_sends_nothing(cli, command, url, words):
    status, document = cli(
        command, "kms.ListKeys", "--endpoint-url", url, "--region", "us-east-1", "--caller-arn", CALLER
    )
    assert status == 2
    assert document["statusCode"] is None
    assert document["error"]["code"] == "ValidationError"
    problems = document["error"]["problems"]
    assert any(p["field"] == "endpoint-url" and words in p["message"] for p in problems), problems
    assert "s3cretpw" not in json.dumps(document)
    assert REFUSED == []  # not even a DNS lookup of example.com


def test_cli_render_with_allow_insecure_accepts_plain_http_and_sends_nothing(cli):
    status, document = cli(
        "render",
        "kms.ListKeys",
        "--endpoint-url",
        "http://example.com:4566",
        "--allow-insecure-endpoint",
        "--region",
        "us-east-1",
        "--caller-arn",
        CALLER,
    )
    assert status == 0
    assert document["request"]["url"] == "http://example.com:4566/"
    assert REFUSED == []


def test_task_url_is_checked_too(cli, tmp_path):
    task = {
        "httpRequest": {
            "url": "http://example.com/",
            "method": "POST",
            "headers": {"X-Amz-Target": "TrentService.ListKeys"},
            "body": {},
        }
    }
    (tmp_path / "task.json").write_text(json.dumps(task))
    status, document = cli("test-request", "--task", str(tmp_path / "task.json"), "--region", "us-east-1")
    assert status == 2
    assert any(p["field"] == "httpRequest.url" for p in document["error"]["problems"])
    assert REFUSED == []


def test_task_url_over_https_with_self_signed_cert_is_refused(https):
    task = HttpTask.model_validate(
        {
            "httpRequest": {
                "url": https.url,
                "method": "POST",
                "headers": {"X-Amz-Target": "TrentService.ListKeys"},
                "body": {},
            }
        }
    )
    client = Client(
        Options(region="us-east-1", endpoint_url=https.url),  # the operator's endpoint, so it is tried
        signer=signer_for(ACCESS_KEY, SECRET),
        transport=Transport(sleep=lambda _: None),
    )
    result = client.test_task(task, {})
    assert result.error.code == "TLSError"
    assert result.attempts == 1
    assert https.count == 0
