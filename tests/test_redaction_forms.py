"""Secrets in every form: escaped, encoded, upper-cased, cut in two, echoed where nobody looks.

Each leak is reproduced end to end: a real request, signed with distinctive credentials, to
a fault server on 127.0.0.1 that echoes the session token or the signature back in one
disguise (:func:`faultserver.echo_form`); or a session token ending in ``\\r`` (from
botocore's ``Credentials``, and from a real ``credential_process``), which requests refuses
in an ``InvalidHeader`` message that prints it escaped. Checked: the result (every string
in it, and its JSON) and every log record, for any 12-character piece of the secret in any
of the forms echoed, in any case. Then :mod:`http_task_kms.redact` directly: each form,
the pieces at either end of a cut text, no false positives, and a registry that stays
bounded over 50,000 signatures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from faultserver import ECHO_FORMS, FaultServer, echo_form, loopback_only, ok  # noqa: F401 - loopback_only

from http_task_kms import Client, Options, redact
from http_task_kms.auth.sigv4 import AwsCredentials, SigV4Signer
from http_task_kms.errors import CredentialsError
from http_task_kms.secretforms import MAX_SECRETS, MAX_SIGNATURES, SecretSet
from http_task_kms.transport import MAX_BODY_BYTES, Transport

pytestmark = pytest.mark.usefixtures("loopback_only")

ACCESS = "AKIAFORMSTEST0000001"
SECRET = "FormsSECRET/key+0123456789abcdefGHIJ/KL="
#: Like an STS token: base64, with "/", "+" and "=" that encoders rewrite.
TOKEN = "IQoJb3JpZ2luX2VjFORMS/test+TOKEN" + "session/TOKEN+forms0123456789" * 4 + "ENDofTOKEN=="
#: Used only by the "\r" tests: registered nowhere else in the process, so nothing masks it by luck.
CR_TOKEN = "IQoJb3JpZ2luX2VjCRLF/test+TOKEN" + "carriage/RETURN+forms0123456789" * 4 + "ENDofCRLF=="
PIECE = 12


def forms(secret: str) -> list[str]:
    """The secret as it may be echoed: raw, percent-encoded, JSON-escaped (two ways)."""
    percent = urllib.parse.quote(secret, safe="")
    return [
        secret,
        percent,
        secret.replace("/", "\\/"),
        "".join(f"\\u{ord(c):04x}" if c in "+/=" else c for c in secret),
    ]


def pieces(secret: str) -> set[str]:
    """Every PIECE-character piece of every form of ``secret``, lower-cased."""
    return {form[i : i + PIECE].lower() for form in forms(secret) for i in range(len(form) - PIECE + 1)}


def strings(value: Any) -> Iterator[str]:
    """Every key and string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def leaked(texts: list[str], *secrets: str) -> list[str]:
    """The pieces of ``secrets`` (any form, any case) found in ``texts``."""
    lowered = [text.lower() for text in texts]
    return sorted({p for secret in secrets for p in pieces(secret) if any(p in t for t in lowered)})


def test_the_detector_finds_what_it_looks_for():
    assert leaked([f"… {TOKEN[40:52].upper()} …"], TOKEN)
    assert leaked([urllib.parse.quote(TOKEN, safe="")[-20:]], TOKEN)
    assert leaked([TOKEN.replace("/", "\\/")[30:50]], TOKEN)
    assert not leaked([f"{TOKEN[: PIECE - 1]} {TOKEN[-PIECE + 1 :]} {redact.REDACTED}"], TOKEN)


# -- end to end ----------------------------------------------------------------------------------
def client_for(url: str, token: str = TOKEN, *, max_body: int = MAX_BODY_BYTES) -> Client:
    signer = SigV4Signer(AwsCredentials(credentials=Credentials(ACCESS, SECRET, token)))
    options = Options(region="us-east-1", endpoint_url=url, max_attempts=1, read_timeout=5)
    return Client(options, signer=signer, transport=Transport(sleep=lambda _: None, max_body_bytes=max_body))


def outputs(document: dict[str, Any], caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records]
    return [json.dumps(document), *strings(document), caplog.text, *records]


def echo_arrived(form: str, document: dict[str, Any]) -> bool:
    """The server's echo really reached the result (so a clean result means something)."""
    body = document.get("body")
    message = body.get("message", "") if isinstance(body, dict) else ""
    return {
        "header-name": "echoed" in document["headers"].values(),
        "reason": (document.get("reasonPhrase") or "").startswith("Denied for "),
        "json-escaped": message.startswith('{"echo": "'),
        "percent-encoded": "?t=" in message,
        "upper-case": message.startswith("expected "),
        "cut-by-cap": bool(document.get("bodyTruncated")) and isinstance(body, str),
    }[form]


CASES = [(form, "token") for form in ECHO_FORMS] + [
    (form, "signature") for form in ("header-name", "reason", "upper-case", "cut-by-cap")
]


@pytest.mark.parametrize(("form", "secret"), CASES, ids=[f"{s}-{f}" for f, s in CASES])
def test_a_secret_echoed_in_any_form_stays_out_of_the_result(form, secret, caplog):
    caplog.set_level(logging.DEBUG)
    with FaultServer(default=echo_form(form, secret=secret)) as server:
        document = client_for(server.url).test_request("kms.ListKeys", {}).to_json()
    sent = server.received[0]
    assert sent.header("X-Amz-Security-Token") == TOKEN
    assert document["statusCode"] == 403, document
    assert echo_arrived(form, document), document
    if form == "cut-by-cap":  # the cap really cut the secret: its first 30 characters were kept
        assert len(document["body"]) <= MAX_BODY_BYTES
    found = leaked(outputs(document, caplog), TOKEN, SECRET, sent.signature or "")
    assert not found, found


@pytest.fixture
def credential_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A profile whose credential_process (a real process) prints a token ending in "\\r"."""
    helper = tmp_path / "helper.py"
    answer = {"Version": 1, "AccessKeyId": ACCESS, "SecretAccessKey": SECRET, "SessionToken": CR_TOKEN + "\r"}
    helper.write_text(f"import json\nprint(json.dumps({answer!r}))\n", encoding="utf-8")
    config = tmp_path / "config"
    config.write_text(
        textwrap.dedent(
            f"""\
            [profile crlf]
            region = us-east-1
            credential_process = {sys.executable} {helper}
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return "crlf"


@pytest.mark.parametrize("source", ["credentials", "credential_process"])
def test_a_token_ending_in_cr_is_refused_before_sending_and_never_shown(source, request, caplog):
    """A token ending in CR is refused as unusable credentials (it once reached requests,
    whose InvalidHeader message printed it escaped); nothing is sent, nothing is shown."""
    caplog.set_level(logging.DEBUG)
    with FaultServer(default=ok({"Keys": []})) as server:
        if source == "credentials":
            client = client_for(server.url, CR_TOKEN + "\r")
        else:
            profile = request.getfixturevalue("credential_process")
            options = Options(profile=profile, endpoint_url=server.url, max_attempts=1, read_timeout=5)
            client = Client(options, transport=Transport(sleep=lambda _: None))
        with pytest.raises(CredentialsError) as caught:
            client.test_request("kms.ListKeys", {})
    assert server.count == 0  # nothing was sent
    assert "printable ASCII" in str(caught.value)  # the message still says what is wrong
    found = leaked([str(caught.value), *outputs({}, caplog)], CR_TOKEN, SECRET)
    assert not found, found


# -- the redactor, directly -----------------------------------------------------------------------
#: Registered once for these tests (the registry is process-wide).
UNIT_TOKEN = "FQoGZXIvYXdzEUnitTOKEN/forms+case" + "Zm9ybXM/dGVzdA+" * 5 + "UNITend="
UNIT_SIGNATURE = hashlib.sha256(b"unit signature").hexdigest()


@pytest.fixture(autouse=True)
def _registered() -> None:
    redact.register(UNIT_TOKEN + "\r\n")
    redact.register_authorization(f"AWS4-HMAC-SHA256 Credential=A/B, Signature={UNIT_SIGNATURE}")


def _percent(text: str, *, lower: bool = False) -> str:
    encoded = urllib.parse.quote(text, safe="")
    return re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), encoded) if lower else encoded


SHOWN = {
    "raw": UNIT_TOKEN,
    "repr-with-cr": repr(UNIT_TOKEN + "\r"),
    "repr-with-lf": repr(UNIT_TOKEN + "\n"),
    "upper": UNIT_TOKEN.upper(),
    "percent-upper": _percent(UNIT_TOKEN),
    "percent-lower": _percent(UNIT_TOKEN, lower=True),
    "percent-twice": urllib.parse.quote(_percent(UNIT_TOKEN), safe=""),
    "percent-but-slashes": urllib.parse.quote(UNIT_TOKEN),  # quote()'s default keeps "/"
    "json-slash": json.dumps(UNIT_TOKEN).replace("/", "\\/"),
    "json-unicode": "".join(f"\\u{ord(c):04X}" if c in "+/=" else c for c in UNIT_TOKEN),
    "signature": UNIT_SIGNATURE,
    "signature-upper": UNIT_SIGNATURE.upper(),
    "signature-after-%3D": f"Signature%3D{UNIT_SIGNATURE}",
    "signature-json": json.dumps({"sig": UNIT_SIGNATURE.upper()}),
}


@pytest.mark.parametrize("name", SHOWN)
def test_every_form_of_a_registered_secret_is_masked(name):
    text = f"the server said: {SHOWN[name]} (end)"
    shown = redact.redact_text(text)
    assert redact.REDACTED in shown
    assert not leaked([shown], UNIT_TOKEN, UNIT_SIGNATURE), shown
    assert shown.startswith("the server said: ")
    assert shown.endswith(" (end)")


@pytest.mark.parametrize("size", [8, 12, 30, 63])
@pytest.mark.parametrize("secret", [UNIT_TOKEN, UNIT_SIGNATURE], ids=["token", "signature"])
def test_a_secret_cut_at_either_end_of_a_text_is_masked_from_eight_characters(secret, size):
    head, tail = secret[:size], secret[-size:]
    assert redact.redact_text(f"body: {head}") == f"body: {redact.REDACTED}"
    assert redact.redact_text(f'"…{head}…"') == f'"…{redact.REDACTED}…"'
    assert redact.redact_text(f"%2F{_percent(head)}") == f"%2F{redact.REDACTED}"  # encoded, then cut
    assert redact.redact_text(f"{tail} and the rest") == f"{redact.REDACTED} and the rest"


@pytest.mark.parametrize("size", [8, 9, 30, 63])
def test_a_cut_signature_is_masked_next_to_other_characters_of_its_run(size):
    """The pieces of a signature are looked for in a text's hex ends only: its run may start earlier."""
    head, tail = UNIT_SIGNATURE[:size], UNIT_SIGNATURE[-size:]
    assert redact.redact_text(head) == redact.REDACTED  # the whole text (8 characters is enough)
    assert redact.redact_text(tail.upper()) == redact.REDACTED
    assert redact.redact_text(f"key=zz/{head}") == f"key=zz/{redact.REDACTED}"  # "zz/" is of the run
    assert redact.redact_text(f"x-{head.upper()}") == f"x-{redact.REDACTED}"
    assert redact.redact_text(f"{tail}zz+rest") == f"{redact.REDACTED}zz+rest"
    assert redact.redact_text(f"0{tail}") == f"0{tail}"  # "0" then the tail: not a piece, kept


def test_a_signature_that_is_not_hex_is_refused():
    with pytest.raises(ValueError, match="hexadecimal"):
        SecretSet().add_signature("Signature-is-not-hex-0123456789")
    redact.register_signature("not hex at all, not even close")  # ignored, as it always was
    assert redact.redact_text("not hex at all, not even close") == "not hex at all, not even close"


LATER_SECRET = "LaterSecretKey/Registered+AfterTheTextWasSeen"  # no 8 characters that may spell hex


def test_a_text_remembered_as_clean_is_searched_again_once_a_secret_in_it_is_registered():
    whole, cut = f"echo: {LATER_SECRET}", f"cut: {_percent(LATER_SECRET[:12])}"
    assert [redact.redact_text(whole), redact.redact_text(cut)] == [whole, cut]  # nothing to mask yet
    assert whole in redact._clean  # the shortcut is taken: both are remembered as clean
    assert cut in redact._clean
    redact.register(LATER_SECRET)
    assert redact.redact_text(whole) == f"echo: {redact.REDACTED}"
    assert redact.redact_text(cut) == f"cut: {redact.REDACTED}"


def test_a_text_that_could_hold_a_signature_is_never_remembered_as_clean():
    later = hashlib.sha256(b"a signature made later").hexdigest()
    texts = [
        f"echo: {later}",
        f"cut: {later[:8]}",
        f"{later[-9:].upper()} was the end",
        "cut: " + "".join(f"%{ord(c):02x}" for c in later[:10]),  # percent-encoded, then cut
        "cut: " + "".join(f"\\u{ord(c):04x}" for c in later[:10]),  # JSON-escaped, then cut
        "cut: " + "".join(f"\\x{ord(c):02x}" for c in later[:10]),  # repr-escaped, then cut
    ]
    assert [redact.redact_text(text) for text in texts] == texts  # not registered: nothing to mask
    assert not any(text in redact._clean for text in texts)
    redact.register_signature(later)
    shown = [redact.redact_text(text) for text in texts]
    assert all(redact.REDACTED in text for text in shown), shown
    assert not leaked(shown, later)


def test_the_texts_remembered_as_clean_stay_bounded():
    for n in range(redact.CLEAN_TEXTS + 100):
        redact.redact_text(f"X-Header-{n}: ok")
    assert 0 < len(redact._clean) <= redact.CLEAN_TEXTS
    long_text = "ok " * redact.MAX_CLEAN_LENGTH
    assert redact.redact_text(long_text) == long_text
    assert long_text not in redact._clean


def test_seven_characters_or_short_values_are_not_masked():
    redact.register("testing", "s3cr3t-but-short")  # the second is 16 characters: registered
    assert redact.redact_text(f"ends with {UNIT_TOKEN[:7]}") == f"ends with {UNIT_TOKEN[:7]}"
    assert redact.redact_text(f"{UNIT_SIGNATURE[-7:]} starts") == f"{UNIT_SIGNATURE[-7:]} starts"
    ordinary = (
        "testingTheKey 1234abcd-12ab-34cd-56ef-1234567890ab with a hash "
        f"{hashlib.sha256(b'not a signature').hexdigest()} and a deadbeefcafe word, then "
        f"{UNIT_TOKEN[:7]}{UNIT_SIGNATURE[:7]}IsNoSecretAtAll/+="
    )
    assert redact.redact_text(ordinary) == ordinary
    assert redact.redact_text("was s3cr3t-but-short") == f"was {redact.REDACTED}"


def test_header_names_and_values_are_masked():
    echoed = {UNIT_TOKEN: "echoed", UNIT_SIGNATURE.upper(): "again", "X-Echo": _percent(UNIT_TOKEN)}
    shown = redact.redact_headers({**echoed, "Server": "ok"})
    assert shown == {redact.REDACTED: "echoed, again", "X-Echo": redact.REDACTED, "Server": "ok"}


def test_the_registry_stays_bounded_and_still_masks_a_fresh_signature():
    redact.register_signature(UNIT_SIGNATURE)  # used by the other tests: keep it among the recent
    for n in range(50_000):
        redact.register_authorization(
            "AWS4-HMAC-SHA256 Credential=A/B, SignedHeaders=host, "
            f"Signature={hashlib.sha256(f'bounded {n}'.encode()).hexdigest()}"
        )
    for n in range(3 * MAX_SECRETS):
        redact.register(f"BoundedSecretKey{n:08d}/+xyz")
    secrets, signatures = redact.registered()
    assert signatures <= MAX_SIGNATURES
    assert secrets <= MAX_SECRETS
    fresh = hashlib.sha256(b"fresh").hexdigest()
    redact.register_signature(fresh)
    shown = redact.redact_text(f"echo {fresh.upper()} {fresh[:20]}")
    assert shown == f"echo {redact.REDACTED} {redact.REDACTED}"
    latest = f"BoundedSecretKey{3 * MAX_SECRETS - 1:08d}/+xyz"
    assert redact.redact_text(f"echo {_percent(latest)}!") == f"echo {redact.REDACTED}!"
    redact.register(UNIT_TOKEN)  # back among the kept secrets for the tests that follow
    redact.register_signature(UNIT_SIGNATURE)


def test_hostile_texts_cost_time_in_proportion_to_their_length():
    # "signature=" then spaces took quadratic time (0.36 s for 8,000 spaces; hours for 1 MiB)
    hostile = [
        "signature=" + " " * 50_000 + "x",
        "Secret_Access_Key" + " " * 50_000 + ">",
        "x-amz-security-token:" + " " * 50_000,
        "%25" * 50_000 + UNIT_TOKEN[:20],
        "0" * 100_000 + UNIT_SIGNATURE[:40],  # one long hex run: a hash-table lookup per position
    ]
    started = time.monotonic()
    shown = [redact.redact_text(text) for text in hostile]
    assert time.monotonic() - started < 2.0
    assert shown[3].endswith(redact.REDACTED)
    assert shown[4] == "0" * 100_000 + redact.REDACTED


def test_many_requests_keep_the_redaction_set_bounded_and_its_cost_flat() -> None:
    """1,500 signed requests (each signature new) through one client: the set stays bounded."""
    with FaultServer(default=ok({"Keys": []}), max_requests=2000) as server:
        client = client_for(server.url)
        for _ in range(MAX_SIGNATURES + 476):
            assert client.test_request("kms.ListKeys", {}).ok
        last = server.received[-1].signature
    secrets, signatures = redact.registered()
    assert signatures <= MAX_SIGNATURES
    assert secrets <= MAX_SECRETS
    assert last is not None
    assert redact.redact_text(f"echoed: {last.upper()}") == "echoed: <redacted>"  # the newest still masked
