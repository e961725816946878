"""Attacks on the trust boundary, each reproduced against a server or proxy on 127.0.0.1.

The operator's command line, environment and AWS profile are trusted; a task definition,
its input parameters, a backup file and a ``--spec`` document are not. These tests play
the hostile side: a task that spells PutKeyPolicy another way so that no check runs, a
task URL naming the attacker's host (which resolves, here, to a recording server on
loopback that holds a valid certificate for its name), a backup taken from a local
endpoint restored to AWS, a proxy that would see plain-http credentials, a skewed clock.
"""

from __future__ import annotations

import datetime
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import KEY_ID, policy_for, write_json
from faultserver import (
    REFUSED,
    FaultServer,
    Received,
    aws_error,
    by_target,
    check,
    loopback_only,  # noqa: F401 - a fixture
    ok,
    self_signed_cert,
    skewed,
)
from proxyserver import RecordingProxy

from http_task_kms.cli import main

ACCOUNT = "123456789012"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/admin"
ACCESS_KEY, SECRET, TOKEN = (
    "AKIDTRUSTTESTS000001",
    "trustSECRETtrustSECRETtrustSECRET0123456",
    "trustTOKEN/trustTOKEN+trustTOKEN=trustTOKEN0123456789",
)
ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_SESSION_TOKEN": TOKEN}
#: A policy that grants only another account: the lockout check refuses it for CALLER.
LOCKOUT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
STS_OK = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>{CALLER}</Arn><UserId>AIDAEXAMPLE</UserId><Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
)
EVIL_NAMES = ("evil.example.com", "kms.us-east-1.amazonaws.com.evil.example.com")

pytestmark = pytest.mark.usefixtures("loopback_only")


def _is_sts(received: Received) -> bool:
    return b"Action=GetCallerIdentity" in received.body


def _sts_xml_error(code: str, status: int = 403) -> Callable[..., None]:
    body = f"<ErrorResponse><Error><Code>{code}</Code><Message>no</Message></Error></ErrorResponse>"

    def behave(handler: Any, _: Received) -> None:
        handler.answer(status, body.encode(), {"Content-Type": "text/xml"})

    return behave


def kms_like(put: Callable[..., None] | None = None) -> Callable[..., None]:
    """A server that answers like the whole AWS side: STS, GetKeyPolicy and PutKeyPolicy."""
    return check(
        _is_sts,
        ok(STS_OK.encode(), headers={"Content-Type": "text/xml"}),
        by_target({"GetKeyPolicy": ok({"Policy": json.dumps(policy_for(CALLER))})}, put or ok(None)),
    )


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    outcome = CliRunner().invoke(main, list(args), env={**ENV, **(env or {})}, catch_exceptions=False)
    return outcome.exit_code, json.loads(outcome.stdout)


def put_task(
    target: str = "TrentService.PutKeyPolicy", url: str = "https://kms.us-east-1.amazonaws.com/"
) -> Any:
    """A hand-written PutKeyPolicy task, as a hostile template author would write it."""
    return {
        "type": "Http",
        "credentials": "saved-credentials-7",
        "httpRequest": {
            "url": url,
            "method": "POST",
            "headers": {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
            "body": {
                "KeyId": "${$.KeyId}",
                "PolicyName": "default",
                "Policy": "${$.Policy}",
                "BypassPolicyLockoutSafetyCheck": False,
            },
        },
    }


def list_task(url: str) -> Any:
    """A ListKeys task at ``url``."""
    task = put_task("TrentService.ListKeys", url=url)
    task["httpRequest"]["body"] = {}
    return task


def put_input(policy: Any = None, **extra: Any) -> dict[str, Any]:
    return {"region": "us-east-1", "KeyId": KEY_ID, "Policy": json.dumps(policy or LOCKOUT_POLICY), **extra}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    """A recording server on 127.0.0.1 that answers like KMS and STS."""
    with FaultServer(default=kms_like()) as running:
        yield running


@pytest.fixture
def hostile_dns(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> list[str]:
    """The attacker's names resolve to 127.0.0.1 (where a recording server listens); lists lookups."""
    request.getfixturevalue("loopback_only")  # other names stay refused
    looked_up: list[str] = []
    guarded = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in EVIL_NAMES:
            looked_up.append(name)
            return guarded("127.0.0.1", *args, **kwargs)
        return guarded(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.fixture
def evil_tls(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultServer]:
    """An https server holding a valid (trusted) certificate for the attacker's names."""
    cert, context = self_signed_cert(tmp_path_factory.mktemp("evil"), names=EVIL_NAMES)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    with FaultServer(tls=context, default=kms_like()) as running:
        yield running


# -- 1. checks follow what goes on the wire ------------------------------------------------------
TARGET_VARIANTS = [
    "TrentService.PutKeyPolicy ",
    "TrentService.PutKeyPolicy\t",
    " TrentService.PutKeyPolicy",
    "trentservice.putkeypolicy",
    "TRENTSERVICE.PUTKEYPOLICY",
    "TrentService.putKeyPolicy",
]


@pytest.mark.parametrize("target", TARGET_VARIANTS)
@pytest.mark.parametrize("command", ["test-request", "render"])
def test_a_respelled_put_key_policy_is_refused_and_nothing_is_sent(
    server: FaultServer, tmp_path: Path, target: str, command: str
) -> None:
    task = write_json(tmp_path / "task.json", put_task(target))
    params = write_json(tmp_path / "in.json", put_input())
    code, result = cli(command, "--task", task, "--input", params, "--endpoint-url", server.url)
    assert code == 2, result
    problems = result["error"]["problems"]
    assert [p["field"] for p in problems] == ["httpRequest.headers.X-Amz-Target"]
    assert "TrentService.PutKeyPolicy" in problems[0]["message"]
    assert server.received == []


def test_two_target_headers_differing_in_case_are_refused(server: FaultServer, tmp_path: Path) -> None:
    task = put_task("TrentService.ListKeys")
    task["httpRequest"]["headers"]["x-amz-target"] = "TrentService.PutKeyPolicy"
    code, result = cli(
        "test-request",
        "--task",
        write_json(tmp_path / "task.json", task),
        "--input",
        write_json(tmp_path / "in.json", put_input()),
        "--endpoint-url",
        server.url,
    )
    assert code == 2, result
    fields = [p["field"] for p in result["error"]["problems"]]
    assert "httpRequest.headers.X-Amz-Target" in fields
    assert server.received == []


def test_an_unknown_operation_of_a_known_service_needs_the_operator(
    server: FaultServer, tmp_path: Path
) -> None:
    task = write_json(tmp_path / "task.json", put_task("TrentService.PutKeyPolicyV2"))
    params = write_json(tmp_path / "in.json", put_input())
    code, result = cli("test-request", "--task", task, "--input", params, "--endpoint-url", server.url)
    assert code == 2, result
    problem = result["error"]["problems"][0]
    assert problem["field"] == "httpRequest.headers.X-Amz-Target"
    assert "--allow-unknown-operation" in problem["message"]
    assert server.received == []
    code, result = cli(
        "test-request",
        "--task",
        task,
        "--input",
        params,
        "--endpoint-url",
        server.url,
        "--allow-unknown-operation",
    )
    assert code == 0, result
    assert [r.header("X-Amz-Target") for r in server.received] == ["TrentService.PutKeyPolicyV2"]


def test_a_spec_document_cannot_disguise_put_key_policy(server: FaultServer, tmp_path: Path) -> None:
    """A --spec operation named otherwise, with a permissive schema, is still a PutKeyPolicy on the wire."""
    target = "TrentService.PutKeyPolicy"
    document = {
        "openapi": "3.0.3",
        "info": {"title": "kms", "version": "1", "x-serviceName": "kms"},
        "servers": [{"url": "https://kms.{region}.amazonaws.com"}],
        "paths": {
            f"/#X-Amz-Target={target}": {
                "post": {
                    "operationId": "Harmless",
                    "parameters": [
                        {
                            "name": "X-Amz-Target",
                            "in": "header",
                            "required": True,
                            "schema": {"enum": [target]},
                        }
                    ],
                    "requestBody": {
                        "content": {
                            "application/x-amz-json-1.1": {"schema": {"$ref": "#/components/schemas/H"}}
                        }
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": {"H": {"type": "object", "properties": {"KeyId": {}, "Policy": {}}}}},
    }
    spec = write_json(tmp_path / "spec.json", document)
    params = write_json(tmp_path / "in.json", put_input())
    code, result = cli(
        "test-request", "kms.Harmless", "--spec", spec, "--input", params, "--endpoint-url", server.url
    )
    assert code == 2, result
    assert any("LOCKOUT_FAIL" in p["message"] for p in result["error"]["problems"])
    assert [r.header("X-Amz-Target") for r in server.received if not _is_sts(r)] == []


def test_the_safety_read_uses_the_plugins_own_get_key_policy(server: FaultServer, tmp_path: Path) -> None:
    """A --spec whose 'GetKeyPolicy' is another operation cannot make the backup step send it."""
    from http_task_kms import Client

    document = yaml_free_kms_document(Client().registry)
    document["paths"]["/#X-Amz-Target=TrentService.GetKeyPolicy"]["post"]["parameters"][0]["schema"][
        "enum"
    ] = ["TrentService.ScheduleKeyDeletion"]
    spec = write_json(tmp_path / "spec.json", document)
    params = write_json(tmp_path / "in.json", put_input(policy_for(CALLER)))
    code, result = cli(
        "test-request",
        "kms.PutKeyPolicy",
        "--spec",
        spec,
        "--input",
        params,
        "--endpoint-url",
        server.url,
        "--backup-dir",
        str(tmp_path / "b"),
    )
    targets = [r.header("X-Amz-Target") for r in server.received if not _is_sts(r)]
    assert "TrentService.ScheduleKeyDeletion" not in targets
    assert targets[0] == "TrentService.GetKeyPolicy"
    assert code == 0, result


def yaml_free_kms_document(registry: Any) -> dict[str, Any]:
    """The committed KMS OpenAPI document, as a dict (to be altered by a test)."""
    from http_task_kms.kms.templates import spec_path
    from http_task_kms.openapi.load import load_document

    return json.loads(json.dumps(load_document(spec_path())))


# -- 2. credentials go only where the operator sends them -----------------------------------------
@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("https://evil.example.com:{port}/", {}),
        ("https://kms.us-east-1.amazonaws.com.evil.example.com:{port}/", {}),
        ("${$.endpoint}", {"endpoint": "https://evil.example.com:{port}/"}),
    ],
    ids=["other-host", "lookalike", "from-input"],
)
def test_a_task_url_naming_another_host_gets_nothing(
    evil_tls: FaultServer, hostile_dns: list[str], tmp_path: Path, url: str, params: dict[str, str]
) -> None:
    port = evil_tls.url.rsplit(":", 1)[1].strip("/")
    task = write_json(tmp_path / "task.json", put_task(url=url.replace("{port}", port)))
    given = {k: v.replace("{port}", port) for k, v in params.items()}
    code, result = cli(
        "test-request",
        "--task",
        task,
        "--input",
        write_json(tmp_path / "in.json", put_input(policy_for(CALLER), **given)),
    )
    assert code == 2, result
    problems = result["error"]["problems"]
    assert [p["field"] for p in problems] == ["httpRequest.url"]
    assert "kms.us-east-1.amazonaws.com" in problems[0]["message"]  # which hosts are allowed
    assert "--endpoint-url" in problems[0]["message"]  # and how the operator allows another
    assert evil_tls.received == []
    assert hostile_dns == []  # not even a DNS lookup


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/",
        "https://[fd00:ec2::254]/",
        "https://10.0.0.5/",
        "https://192.168.1.1:8443/",
        "https://localhost:8443/",
        "https://kms.us-east-1.amazonaws.com:8443/",
        "http://kms.us-east-1.amazonaws.com/",
    ],
)
def test_private_link_local_and_metadata_addresses_are_refused_before_connecting(
    tmp_path: Path, url: str
) -> None:
    task = write_json(tmp_path / "task.json", list_task(url))
    params = write_json(tmp_path / "in.json", {"region": "us-east-1"})
    code, result = cli("test-request", "--task", task, "--input", params)
    assert code == 2, result
    assert [p["field"] for p in result["error"]["problems"]] == ["httpRequest.url"]
    assert REFUSED == []


def test_the_operators_endpoint_is_allowed_for_a_task(server: FaultServer, tmp_path: Path) -> None:
    task = write_json(tmp_path / "task.json", list_task(server.url))
    params = write_json(tmp_path / "in.json", {"region": "us-east-1"})
    code, result = cli("test-request", "--task", task, "--input", params, "--endpoint-url", server.url)
    assert code == 0, result
    assert server.count == 1


def test_a_configured_endpoint_from_the_environment_is_allowed(server: FaultServer, tmp_path: Path) -> None:
    task = write_json(tmp_path / "task.json", list_task(server.url))
    params = write_json(tmp_path / "in.json", {"region": "us-east-1"})
    code, result = cli(
        "test-request", "--task", task, "--input", params, env={"AWS_ENDPOINT_URL_KMS": server.url}
    )
    assert code == 0, result
    assert server.count == 1
    code, result = cli(
        "test-request",
        "--task",
        task,
        "--input",
        params,
        env={"AWS_ENDPOINT_URL_KMS": server.url, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
    )
    assert code == 2, result
    assert server.count == 1


# -- 3. keys come from the operator, never from the task ----------------------------------------
def test_the_task_credentials_id_is_shown_and_never_selects_keys(server: FaultServer, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile saved-credentials-7]\nregion = us-east-1\n")
    creds = tmp_path / "credentials"
    creds.write_text(
        "[saved-credentials-7]\naws_access_key_id = AKIDOTHERPROFILE0001\naws_secret_access_key = other\n"
    )
    task = write_json(tmp_path / "task.json", list_task(server.url))
    code, result = cli(
        "test-request",
        "--task",
        task,
        "--input",
        write_json(tmp_path / "in.json", {"region": "us-east-1"}),
        "--endpoint-url",
        server.url,
        env={"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)},
    )
    assert code == 0, result
    assert [r.access_key for r in server.received] == [ACCESS_KEY]
    assert result["request"]["credentials"] == "saved-credentials-7"


# -- 4. proxies -----------------------------------------------------------------------------------
def _list_keys(
    server: FaultServer, tmp_path: Path, env: dict[str, str], *extra: str
) -> tuple[int, dict[str, Any]]:
    return cli(
        "test-request",
        "kms.ListKeys",
        "--input",
        write_json(tmp_path / "in.json", {"region": "us-east-1"}),
        "--endpoint-url",
        server.url,
        "--max-attempts",
        "1",
        *extra,
        env=env,
    )


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"])
def test_plain_http_ignores_a_proxy_that_is_not_on_loopback(
    server: FaultServer, tmp_path: Path, variable: str
) -> None:
    code, result = _list_keys(server, tmp_path, {variable: "http://10.255.255.1:3128"})
    assert code == 0, result
    assert server.count == 1
    assert REFUSED == []  # never tried the proxy


def test_plain_http_uses_a_proxy_on_loopback_and_honours_no_proxy(
    server: FaultServer, tmp_path: Path
) -> None:
    with RecordingProxy() as proxy:
        code, result = _list_keys(server, tmp_path, {"HTTP_PROXY": proxy.url})
        assert code == 0, result
        assert proxy.seen == [("POST", server.url)]
        code, result = _list_keys(server, tmp_path, {"HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"})
        assert code == 0, result
        assert len(proxy.seen) == 1
    assert server.count == 2


def test_https_goes_through_the_proxy_by_connect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, context = self_signed_cert(tmp_path)
    with FaultServer(tls=context, default=ok({"Keys": []})) as https, RecordingProxy() as proxy:
        code, result = _list_keys(https, tmp_path, {"HTTPS_PROXY": proxy.url, "AWS_CA_BUNDLE": str(cert)})
        assert code == 0, result
        host_port = https.url.removeprefix("https://").rstrip("/")
        assert proxy.seen == [("CONNECT", host_port)]
        assert https.count == 1


# -- 5. a preflight failure says what failed ------------------------------------------------------
def _put(server: FaultServer, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    return cli(
        "test-request",
        "kms.PutKeyPolicy",
        "--input",
        write_json(tmp_path / "in.json", put_input(policy_for(CALLER))),
        "--endpoint-url",
        server.url,
        "--backup-dir",
        str(tmp_path / "b"),
        "--max-attempts",
        "1",
        *extra,
    )


@pytest.mark.parametrize("code", ["SignatureDoesNotMatch", "ExpiredToken", "AccessDenied"])
def test_a_failed_caller_lookup_is_that_calls_error(tmp_path: Path, code: str) -> None:
    with FaultServer(default=check(_is_sts, _sts_xml_error(code), ok(None))) as server:
        status, result = _put(server, tmp_path)
        assert server.count == 1  # nothing else is sent after it
    assert status == 1, result
    assert result["statusCode"] is None
    assert result["sent"] is False
    assert result["error"]["code"] == code
    assert result["error"]["step"] == "GetCallerIdentity"
    assert result["error"]["statusCode"] == 403
    assert result["error"]["retryable"] is False


def test_a_denied_get_key_policy_is_that_calls_error(tmp_path: Path) -> None:
    denied = aws_error("AccessDeniedException", "not allowed kms:GetKeyPolicy")
    with FaultServer(default=kms_like()) as server:
        server.default = check(
            _is_sts,
            ok(STS_OK.encode(), headers={"Content-Type": "text/xml"}),
            by_target({"GetKeyPolicy": denied}, ok(None)),
        )
        status, result = _put(server, tmp_path)
        targets = [r.header("X-Amz-Target") for r in server.received if not _is_sts(r)]
    assert status == 1, result
    assert targets == ["TrentService.GetKeyPolicy"]
    assert result["statusCode"] is None
    assert result["sent"] is False
    assert result["error"]["step"] == "GetKeyPolicy"
    assert result["error"]["code"] == "AccessDeniedException"
    assert result["error"]["statusCode"] == 400


def test_a_wrong_secret_against_moto_names_the_caller_lookup(
    kms_url: str, admin: Any, new_key: str, tmp_path: Path
) -> None:
    params = write_json(
        tmp_path / "in.json", {"KeyId": new_key, "Policy": policy_for(admin.arn), "region": "us-east-1"}
    )
    outcome = CliRunner().invoke(
        main,
        [
            "test-request",
            "kms.PutKeyPolicy",
            "--input",
            params,
            "--endpoint-url",
            kms_url,
            "--backup-dir",
            str(tmp_path),
        ],
        env={
            "AWS_ACCESS_KEY_ID": admin.access_key_id,
            "AWS_SECRET_ACCESS_KEY": "wrong-secret-wrong-secret-0000000000000",
        },
        catch_exceptions=False,
    )
    result = json.loads(outcome.stdout)
    assert outcome.exit_code == 1, result
    assert result["error"]["step"] == "GetCallerIdentity"
    assert result["error"]["code"] == "SignatureDoesNotMatch"
    assert result["sent"] is False


# -- 6. clock skew ---------------------------------------------------------------------------------
def test_a_skew_of_more_than_a_day_is_not_corrected(tmp_path: Path) -> None:
    with FaultServer(default=skewed(offset=2 * 86400)) as server:
        code, result = _list_keys(server, tmp_path, {}, "--max-attempts", "3")
        assert server.count == 1  # not signed again with a clock two days off
    assert code == 1
    assert "clock" in result["error"]["message"]


def test_a_skew_correction_stays_with_its_endpoint(frozen_clock: float) -> None:
    from conftest import FROZEN_NOW, signer_for

    from http_task_kms import Client, Options
    from http_task_kms.transport import Transport

    transport = Transport(sleep=lambda _: None, wall_clock=lambda: frozen_clock)  # the clocks stopped
    signer = signer_for(ACCESS_KEY, SECRET)
    with FaultServer() as a, FaultServer(default=ok({"Keys": []})) as b:
        a.push(skewed(offset=3600, now=frozen_clock), ok({"Keys": []}))
        first = Client(Options(region="us-east-1", endpoint_url=a.url), signer=signer, transport=transport)
        assert first.test_request("kms.ListKeys", {}).ok
        second = Client(Options(region="us-east-1", endpoint_url=b.url), signer=signer, transport=transport)
        assert second.test_request("kms.ListKeys", {}).ok
        corrected, sent = a.received[1].amz_date, b.received[0].amz_date
    assert corrected == FROZEN_NOW + datetime.timedelta(hours=1)  # a's clock, for a
    assert sent == FROZEN_NOW  # not for b: signed by our own clock


# -- 7. rollback trusts only the policy in the backup ---------------------------------------------
def _backup(tmp_path: Path, endpoint: str | None, region: str = "us-east-1") -> str:
    document = {
        "format": "http-task-kms/key-policy-backup@1",
        "keyId": KEY_ID,
        "region": region,
        "policyName": "default",
        "savedAt": "2026-11-29T12:00:00+00:00",
        "policy": json.dumps(policy_for(CALLER)),
    }
    if endpoint is not None:
        document["endpoint"] = endpoint
    return write_json(tmp_path / "backup.json", document)


def test_a_backup_from_a_local_endpoint_is_not_sent_to_aws(server: FaultServer, tmp_path: Path) -> None:
    code, result = cli("rollback", _backup(tmp_path, server.url), "--backup-dir", str(tmp_path / "b"))
    assert code == 2, result
    assert server.url in result["error"]["problems"][0]["message"]
    assert REFUSED == []
    assert server.received == []


def test_a_backup_is_restored_only_to_its_own_endpoint(server: FaultServer, tmp_path: Path) -> None:
    with FaultServer() as other:
        code, result = cli("rollback", _backup(tmp_path, server.url), "--endpoint-url", other.url)
        assert code == 2, result
        assert other.received == []
    code, result = cli("rollback", _backup(tmp_path, None), "--endpoint-url", server.url)
    assert code == 2, result  # no recorded endpoint counts as AWS's endpoint for its Region
    assert server.received == []


def test_a_region_that_disagrees_with_the_backup_is_an_error(server: FaultServer, tmp_path: Path) -> None:
    code, result = cli(
        "rollback", _backup(tmp_path, server.url), "--endpoint-url", server.url, "--region", "eu-west-1"
    )
    assert code == 2, result
    assert result["error"]["problems"][0]["field"] == "region"
    assert server.received == []


def test_rollback_to_the_recorded_endpoint_shows_key_and_region(tmp_path: Path) -> None:
    current = policy_for(CALLER, "arn:aws:iam::123456789012:role/Other")
    answers = check(
        _is_sts,
        ok(STS_OK.encode(), headers={"Content-Type": "text/xml"}),
        by_target({"GetKeyPolicy": ok({"Policy": json.dumps(current)})}, ok(None)),
    )
    with FaultServer(default=answers) as server:
        code, result = cli(
            "rollback",
            _backup(tmp_path, server.url),
            "--endpoint-url",
            server.url,
            "--backup-dir",
            str(tmp_path / "b"),
            "--connect-timeout",
            "2",
            "--no-verify",  # this server cannot store a policy: it would always read back the old one
        )
        targets = [r.header("X-Amz-Target") for r in server.received if not _is_sts(r)]
    assert code == 0, result
    assert targets == ["TrentService.GetKeyPolicy", "TrentService.PutKeyPolicy"]
    assert result["keyId"] == KEY_ID
    assert result["region"] == "us-east-1"


@pytest.mark.parametrize("target", ["TrentService.PutKeyPolicy ", "trentservice.PutKeyPolicy"])
def test_a_spec_document_cannot_make_a_respelling_an_operation(
    server: FaultServer, tmp_path: Path, target: str
) -> None:
    """A --spec whose PutKeyPolicy is spelled another way is refused in template mode too."""
    from http_task_kms import Client

    document = yaml_free_kms_document(Client().registry)
    path = document["paths"].pop("/#X-Amz-Target=TrentService.PutKeyPolicy")
    path["post"]["parameters"][0]["schema"]["enum"] = [target]
    document["paths"][f"/#X-Amz-Target={target}"] = path
    spec = write_json(tmp_path / "spec.json", document)
    params = write_json(tmp_path / "in.json", put_input())
    code, result = cli(
        "test-request", "kms.PutKeyPolicy", "--spec", spec, "--input", params, "--endpoint-url", server.url
    )
    assert code == 2, result
    assert [p["field"] for p in result["error"]["problems"]] == ["httpRequest.headers.X-Amz-Target"]
    assert server.received == []
