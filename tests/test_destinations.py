"""Which hosts may receive credentials, and the operator's endpoint settings as the SDKs read them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from conftest import signer_for
from faultserver import FaultServer, ok

from http_task_kms import Client, Options
from http_task_kms.destinations import OperatorEndpoints, is_aws_endpoint, normal_url, service_from_host
from http_task_kms.errors import DestinationRefused, PreflightFailed


@pytest.mark.parametrize(
    "url",
    [
        "https://kms.us-east-1.amazonaws.com/",
        "https://kms-fips.us-east-1.amazonaws.com/",
        "https://kms.us-east-1.api.aws/",
        "https://kms-fips.us-east-1.api.aws/",
        "https://KMS.US-EAST-1.AMAZONAWS.COM/",
        "https://kms.us-east-1.amazonaws.com./",
        "https://kms.us-east-1.amazonaws.com:443/",
        "https://vpce-0123456789abcdef0-abcdefgh.kms.us-east-1.vpce.amazonaws.com/",
        "https://vpce-0123456789abcdef0-abcdefgh-us-east-1a.kms.us-east-1.vpce.amazonaws.com/",
        "https://vpce-0123456789abcdef0-abcdefgh.kms-fips.us-east-1.vpce.amazonaws.com/",
    ],
)
def test_the_services_own_endpoints_are_allowed(url: str) -> None:
    assert is_aws_endpoint(url, service="kms", region="us-east-1")


@pytest.mark.parametrize(
    ("url", "service", "region"),
    [
        ("https://kms.us-east-1.amazonaws.com.evil.example.com/", "kms", "us-east-1"),
        ("https://evilkms.us-east-1.amazonaws.com/", "kms", "us-east-1"),
        ("https://kms.us-east-1.amazonaws.com.cn/", "kms", "us-east-1"),
        ("https://kms.us-west-2.amazonaws.com/", "kms", "us-east-1"),  # another Region's endpoint
        ("https://sqs.us-east-1.amazonaws.com/", "kms", "us-east-1"),  # another service's endpoint
        ("http://kms.us-east-1.amazonaws.com/", "kms", "us-east-1"),
        ("https://kms.us-east-1.amazonaws.com:8443/", "kms", "us-east-1"),
        ("https://a.kms.us-east-1.amazonaws.com/", "kms", "us-east-1"),
        ("https://vpce-0123-abcd.kms.us-east-1.vpce.amazonaws.com.evil.example.com/", "kms", "us-east-1"),
        ("https://vpce-0123-abcd.sqs.us-east-1.vpce.amazonaws.com/", "kms", "us-east-1"),
        ("https://vpce-0123-abcd.kms.us-east-1.vpce.example.com/", "kms", "us-east-1"),
        ("https://169.254.169.254/", "kms", "us-east-1"),
        ("https://127.0.0.1/", "kms", "us-east-1"),
        ("https://sts.amazonaws.com/", "kms", "us-east-1"),
    ],
)
def test_everything_else_is_refused(url: str, service: str, region: str) -> None:
    assert not is_aws_endpoint(url, service=service, region=region)
    assert not OperatorEndpoints().allows(url, service=service, region=region)


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "sts.amazonaws.com"),
        ("us-east-1", "sts.us-east-1.amazonaws.com"),
        ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
        ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
    ],
)
def test_sts_global_and_regional_endpoints(region: str, host: str) -> None:
    assert is_aws_endpoint(f"https://{host}/", service="sts", region=region)


def test_china_and_govcloud_endpoints_are_their_partitions() -> None:
    assert is_aws_endpoint("https://kms.cn-north-1.amazonaws.com.cn/", service="kms", region="cn-north-1")
    assert is_aws_endpoint(
        "https://kms-fips.cn-north-1.api.amazonwebservices.com.cn/", service="kms", region="cn-north-1"
    )
    assert not is_aws_endpoint("https://kms.cn-north-1.amazonaws.com/", service="kms", region="cn-north-1")
    assert is_aws_endpoint("https://kms.us-gov-west-1.amazonaws.com/", service="kms", region="us-gov-west-1")


def test_a_service_botocore_does_not_know_gets_the_partition_forms() -> None:
    assert is_aws_endpoint("https://widgets.eu-west-1.amazonaws.com/", service="widgets", region="eu-west-1")
    assert not is_aws_endpoint(
        "https://widgets.eu-west-1.example.com/", service="widgets", region="eu-west-1"
    )


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("kms.us-east-1.amazonaws.com", "kms"),
        ("kms-fips.eu-west-1.api.aws", "kms"),
        ("vpce-01-ab.kms.us-east-1.vpce.amazonaws.com", "kms"),
        ("evil.example.com", None),
        ("127.0.0.1", None),
    ],
)
def test_service_from_host(host: str, service: str | None) -> None:
    assert service_from_host(host) == service


def test_the_guarded_signer_refuses_another_host_whatever_calls_it() -> None:
    client = Client(Options(region="us-east-1"), signer=signer_for("AKIDGUARD", "guard-secret-guard-secret"))
    with pytest.raises(DestinationRefused) as caught:
        client.signer.sign("POST", "https://evil.example.com/", {}, b"{}", service="kms", region="us-east-1")
    assert caught.value.problems[0].field == "url"
    signed = client.signer.sign(
        "POST", "https://kms.us-east-1.amazonaws.com/", {}, b"{}", service="kms", region="us-east-1"
    )
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDGUARD/")


# -- the operator's settings, read as botocore reads them ------------------------------------------
class _Stop(Exception):
    """Raised at botocore's before-send: the request goes nowhere."""


_CALLS = {"kms": "list_keys", "sts": "get_caller_identity", "secretsmanager": "list_secrets"}


def botocore_sends_to(service: str, region: str) -> str:
    """The URL a real botocore request goes to, caught at ``before-send`` (nothing is sent).

    Not ``client.meta.endpoint_url``: that is botocore's legacy resolver, which differs from
    the rule set its requests use (Secrets Manager dual-stack: ``api.aws`` vs ``amazonaws.com``).
    """
    client = botocore.session.get_session().create_client(
        service, region_name=region, aws_access_key_id="AKIDCOMPARE", aws_secret_access_key="compare"
    )
    seen: list[str] = []

    def stop(request: Any, **_: Any) -> None:
        seen.append(request.url)
        raise _Stop

    client.meta.events.register("before-send", stop)
    with pytest.raises(_Stop):
        getattr(client, _CALLS[service])()
    return seen[0]


def _config(tmp_path: Path, body: str) -> dict[str, str]:
    (tmp_path / "config").write_text(body, encoding="utf-8")
    return {"AWS_CONFIG_FILE": str(tmp_path / "config")}


SERVICES_SECTION = (
    "[default]\nservices = local\n\n[services local]\nkms =\n  endpoint_url = http://127.0.0.1:4570\n"
    "secrets_manager =\n  endpoint_url = http://127.0.0.1:4571\n"
)
SETTINGS: list[tuple[str, dict[str, str], str]] = [
    ("nothing", {}, ""),
    ("fips-env", {"AWS_USE_FIPS_ENDPOINT": "true"}, ""),
    ("dual-stack-env", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, ""),
    ("both-env", {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"}, ""),
    ("fips-profile", {}, "[default]\nuse_fips_endpoint = true\n"),
    ("dual-stack-profile", {}, "[default]\nuse_dualstack_endpoint = true\n"),
    ("global-env", {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, ""),
    (
        "service-env-wins",
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:4567"},
        "",
    ),
    ("profile-endpoint", {}, "[default]\nendpoint_url = http://127.0.0.1:4568\n"),
    ("services-section", {}, SERVICES_SECTION),
    ("env-over-profile", {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, SERVICES_SECTION),
    (
        "ignored-env",
        {"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:4567", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
        "",
    ),
    (
        "ignored-profile",
        {},
        "[default]\nendpoint_url = http://127.0.0.1:4568\nignore_configured_endpoint_urls = true\n",
    ),
    (
        "configured-over-fips",
        {"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:4567", "AWS_USE_FIPS_ENDPOINT": "true"},
        "",
    ),
]


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1", "us-gov-west-1"])
@pytest.mark.parametrize(("name", "env", "config"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_our_endpoint_is_botocores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, env: dict[str, str], config: str, region: str
) -> None:
    for key, value in {**_config(tmp_path, config), **env}.items():
        monkeypatch.setenv(key, value)
    expected = botocore_sends_to("kms", region)
    client = Client(Options(region=region), signer=signer_for("AKIDCOMPARE", "compare-secret-compare"))
    prepared = client.prepare(client.compiled_template("kms.ListKeys"), {}, dry_run=True)
    assert normal_url(prepared.url) == normal_url(expected)


@pytest.mark.parametrize(("name", "env", "config"), SETTINGS, ids=[s[0] for s in SETTINGS])
@pytest.mark.parametrize("service", ["sts", "secretsmanager"])
def test_configured_endpoints_of_other_services_are_botocores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, env: dict[str, str], config: str, service: str
) -> None:
    for key, value in {**_config(tmp_path, config), **env}.items():
        monkeypatch.setenv(key, value)
    session = botocore.session.get_session()
    expected = botocore_sends_to(service, "us-east-1")
    operator = OperatorEndpoints(session=lambda: session)
    configured = operator.configured(service)
    if configured is not None:
        assert configured.url == normal_url(expected)
    else:
        assert is_aws_endpoint(expected, service=service, region="us-east-1")


def test_the_flags_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:4567")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4569")
    operator = OperatorEndpoints(
        endpoint_url="http://127.0.0.1:5000", sts_endpoint_url="http://127.0.0.1:5001"
    )
    assert operator.configured("kms").url == "http://127.0.0.1:5000/"
    assert operator.configured("kms").source == "--endpoint-url"
    assert operator.configured("sts").url == "http://127.0.0.1:5001/"
    assert (
        OperatorEndpoints(endpoint_url="http://127.0.0.1:5000").configured("sts").url
        == "http://127.0.0.1:5000/"
    )
    assert OperatorEndpoints().configured("sts").source == "AWS_ENDPOINT_URL_STS"


# -- the caller lookup: one call per endpoint, whatever the threads -----------------------------------
STS_OK = (
    "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn>"
    "</GetCallerIdentityResult></GetCallerIdentityResponse>"
)


def test_concurrent_lookups_on_a_fresh_client_make_one_sts_call() -> None:
    with FaultServer(default=ok(STS_OK.encode(), headers={"Content-Type": "text/xml"})) as server:
        client = Client(
            Options(region="us-east-1", endpoint_url=server.url),
            signer=signer_for("AKIDLOCK", "lock-secret-lock"),
        )
        found: list[Any] = []
        threads = [threading.Thread(target=lambda: found.append(client.caller_arn())) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert found == ["arn:aws:iam::123456789012:user/a"] * 8
        assert server.count == 1


def test_a_failed_lookup_raises_the_step_and_is_not_cached() -> None:
    with FaultServer(default=ok(STS_OK.encode(), headers={"Content-Type": "text/xml"})) as server:
        server.push(
            ok(b"<Error><Code>AccessDenied</Code></Error>", status=403, headers={"Content-Type": "text/xml"})
        )
        client = Client(
            Options(region="us-east-1", endpoint_url=server.url, max_attempts=1),
            signer=signer_for("AKIDLOCK", "lock-secret-lock"),
        )
        with pytest.raises(PreflightFailed) as caught:
            client.caller_arn()
        assert (caught.value.step, caught.value.code, caught.value.status_code) == (
            "GetCallerIdentity",
            "AccessDenied",
            403,
        )
        assert client.caller_arn() == "arn:aws:iam::123456789012:user/a"


def test_the_operators_settings_are_read_once_per_service_and_the_memory_of_them_is_bounded() -> None:
    reads: list[int] = []

    def environ() -> dict[str, str]:
        reads.append(1)
        return {"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:4566"}

    operator = OperatorEndpoints(environ=environ)
    first = operator.configured("kms")
    assert first is not None
    assert first.url == "http://127.0.0.1:4566/"
    assert operator.configured("kms") == first
    assert len(reads) == 1
    for i in range(200):  # signing names named by tasks' hosts: kept only up to a bound
        assert operator.configured(f"service{i}") is None
    assert len(reads) == 201
    assert operator.configured("kms") == first
    assert len(reads) == 202  # forgotten by then, so read again
