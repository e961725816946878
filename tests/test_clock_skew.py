"""Clock skew: signed once more with the server's clock, as the AWS SDKs do — once, not forever.

The clocks are stopped (``frozen_clock``: botocore's signing clock, the transport's wall clock
and the fault server's), so every X-Amz-Date is known to the second; only the command-line
test, whose transport the CLI makes, runs on the real clock.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FROZEN_NOW, signer_for
from faultserver import (
    FaultServer,
    Received,
    aws_error,
    check,
    loopback_only,  # noqa: F401 - a fixture, used by pytestmark
    ok,
    skewed,
    verify_sigv4,
)

from http_task_kms import Client, Options
from http_task_kms.cli import main
from http_task_kms.transport import Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

ACCESS_KEY, SECRET = "AKIDSKEWTESTS0000001", "skewSECRETskewSECRETskewSECRET0123456789"
HOUR = 3600.0


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as started:
        yield started


NOW = FROZEN_NOW.timestamp()


def client_for(server: FaultServer, **overrides: object) -> Client:
    """A client whose transport's wall clock is stopped at NOW (use with ``frozen_clock``)."""
    options = Options(
        **{
            "region": "us-east-1",
            "endpoint_url": server.url,
            "read_timeout": 1,
            "connect_timeout": 1,
            **overrides,
        }
    )
    transport = Transport(sleep=lambda _: None, wall_clock=lambda: NOW)
    return Client(options, signer=signer_for(ACCESS_KEY, SECRET), transport=transport)


def signed_at(offset: float):
    """A predicate: the request was signed at exactly NOW + ``offset`` (the clocks are stopped)."""
    expected = FROZEN_NOW + datetime.timedelta(seconds=offset)
    return lambda received: received.amz_date == expected


def expect_date(offset: float):
    """200 when signed at NOW + ``offset``, else a skew error again."""
    return check(signed_at(offset), ok({"Keys": []}), aws_error("InvalidSignatureException", "still skewed"))


def later_than_the_first_by(server: FaultServer, offset: float, slack: float = 60.0):
    """A predicate on the real clock: signed ``offset`` seconds after the first request (± ``slack``)."""

    def predicate(received: Received) -> bool:
        first = server.received[0].amz_date
        return (
            first is not None
            and received.amz_date is not None
            and abs((received.amz_date - first).total_seconds() - offset) <= slack
        )

    return predicate


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (HOUR, "InvalidSignatureException"),  # "Signature expired": the local clock is behind
        (-HOUR, "InvalidSignatureException"),  # "Signature not yet current": the local clock is ahead
        (HOUR, "RequestTimeTooSkewed"),
        (-2 * HOUR, "RequestExpired"),
    ],
    ids=["expired", "not-yet-current", "too-skewed", "request-expired"],
)
def test_skew_is_corrected_by_the_server_date(server, frozen_clock, offset, code):
    message = (
        None
        if code == "InvalidSignatureException"
        else "The difference between the request time and the current time is too large."
    )
    server.push(skewed(offset, code=code, message=message, now=NOW), expect_date(offset))
    client = client_for(server)
    result = client.test_request("kms.ListKeys", {})
    assert result.ok, result.to_json()
    assert result.attempts == 2
    assert server.count == 2
    first, second = server.received
    assert signed_at(0)(first)
    assert signed_at(offset)(second)
    assert verify_sigv4(second, SECRET, url=server.url)  # signed, not just re-dated
    # the correction is kept: the next request is signed with the server's clock at once
    server.push(expect_date(offset))
    again = client.test_request("kms.ListKeys", {})
    assert again.ok
    assert again.attempts == 1


def test_a_second_skew_answer_is_not_corrected_again(server, frozen_clock):
    server.push(skewed(HOUR, now=NOW), skewed(2 * HOUR, now=NOW), ok())
    result = client_for(server).test_request("kms.ListKeys", {})
    assert not result.ok
    assert result.attempts == 2
    assert server.count == 2
    assert result.error.code == "InvalidSignatureException"
    assert not result.error.retryable
    assert [r.amz_date for r in server.received] == [FROZEN_NOW, FROZEN_NOW + datetime.timedelta(hours=1)]


@pytest.mark.parametrize(
    "answer",
    [
        skewed(30, now=NOW),  # under a minute: not worth correcting
        aws_error(
            "InvalidSignatureException",
            "Signature expired: x is now earlier than y",
            headers={"Date": "not a date"},
        ),
        aws_error(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
            date_offset=HOUR,
            now=NOW,
        ),  # not a clock problem
        aws_error("AccessDeniedException", "request time in the future", date_offset=HOUR, now=NOW),
    ],
    ids=["small-skew", "no-usable-date", "signature-mismatch", "other-code"],
)
def test_no_correction_without_a_skew_error_and_a_usable_date(server, frozen_clock, answer):
    server.push(answer, ok())
    result = client_for(server).test_request("kms.ListKeys", {})
    assert not result.ok
    assert result.attempts == 1
    assert server.count == 1


def test_cli_skew_then_success_is_exit_0_and_twice_skewed_is_exit_1(server, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    (tmp_path / "in.json").write_text("{}")
    args = [
        "test-request",
        "kms.ListKeys",
        "--input",
        str(tmp_path / "in.json"),
        "--endpoint-url",
        server.url,
        "--region",
        "us-east-1",
        "--max-attempts",
        "2",
    ]
    resigned = later_than_the_first_by(server, HOUR)
    server.push(
        skewed(HOUR), check(resigned, ok({"Keys": []}), aws_error("InvalidSignatureException", "skewed"))
    )
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == 0
    assert json.loads(outcome.stdout)["attempts"] == 2
    server.push(skewed(HOUR), skewed(HOUR))
    outcome = CliRunner().invoke(main, args)
    document = json.loads(outcome.stdout)
    assert outcome.exit_code == 1
    assert document["attempts"] == 2
    assert document["error"]["code"] == "InvalidSignatureException"
