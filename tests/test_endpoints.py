"""Region → endpoint: partitions, FIPS, dual-stack, custom URLs and where the Region comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT, KEY_ID, policy_for, signer_for

from http_task_kms import Client, Options, Problem, RequestValidationError
from http_task_kms.endpoints import (
    Endpoint,
    check_endpoint_url,
    partition_of,
    region_from_host,
    resolve_endpoint,
)
from http_task_kms.render import compile_task
from http_task_kms.task import HttpTask

CALLER = f"arn:aws:iam::{ACCOUNT}:user/x"
POLICY = policy_for(CALLER)

# kms.md: default / FIPS / dual-stack / FIPS + dual-stack, per partition.
ENDPOINT_TABLE = [
    ("us-east-1", "aws", False, False, "https://kms.us-east-1.amazonaws.com/"),
    ("us-east-1", "aws", True, False, "https://kms-fips.us-east-1.amazonaws.com/"),
    ("us-east-1", "aws", False, True, "https://kms.us-east-1.api.aws/"),
    ("us-east-1", "aws", True, True, "https://kms-fips.us-east-1.api.aws/"),
    ("eu-west-1", "aws", False, False, "https://kms.eu-west-1.amazonaws.com/"),
    ("eu-west-1", "aws", True, False, "https://kms-fips.eu-west-1.amazonaws.com/"),
    ("eu-west-1", "aws", False, True, "https://kms.eu-west-1.api.aws/"),
    ("eu-west-1", "aws", True, True, "https://kms-fips.eu-west-1.api.aws/"),
    ("cn-north-1", "aws-cn", False, False, "https://kms.cn-north-1.amazonaws.com.cn/"),
    ("cn-north-1", "aws-cn", True, False, "https://kms-fips.cn-north-1.amazonaws.com.cn/"),
    ("cn-north-1", "aws-cn", False, True, "https://kms.cn-north-1.api.amazonwebservices.com.cn/"),
    ("cn-north-1", "aws-cn", True, True, "https://kms-fips.cn-north-1.api.amazonwebservices.com.cn/"),
    ("cn-northwest-1", "aws-cn", False, False, "https://kms.cn-northwest-1.amazonaws.com.cn/"),
    ("us-gov-west-1", "aws-us-gov", False, False, "https://kms.us-gov-west-1.amazonaws.com/"),
    ("us-gov-west-1", "aws-us-gov", True, False, "https://kms-fips.us-gov-west-1.amazonaws.com/"),
    ("us-gov-west-1", "aws-us-gov", False, True, "https://kms.us-gov-west-1.api.aws/"),
    ("us-gov-west-1", "aws-us-gov", True, True, "https://kms-fips.us-gov-west-1.api.aws/"),
    ("us-gov-east-1", "aws-us-gov", False, False, "https://kms.us-gov-east-1.amazonaws.com/"),
]


@pytest.mark.parametrize(("region", "partition", "fips", "dual_stack", "url"), ENDPOINT_TABLE)
def test_kms_endpoint_table(region: str, partition: str, fips: bool, dual_stack: bool, url: str) -> None:
    assert resolve_endpoint("kms", region, fips=fips, dual_stack=dual_stack, service="kms") == Endpoint(
        url=url, region=region, partition=partition, custom=False
    )


@pytest.mark.parametrize(("region", "partition", "fips", "dual_stack", "url"), ENDPOINT_TABLE)
def test_client_uses_the_endpoint_table(
    region: str, partition: str, fips: bool, dual_stack: bool, url: str
) -> None:
    client = make_client(fips=fips, dual_stack=dual_stack)
    request = client.prepare(client.compiled_template("kms.ListAliases"), {"region": region})
    assert request.url == url
    assert (request.endpoint.region, request.endpoint.partition, request.endpoint.custom) == (
        region,
        partition,
        False,
    )


@pytest.mark.parametrize(
    ("region", "fips", "dual_stack", "url"),
    [
        ("us-east-1", False, False, "https://widgets.us-east-1.amazonaws.com/"),
        ("us-east-1", True, True, "https://widgets-fips.us-east-1.api.aws/"),
        ("cn-north-1", False, False, "https://widgets.cn-north-1.amazonaws.com.cn/"),
        ("cn-north-1", False, True, "https://widgets.cn-north-1.api.amazonwebservices.com.cn/"),
        ("us-gov-west-1", True, False, "https://widgets-fips.us-gov-west-1.amazonaws.com/"),
    ],
)
def test_service_unknown_to_botocore_uses_the_partition_suffixes(
    region: str, fips: bool, dual_stack: bool, url: str
) -> None:
    found = resolve_endpoint("widgets", region, fips=fips, dual_stack=dual_stack)
    assert isinstance(found, Endpoint)
    assert found.url == url


@pytest.mark.parametrize("region", ["xx-nowhere-1", "mars", "us-iso-east-1", "US-EAST-1", ""])
def test_unknown_region_is_a_problem(region: str) -> None:
    assert resolve_endpoint("kms", region, service="kms") == Problem(
        field="region", message=f"{region!r} is not a Region of the aws, aws-cn, aws-us-gov partitions"
    )


def test_unknown_region_through_the_client() -> None:
    client = make_client()
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(client.compiled_template("kms.ListAliases"), {"region": "xx-nowhere-1"})
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("region", "'xx-nowhere-1' is not a Region of the aws, aws-cn, aws-us-gov partitions")
    ]


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("ap-southeast-2", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-east-1", "aws-us-gov"),
    ],
)
def test_partition_of(region: str, partition: str) -> None:
    found = partition_of(region)
    assert found is not None
    assert found["id"] == partition


# -- custom endpoint URL ----------------------------------------------------------------------


def make_client(**options: Any) -> Client:
    """A Client that never calls STS (caller given) and signs with fixed test credentials."""
    options.setdefault("plugin_options", {"caller_arn": CALLER})
    return Client(Options(**options), signer=signer_for("AKIDEXAMPLE", "secretvalue"))


@pytest.mark.parametrize(
    ("endpoint_url", "expected"),
    [
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566/"),
        ("http://localhost:8080/", "http://localhost:8080/"),
        (
            "https://vpce-0abc-kms.us-east-1.vpce.amazonaws.com",
            "https://vpce-0abc-kms.us-east-1.vpce.amazonaws.com/",
        ),
        ("https://kms.internal.example.com:8443", "https://kms.internal.example.com:8443/"),
    ],
)
@pytest.mark.parametrize(("fips", "dual_stack"), [(False, False), (True, True)])
def test_endpoint_url_is_used_as_given(
    endpoint_url: str, expected: str, fips: bool, dual_stack: bool
) -> None:
    client = make_client(region="eu-west-1", endpoint_url=endpoint_url, fips=fips, dual_stack=dual_stack)
    request = client.prepare(
        client.compiled_template("kms.PutKeyPolicy"), {"KeyId": KEY_ID, "Policy": POLICY}
    )
    assert request.url == expected
    assert request.endpoint.custom is True
    assert request.endpoint.region == "eu-west-1"  # signed for the Region, sent to the URL


@pytest.mark.parametrize(
    ("endpoint_url", "fragment"),
    [
        ("http://kms.example.com", "plain http is accepted only for loopback"),
        ("https://user:pw@kms.example.com", "must not carry user info"),
        ("https://kms.example.com/prefix", "must be scheme://host[:port] with no path"),
        ("ftp://kms.example.com", "must be an http(s) URL with a host"),
    ],
)
def test_unsafe_endpoint_url_is_a_problem(endpoint_url: str, fragment: str) -> None:
    client = make_client(region="us-east-1", endpoint_url=endpoint_url)
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(client.compiled_template("kms.ListAliases"), {})
    assert [p.field for p in caught.value.problems] == ["endpoint-url"]
    assert fragment in caught.value.problems[0].message


def test_insecure_endpoint_allowed_when_asked() -> None:
    assert check_endpoint_url("http://kms.example.com", allow_insecure=True) == []
    client = make_client(
        region="us-east-1", endpoint_url="http://kms.example.com", allow_insecure_endpoint=True
    )
    assert client.prepare(client.compiled_template("kms.ListAliases"), {}).url == "http://kms.example.com/"


# -- where the Region comes from --------------------------------------------------------------

ARN_EU = f"arn:aws:kms:ap-south-1:{ACCOUNT}:key/{KEY_ID}"


def region_of(client: Client, params: dict[str, Any]) -> str:
    # DescribeKey: a key ARN that names a Region, with no Region-mismatch check of its own.
    request = client.prepare(client.compiled_template("kms.DescribeKey"), params)
    assert request.url == f"https://kms.{request.endpoint.region}.amazonaws.com/"
    return request.endpoint.region


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config file with a default Region and an 'ops' profile (AWS_CONFIG_FILE points at it)."""
    path = tmp_path / "config"
    path.write_text(
        "[default]\nregion = sa-east-1\n\n[profile ops]\nregion = ca-central-1\n", encoding="utf-8"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    return path


def test_region_parameter_wins_over_everything(aws_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    client = make_client(region="us-west-2")
    assert region_of(client, {"region": "eu-west-1", "KeyId": ARN_EU}) == "eu-west-1"


def test_option_region_wins_over_key_arn_and_config(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert region_of(make_client(region="us-west-2"), {"KeyId": ARN_EU}) == "us-west-2"


def test_key_arn_region_wins_over_config(aws_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert region_of(make_client(), {"KeyId": ARN_EU}) == "ap-south-1"


def test_aws_region_environment_variable_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-north-1")
    assert region_of(make_client(), {"KeyId": KEY_ID}) == "eu-north-1"


def test_aws_default_region_environment_variable_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-south-1")
    assert region_of(make_client(), {"KeyId": KEY_ID}) == "eu-south-1"


def test_config_file_region_is_the_fallback(aws_config: Path) -> None:
    assert region_of(make_client(), {"KeyId": KEY_ID}) == "sa-east-1"


def test_profile_region_is_the_fallback(aws_config: Path) -> None:
    assert region_of(make_client(profile="ops"), {"KeyId": KEY_ID}) == "ca-central-1"


def test_empty_region_parameter_falls_back(aws_config: Path) -> None:
    assert region_of(make_client(), {"region": "", "KeyId": KEY_ID}) == "sa-east-1"


@pytest.mark.parametrize("region", [5, ["us-east-1"]])
def test_region_parameter_that_is_not_a_string_is_a_problem(region: Any) -> None:
    # A wrongly typed 'region' must not be skipped silently (sending to --region instead).
    client = make_client(region="us-east-1")
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(client.compiled_template("kms.ListAliases"), {"region": region})
    assert [p.field for p in caught.value.problems] == ["region"]


# -- region_from_host -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("kms.us-east-1.amazonaws.com", "us-east-1"),
        ("kms-fips.eu-west-1.amazonaws.com", "eu-west-1"),
        ("KMS.EU-WEST-3.AMAZONAWS.COM", "eu-west-3"),
        ("kms.us-west-2.api.aws", "us-west-2"),
        ("kms-fips.us-gov-west-1.api.aws", "us-gov-west-1"),
        ("kms.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("kms.cn-northwest-1.api.amazonwebservices.com.cn", "cn-northwest-1"),
        ("vpce-0abc.kms.ap-south-1.vpce.amazonaws.com", "ap-south-1"),
        ("kms.amazonaws.com", None),
        ("localhost", None),
        ("127.0.0.1", None),
        ("kms.internal.example.com", None),
        ("kms.xx-nowhere-1.amazonaws.com", None),
    ],
)
def test_region_from_host(host: str, region: str | None) -> None:
    assert region_from_host(host) == region


def test_task_url_host_gives_the_region() -> None:
    task = HttpTask.model_validate(
        {
            "type": "Http",
            "httpRequest": {
                "url": "https://kms-fips.eu-central-1.amazonaws.com/",
                "method": "POST",
                "headers": {
                    "X-Amz-Target": "TrentService.ListAliases",
                    "Content-Type": "application/x-amz-json-1.1",
                },
                "body": {},
            },
        }
    )
    client = make_client(region="us-east-1")
    request = client.prepare(compile_task(task), {})
    assert request.url == "https://kms-fips.eu-central-1.amazonaws.com/"
    assert request.endpoint.region == "eu-central-1"
    assert request.signing_name == "kms"
