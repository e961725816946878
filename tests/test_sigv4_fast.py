"""http_task_kms.auth.sigv4_fast against botocore's SigV4Auth, on thousands of random requests.

botocore is the reference (``sign_with_botocore``; AWS's own suite is in test_signing.py):
for every request of the covered shape the fast signer must give exactly botocore's headers
(same names, order, values: the Authorization header and its signature included); for any
other request it must either do the same or decline (None), never differ. Both read the
signing clock from ``botocore.auth.get_current_datetime``, stopped here at a random instant.
"""

from __future__ import annotations

import datetime
import string
from typing import Any
from unittest import mock

from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from http_task_kms.auth import sigv4_fast
from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer, sign_with_botocore

TOKEN_CHARS = string.ascii_letters + string.digits + "-_.~"
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))

instants = st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2099, 12, 31))
offsets = st.sampled_from([0.0, 0.0, 1.0, -0.5, 299.9, -3600.0, 86_399.99])
keys = st.tuples(
    st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=20),
    st.text(PRINTABLE.replace(" ", ""), min_size=1, max_size=40),
    st.one_of(st.none(), st.just(""), st.text(PRINTABLE.replace(" ", ""), min_size=1, max_size=60)),
)
regions = st.sampled_from(["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "local"])
services = st.sampled_from(["kms", "sts", "secretsmanager", "service"])
methods = st.sampled_from(["POST", "GET", "PUT", "DELETE", "post", "Get"])
hosts = st.sampled_from(
    [
        "kms.us-east-1.amazonaws.com",
        "KMS.EU-WEST-3.amazonaws.com",
        "127.0.0.1",
        "localhost",
        "sts.amazonaws.com",
        "kms-fips.us-gov-west-1.amazonaws.com",
    ]
)
ports = st.sampled_from(["", ":443", ":80", ":5000", ":8443"])
segments = st.text(TOKEN_CHARS, min_size=1, max_size=8).filter(lambda s: s not in {".", ".."})
plain_paths = st.one_of(
    st.just(""), st.just("/"), st.lists(segments, min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
)
query_parts = st.text(TOKEN_CHARS + "%=+", max_size=6)
queries = st.one_of(
    st.just(""),
    st.lists(st.tuples(query_parts, query_parts), max_size=4).map(
        lambda q: "&".join(f"{k}={v}" for k, v in q)
    ),
)
header_names = st.one_of(
    st.sampled_from(
        ["Content-Type", "X-Amz-Target", "User-Agent", "Expect", "Host", "x-amz-meta-a", "Accept"]
    ),
    st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=12),
)
header_values = st.text(PRINTABLE + "\t", max_size=40)
bodies = st.one_of(st.just(b""), st.binary(max_size=300))


def _plain_headers(names_values: list[tuple[str, str]]) -> dict[str, str]:
    """Headers with one value per name (case-insensitively) and none that botocore rewrites."""
    headers: dict[str, str] = {}
    for name, value in names_values:
        lower = name.lower()
        if lower in sigv4_fast._BOTOCORE_OWNED or lower in {k.lower() for k in headers}:
            continue
        headers[name] = value
    return headers


plain_headers = st.lists(st.tuples(header_names, header_values), max_size=6).map(_plain_headers)


def _both(
    method: str, url: str, headers: dict[str, str], body: bytes, key: tuple[str, str, str | None], **kw: Any
) -> tuple[dict[str, str] | None, dict[str, str]]:
    access, secret, token = key
    fast = sigv4_fast.sign(
        method, url, headers, body, access_key=access, secret_key=secret, token=token, **kw
    )
    credentials = Credentials(access, secret, token).get_frozen_credentials()
    reference = sign_with_botocore(method, url, headers, body, credentials=credentials, **kw)
    return fast, reference


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instant=instants,
    offset=offsets,
    key=keys,
    method=methods,
    scheme=st.sampled_from(["https", "http"]),
    host=hosts,
    port=ports,
    path=plain_paths,
    query=queries,
    headers=plain_headers,
    body=bodies,
    region=regions,
    service=services,
)
def test_the_covered_shape_is_signed_exactly_as_botocore_signs_it(
    instant: datetime.datetime,
    offset: float,
    key: tuple[str, str, str | None],
    method: str,
    scheme: str,
    host: str,
    port: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    region: str,
    service: str,
) -> None:
    url = f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")
    with mock.patch("botocore.auth.get_current_datetime", return_value=instant):
        fast, reference = _both(
            method, url, headers, body, key, service=service, region=region, clock_offset=offset
        )
    assert fast is not None, url
    assert list(fast.items()) == list(reference.items())


any_headers = st.dictionaries(
    st.one_of(
        header_names,
        st.sampled_from(
            ["Authorization", "X-Amz-Date", "x-amz-security-token", "Date", "X-Amz-Content-SHA256"]
        ),
        st.text(max_size=6),
    ),
    st.one_of(header_values, st.text(max_size=12)),
    max_size=6,
)
any_paths = st.one_of(plain_paths, st.text(TOKEN_CHARS + "/.%: ", max_size=20).map(lambda p: "/" + p))
any_netlocs = st.one_of(
    st.builds(lambda h, p: h + p, hosts, ports),
    st.sampled_from(["[::1]:5000", "user:pw@kms.us-east-1.amazonaws.com", "host:99999", "Host.Example:0"]),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    instant=instants,
    key=keys,
    method=methods,
    scheme=st.sampled_from(["https", "http", "HTTPS"]),
    netloc=any_netlocs,
    path=any_paths,
    query=queries,
    headers=any_headers,
    body=bodies,
)
def test_any_other_request_is_signed_as_botocore_signs_it_or_left_to_botocore(
    instant: datetime.datetime,
    key: tuple[str, str, str | None],
    method: str,
    scheme: str,
    netloc: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    url = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    with mock.patch("botocore.auth.get_current_datetime", return_value=instant):
        try:
            fast, reference = _both(method, url, headers, body, key, service="kms", region="us-east-1")
        except (ValueError, UnicodeError):  # botocore's own refusal (a bad port, an unencodable header)
            return
    assert fast is None or list(fast.items()) == list(reference.items())


def test_the_signer_uses_the_fast_path_for_kms_and_botocore_for_the_rest() -> None:
    """SigV4Signer gives botocore's headers either way; the fast path is taken for a KMS request."""
    signer = SigV4Signer(AwsCredentials(credentials=Credentials("AKIDEXAMPLE", "secret", "token")))
    frozen = Credentials("AKIDEXAMPLE", "secret", "token").get_frozen_credentials()
    at = datetime.datetime(2026, 12, 1, 10, 0, 0)
    kms = (
        "POST",
        "https://kms.us-east-1.amazonaws.com/",
        {"X-Amz-Target": "TrentService.PutKeyPolicy"},
        b"{}",
    )
    odd = (
        "POST",
        "https://kms.us-east-1.amazonaws.com/a%20b",
        {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
        b"{}",
    )
    for method, url, headers, body in (kms, odd):
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            ours = signer.sign(method, url, headers, body, service="kms", region="us-east-1")
            reference = sign_with_botocore(
                method, url, headers, body, credentials=frozen, service="kms", region="us-east-1"
            )
            fast = sigv4_fast.sign(
                method,
                url,
                headers,
                body,
                access_key="AKIDEXAMPLE",
                secret_key="secret",
                token="token",
                service="kms",
                region="us-east-1",
            )
        assert ours == reference
        assert (fast is not None) == (url.endswith("/"))
