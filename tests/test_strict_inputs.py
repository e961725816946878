"""Issue 9 (items 4-6): untrusted inputs are bounded and strict, and bad ones are exit 2, never a crash.

Each file option is read with a cap (at most cap + 1 bytes, standard input included),
decoded as strict UTF-8 and parsed as strict JSON: duplicate keys, lone surrogates,
numbers that overflow to infinity, NaN and deep nesting are refused, naming the field and
the rule. ``--spec`` YAML is checked on its composed node graph (aliases expanded, with a
memo and cycle detection) before anything walks or caches it. A credential_process that
prints junk is a CredentialsError (exit 2) that never echoes what it printed. What we
print stays strict JSON even when a server answers ``1e400``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from conftest import ACCOUNT, KEY_ID, policy_for
from faultserver import FaultServer, loopback_only, ok  # noqa: F401 - a fixture, used by pytestmark

from http_task_kms.cli import main, run

pytestmark = pytest.mark.usefixtures("loopback_only")  # nothing but 127.0.0.1, ever

MiB = 1024 * 1024
CALLER = f"arn:aws:iam::{ACCOUNT}:user/x"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
MARKER = "SECRETmarker0123456789"  # stands for a secret a credential helper might print
ENTRY = [sys.executable, "-c", "from http_task_kms.cli import run; run()"]


# -- helpers -----------------------------------------------------------------------------------


def invoke(*args: str, stdin: bytes | str | None = None) -> Result:
    """The click command in process (bad files end in ``_fail``: exit 2 and one JSON document)."""
    return CliRunner().invoke(main, list(args), input=stdin)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: bytes = b""
) -> tuple[int, Any, str]:
    """The console entry point in process (errors raised past the command end in ``run``)."""
    monkeypatch.setattr(sys, "argv", ["http-task-kms", *args])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    try:
        run()
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    captured = capsys.readouterr()
    return code, strict_json(captured.out), captured.err


def _no_constant(name: str) -> Any:
    raise AssertionError(f"stdout is not strict JSON: it holds {name}")


def strict_json(text: str) -> Any:
    """stdout must be exactly one strict JSON document (no NaN, no Infinity)."""
    return json.loads(text, parse_constant=_no_constant)


def refused(code: int, document: Any, field: str, *phrases: str) -> str:
    """Exit 2, a ValidationError result, one problem on ``field`` naming the rule; its message."""
    assert code == 2, document
    assert "InternalError" not in json.dumps(document)
    assert document["ok"] is False
    assert document["statusCode"] is None
    assert document["error"]["code"] == "ValidationError"
    messages = [p["message"] for p in document["error"]["problems"] if p["field"] == field]
    assert messages, document["error"]["problems"]
    for phrase in phrases:
        assert any(phrase in m for m in messages), (phrase, messages)
    return messages[0]


def refused_result(result: Result, field: str, *phrases: str) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return refused(result.exit_code, strict_json(result.stdout), field, *phrases)


@pytest.fixture
def params() -> dict[str, Any]:
    """Valid PutKeyPolicy input parameters."""
    return {"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}


def params_text(params: dict[str, Any], *, replace: tuple[str, str] | None = None) -> str:
    text = json.dumps(params)
    if replace is not None:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    return text


# -- jsonutil.loads: the rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "phrase"),
    [
        ('{"a": 1, "b": {"c": 1, "c": 2}}', "duplicate-key", 'duplicate key "c" in the object at $.b'),
        ('["\\ud800"]', "lone-surrogate", "lone surrogate \\ud800 (a surrogate escape without its pair"),
        ('["\\ude00\\ud83d"]', "lone-surrogate", "lone surrogate \\ude00"),  # a pair in the wrong order
        ('["\\ud83d", "\\ude00"]', "lone-surrogate", "lone surrogate \\ud83d"),  # halves in two strings
        ('["RAW"]', "lone-surrogate", "lone surrogate U+D800"),  # a raw one (only Python can pass it)
        ("[1, -1e400]", "number-range", "the number -1e400 is out of range (it would be an infinity)"),
        ("[" + "9" * 5000 + "]", "number-range", "has too many digits"),
        ('{"a": Infinity}', "constant", "Infinity is not a JSON value"),
        ("[" * 101 + "]" * 101, "depth", "nested more than 100 levels deep"),
    ],
    ids=[
        "duplicate",
        "surrogate",
        "reversed-pair",
        "split-pair",
        "raw-surrogate",
        "overflow",
        "digits",
        "inf",
        "deep",
    ],
)
def test_every_strict_json_refusal_is_a_json_decode_error_naming_its_rule(
    text: str, rule: str, phrase: str
) -> None:
    import pickle

    from http_task_kms import jsonutil

    with pytest.raises(json.JSONDecodeError) as raised:
        jsonutil.loads(text.replace("RAW", "\ud800"))
    error = raised.value
    assert isinstance(error, ValueError)  # callers catching ValueError keep working
    assert getattr(error, "rule", None) == rule
    assert phrase in jsonutil.describe(error)
    assert jsonutil.describe(pickle.loads(pickle.dumps(error))) == jsonutil.describe(error)


@pytest.mark.parametrize(
    "text",
    ['["\\ud83d\\ude00"]', '["\\\\ud800"]', "[1e308, -0.0, 1e-400]", '{"a": {"a": 1}, "b": [{"a": 2}]}'],
    ids=["surrogate-pair", "escaped-backslash", "finite-floats", "same-key-in-other-objects"],
)
def test_strict_json_accepts_what_is_valid(text: str) -> None:
    from http_task_kms import jsonutil

    assert jsonutil.loads(text) == json.loads(text)


# -- --input: strict JSON ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replace", "phrases"),
    [
        pytest.param(
            ('"KeyId": ', '"KeyId": "alias/other", "KeyId": '),
            ['duplicate key "KeyId" in the object at $'],
            id="duplicate-parameter",
        ),
        pytest.param(
            ('"Effect": "Allow"', '"Effect": "Deny", "Effect": "Allow"'),
            ['duplicate key "Effect" in the object at $.Policy.Statement[0]'],
            id="duplicate-in-policy-object",
        ),
        pytest.param(
            ('"Sid": "Enable IAM User Permissions"', '"Sid": "\\ud800"'),
            ["lone surrogate \\ud800", "line 1, column"],
            id="lone-surrogate-sid",
        ),
        pytest.param(
            ('"region"', '"\\udfff"'), ["lone surrogate \\udfff"], id="lone-surrogate-parameter-name"
        ),
        pytest.param(
            ('"region": "us-east-1"', '"region": "us-east-1", "x": 1e400'),
            ["the number 1e400 is out of range"],
            id="number-overflows-to-infinity",
        ),
        pytest.param(('"us-east-1"', "NaN"), ["NaN is not a JSON value"], id="nan"),
    ],
)
def test_input_breaking_a_strict_rule_is_exit_2_naming_the_rule(
    params: dict[str, Any], replace: tuple[str, str], phrases: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "input.json"
    source.write_text(params_text(params, replace=replace), encoding="utf-8")
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER)
    message = refused_result(result, "input", *phrases)
    assert message.startswith(("not strict JSON: ", "not valid JSON: "))
    # the same through standard input
    from_stdin = invoke("render", "kms.PutKeyPolicy", "--input", "-", stdin=source.read_bytes())
    assert refused_result(from_stdin, "input", *phrases) == message


def test_input_that_is_not_utf8_is_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "input.json"
    source.write_bytes(b'{"region": "\xed\xa0\x80"}')  # a surrogate encoded as UTF-8 (CESU): not UTF-8
    refused_result(
        invoke("render", "kms.PutKeyPolicy", "--input", str(source)), "input", "not UTF-8 text (byte 12)"
    )


def test_valid_surrogate_pairs_and_escaped_backslashes_are_accepted(
    params: dict[str, Any], tmp_path: Path
) -> None:
    params["Policy"]["Statement"][0]["Sid"] = "\\ud800 is text here"  # a backslash, then "ud800"
    source = tmp_path / "input.json"
    source.write_text(json.dumps(params), encoding="utf-8")
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER)
    assert result.exit_code == 0, result.stdout
    assert "\\\\ud800 is text here" in strict_json(result.stdout)["request"]["body"]["Policy"]


def test_lone_surrogate_input_in_a_real_process_is_exit_2_without_a_traceback(
    params: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "input.json"
    source.write_text(
        params_text(params, replace=('"Sid": "Enable', '"Sid": "\\ud800Enable')), encoding="utf-8"
    )
    done = subprocess.run(
        [*ENTRY, "render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER],
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr
    refused(2, strict_json(done.stdout.decode("utf-8")), "input", "lone surrogate \\ud800")


# -- --task and workflow definitions ----------------------------------------------------------------


def _task(url: str = "https://kms.us-east-1.amazonaws.com/") -> dict[str, Any]:
    return {
        "type": "Http",
        "httpRequest": {
            "url": url,
            "method": "POST",
            "headers": {
                "X-Amz-Target": "TrentService.ListKeys",
                "Content-Type": "application/x-amz-json-1.1",
            },
            "body": {},
        },
    }


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        pytest.param(
            json.dumps(_task()).replace('"method"', '"url": "https://evil.example/", "method"'),
            'duplicate key "url" in the object at $.httpRequest',
            id="task",
        ),
        pytest.param(
            '{"tasks": {"Put": ' + json.dumps(_task()) + ', "Put": ' + json.dumps(_task()) + "}}",
            'duplicate key "Put" in the object at $.tasks',
            id="workflow-task-names",
        ),
        pytest.param(
            json.dumps({"tasks": {"Put": _task()}}).replace('"Http"', '"\\ud800"'),
            "lone surrogate \\ud800",
            id="workflow-lone-surrogate",
        ),
    ],
)
def test_task_and_workflow_files_are_strict_json(text: str, phrase: str, tmp_path: Path) -> None:
    task = tmp_path / "task.json"
    task.write_text(text, encoding="utf-8")
    result = invoke("render", "--task", str(task), "--input", "-", stdin="{}")
    refused_result(result, "task", phrase)


# -- sizes -----------------------------------------------------------------------------------------


def _sparse(path: Path, size: int) -> str:
    with open(path, "wb") as handle:
        handle.truncate(size)  # a hole: no disk used, but read() would return every byte
    return str(path)


def _peak(action: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        outcome = action()
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("args", "field", "option"),
    [
        (["render", "kms.PutKeyPolicy", "--input", "{big}"], "input", "--input"),
        (["render", "--task", "{big}", "--input", "{small}"], "task", "--task"),
        (["lint-policy", "{big}"], "FILE", "lint-policy FILE"),
        (["rollback", "{big}"], "BACKUP_FILE", "a backup file"),
    ],
    ids=["input", "task", "lint-policy", "rollback"],
)
def test_file_over_its_cap_is_refused_naming_the_option_without_reading_it_all(
    args: list[str], field: str, option: str, tmp_path: Path
) -> None:
    big = _sparse(tmp_path / "big.json", 64 * MiB)
    small = tmp_path / "small.json"
    small.write_text("{}", encoding="utf-8")
    argv = [a.format(big=big, small=small) for a in args]
    result, peak = _peak(lambda: invoke(*argv))
    message = refused_result(result, field, f"is larger than 1 MiB ({MiB} bytes), the limit for {option}")
    assert big in message
    assert peak < 8 * MiB, f"peak {peak} bytes: the file was read whole"


def test_standard_input_over_the_cap_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, _ = run_cli(monkeypatch, capsys, "lint-policy", "-", stdin=b" " * (MiB + 1))
    refused(code, document, "FILE", "standard input is larger than 1 MiB")
    code, document, _ = run_cli(
        monkeypatch, capsys, "render", "kms.PutKeyPolicy", "--input", "-", stdin=b"{}" + b" " * MiB
    )
    refused(code, document, "input", "the limit for --input")


def test_a_file_of_exactly_the_cap_is_read(params: dict[str, Any], tmp_path: Path) -> None:
    text = json.dumps(params)
    source = tmp_path / "input.json"
    source.write_text(text + " " * (MiB - len(text)), encoding="utf-8")
    assert source.stat().st_size == MiB
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER)
    assert result.exit_code == 0, result.stdout


def test_the_reader_takes_at_most_cap_plus_one_bytes_from_an_endless_stream() -> None:
    from http_task_kms.config import MAX_KEY_LIST_BYTES, MAX_WORKFLOW_INPUT_BYTES
    from http_task_kms.errors import InputError
    from http_task_kms.inputs import read_json

    class Endless(io.RawIOBase):
        taken = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            buffer[:] = b" " * len(buffer)
            self.taken += len(buffer)
            return len(buffer)

    for limit, option in [(MAX_WORKFLOW_INPUT_BYTES, "--workflow-input"), (MAX_KEY_LIST_BYTES, "--keys")]:
        stream = Endless()
        with pytest.raises(InputError) as raised:
            read_json(
                "-", field=option.lstrip("-"), limit=limit, label=option, stdin=io.BufferedReader(stream)
            )
        assert raised.value.problems[0].field == option.lstrip("-")
        assert f"the limit for {option}" in str(raised.value)
        assert stream.taken <= limit + 1 + io.DEFAULT_BUFFER_SIZE


def test_the_caps_are_the_documented_ones() -> None:
    from http_task_kms import config

    documented = {
        "MAX_INPUT_BYTES": MiB,
        "MAX_WORKFLOW_INPUT_BYTES": MiB,
        "MAX_TASK_BYTES": MiB,
        "MAX_POLICY_FILE_BYTES": MiB,
        "MAX_BACKUP_BYTES": MiB,
        "MAX_KEY_LIST_BYTES": MiB,
        "MAX_SPEC_BYTES": 16 * MiB,
        "MAX_SPEC_NODES": 1_000_000,
    }
    assert {name: getattr(config, name) for name in documented} == documented


# -- key policies: duplicate keys are ERRORs, lone surrogates are findings ----------------------------

DUPLICATE_EFFECT = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Deny", "Effect": "Allow", '
    f'"Principal": {{"AWS": "{CALLER}"}}, "Action": "kms:*", "Resource": "*"}}]}}'
)
DUPLICATE_PRINCIPAL = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "Admin", "Effect": "Allow", '
    f'"Principal": {{"AWS": "{CALLER}"}}, "Principal": {{"AWS": "{ROOT_ARN}"}}, '
    '"Action": "kms:*", "Resource": "*"}]}'
)


@pytest.mark.parametrize(
    ("text", "path"),
    [(DUPLICATE_EFFECT, "$.Statement[0].Effect"), (DUPLICATE_PRINCIPAL, "$.Statement[0].Principal")],
    ids=["effect", "principal"],
)
def test_lint_policy_duplicate_key_is_an_error_and_the_lockout_check_does_not_guess(
    text: str, path: str, tmp_path: Path
) -> None:
    source = tmp_path / "policy.json"
    source.write_text(text, encoding="utf-8")
    result = invoke("lint-policy", str(source), "--caller-arn", CALLER)
    assert result.exit_code == 2, result.stdout
    document = strict_json(result.stdout)
    assert document["ok"] is False
    [finding] = [f for f in document["findings"] if f["code"] == "DUPLICATE_KEY"]
    assert (finding["severity"], finding["path"]) == ("ERROR", path)
    assert "lockout" not in document  # it would have read the last value: KMS may apply the other


def test_lint_policy_lone_surrogate_is_an_invalid_character_finding(tmp_path: Path) -> None:
    source = tmp_path / "policy.json"
    source.write_text(
        DUPLICATE_EFFECT.replace('"Sid": "Admin"', '"Sid": "\\ud800"').replace('"Effect": "Deny", ', "")
    )
    result = invoke("lint-policy", str(source), "--caller-arn", CALLER)
    assert result.exit_code == 2, result.stdout
    document = strict_json(result.stdout)
    [finding] = document["findings"]
    assert (finding["severity"], finding["code"]) == ("ERROR", "INVALID_CHARACTER")
    assert "lone surrogate \\ud800" in finding["message"]
    assert "line 1, column 50" in finding["message"]


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (DUPLICATE_EFFECT, "DUPLICATE_KEY"),
        (DUPLICATE_PRINCIPAL, "DUPLICATE_KEY"),
        (DUPLICATE_EFFECT.replace('"Sid": "Admin"', '"Sid": "\\udc00"'), "INVALID_CHARACTER"),
    ],
    ids=["effect", "principal", "lone-surrogate"],
)
def test_render_refuses_policy_text_with_a_duplicate_key_or_a_lone_surrogate(
    policy: str, code: str, tmp_path: Path
) -> None:
    source = tmp_path / "input.json"
    source.write_text(
        json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy}), encoding="utf-8"
    )
    result = invoke("render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER)
    refused_result(result, "Policy", f"[{code}")


# -- --spec: YAML and JSON ----------------------------------------------------------------------------

SPEC = """\
openapi: 3.0.3
info: {title: Widgets, version: "1", x-serviceName: widgets}
servers: [{url: "https://widgets.{region}.amazonaws.com"}]
paths:
  /#X-Amz-Target=Widgets.ListWidgets:
    post:
      operationId: ListWidgets
      parameters:
        - name: X-Amz-Target
          in: header
          schema: {type: string, enum: [Widgets.ListWidgets]}
      requestBody:
        content:
          application/x-amz-json-1.0: {schema: {$ref: "#/components/schemas/ListWidgetsRequest"}}
      responses: {"200": {description: OK}}
components:
  schemas:
    ListWidgetsRequest: {type: object, properties: {Name: {type: string}}}
"""

LAUGHS = "x-lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x-lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10)
)  # 10**10 nodes when expanded, 110 in the file


def _spec_cache(tmp_path: Path) -> list[Path]:
    root = Path(os.environ["XDG_CACHE_HOME"]) / "http-task-kms" / "specs"
    return sorted(root.glob("*.json")) if root.is_dir() else []


def test_the_spec_used_here_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "widgets.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    code, document, _ = run_cli(monkeypatch, capsys, "templates", "--json", "--spec", str(spec))
    assert code == 0
    assert [t["id"] for t in document] == ["widgets.ListWidgets"]


def test_billion_laughs_spec_is_refused_quickly_with_bounded_memory_and_never_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from http_task_kms.errors import SpecError
    from http_task_kms.openapi.load import load_document

    spec = tmp_path / "laughs.yaml"
    spec.write_text(SPEC + LAUGHS, encoding="utf-8")
    before = _spec_cache(tmp_path)
    started = time.monotonic()

    def load() -> SpecError:
        with pytest.raises(SpecError) as raised:
            load_document(spec)
        return raised.value

    error, peak = _peak(load)
    assert time.monotonic() - started < 2
    assert peak < 1 * MiB, f"peak {peak} bytes"
    assert "more than 1,000,000 nodes with its aliases expanded" in str(error)
    code, document, _ = run_cli(monkeypatch, capsys, "templates", "--json", "--spec", str(spec))
    refused(code, document, "spec", "more than 1,000,000 nodes with its aliases expanded", str(spec))
    assert _spec_cache(tmp_path) == before


def test_recursive_alias_in_a_spec_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "recursive.yaml"
    spec.write_text(
        SPEC.replace(
            "ListWidgetsRequest: {type: object, properties: {Name: {type: string}}}",
            "ListWidgetsRequest: &r {type: object, properties: {Name: {type: string}, Self: *r}}",
        ),
        encoding="utf-8",
    )
    code, document, _ = run_cli(monkeypatch, capsys, "template", "widgets.ListWidgets", "--spec", str(spec))
    refused(
        code, document, "spec", "recursive alias: the node at line 18, column 25 contains an alias to itself"
    )
    assert _spec_cache(tmp_path) == []


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_duplicate_keys_in_a_spec_are_refused(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / f"duplicate.{form}"
    if form == "yaml":
        text = SPEC.replace(
            "      operationId: ListWidgets\n", "      operationId: ListWidgets\n      operationId: Evil\n"
        )
        where = "line 8, column 7"
    else:
        text = json.dumps(yaml.safe_load(SPEC)).replace(
            '"operationId": "ListWidgets"', '"operationId": "A", "operationId": "B"'
        )
        where = "line 1, column"
    spec.write_text(text, encoding="utf-8")
    code, document, _ = run_cli(monkeypatch, capsys, "templates", "--json", "--spec", str(spec))
    refused(code, document, "spec", "duplicate key 'operationId'", where)
    assert _spec_cache(tmp_path) == []


@pytest.mark.parametrize("number", [".inf", "-.inf", ".nan", "1.0e+400"])
def test_non_finite_number_in_a_spec_is_refused_not_printed_as_infinity(
    number: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "infinite.yaml"
    spec.write_text(SPEC.replace("Name: {type: string}", f"Name: {{type: number, maximum: {number}}}"))
    code, document, _ = run_cli(
        monkeypatch, capsys, "template", "widgets.ListWidgets", "--format", "schema", "--spec", str(spec)
    )  # run_cli parses stdout refusing NaN and Infinity
    refused(code, document, "spec", f"the number '{number}' at line 18, column 83", "is not finite")


def test_spec_over_16_mib_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "huge.yaml"
    with open(spec, "w", encoding="utf-8") as handle:
        handle.write(SPEC)
        handle.write("#" * (16 * MiB - len(SPEC)) + "\n")  # one byte over
    (code, document, _), peak = _peak(
        lambda: run_cli(monkeypatch, capsys, "templates", "--json", "--spec", str(spec))
    )
    refused(code, document, "spec", f"is larger than 16 MiB ({16 * MiB} bytes)", "--spec")
    assert peak < 40 * MiB, f"peak {peak} bytes"


def test_yaml_checks_nesting_and_non_finite_numbers_before_construction() -> None:
    from http_task_kms.openapi.yaml_strict import StrictYAMLError, loads

    stacked = "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50
    with pytest.raises(StrictYAMLError, match="nested more than 100 levels deep"):
        loads(stacked)
    for number in (".inf", "-.Inf", ".nan", "1.0e+400"):
        with pytest.raises(StrictYAMLError, match="is not finite"):
            loads(f"maximum: {number}")
    with pytest.raises(StrictYAMLError, match="duplicate key '1'"):
        loads("{true: a, 1: b}")  # one Python dict key: PyYAML would keep b silently
    assert loads("base: &b {k: 1}\nover:\n  <<: *b\n  k: 2") == {"base": {"k": 1}, "over": {"k": 2}}


def test_pure_python_yaml_loader_refuses_lone_surrogates(monkeypatch: pytest.MonkeyPatch) -> None:
    from http_task_kms.openapi import yaml_strict as yamlutil

    monkeypatch.setattr(yamlutil, "_SAFE_LOADER", yaml.SafeLoader)
    monkeypatch.setattr(yamlutil, "C_LOADER", False)
    with pytest.raises(yamlutil.StrictYAMLError, match="lone surrogate at line 1, column 4"):
        yamlutil.loads('a: "\\ud800"')
    with pytest.raises(yamlutil.StrictYAMLError, match="recursive alias"):
        yamlutil.loads("a: &x [*x]")


# -- credential_process --------------------------------------------------------------------------------


def _helper_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, out: str, err: str = "", status: int = 0
) -> None:
    helper = tmp_path / "helper.py"
    helper.write_text(
        f"import sys\nsys.stdout.write({out!r})\nsys.stderr.write({err!r})\nsys.exit({status})\n",
        encoding="utf-8",
    )
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {sys.executable} {helper}\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


HELPER_OUTPUTS = [
    pytest.param({"out": f"not JSON {MARKER}"}, id="not-json"),
    pytest.param({"out": json.dumps([MARKER])}, id="json-list"),
    pytest.param(
        {"out": json.dumps({"Version": 1, "AccessKeyId": 5, "SecretAccessKey": MARKER})},
        id="key-not-a-string",
    ),
    pytest.param(
        {"out": json.dumps({"Version": 1, "AccessKeyId": "AKID\r\nX-Evil: 1", "SecretAccessKey": MARKER})},
        id="key-with-a-line-break",
    ),
    pytest.param(
        {
            "out": json.dumps(
                {"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "s", "Expiration": MARKER}
            )
        },
        id="bad-expiration",
    ),
    pytest.param({"out": json.dumps({"Version": 1, "AccessKeyId": "AKID"})}, id="no-secret"),
    pytest.param(
        {"out": '{"Version": 1, "AccessKeyId": "AKID", "SecretAccessKey": "\\ud800"}'}, id="surrogate-secret"
    ),
    pytest.param({"out": "", "err": f"token expired {MARKER}", "status": 1}, id="exit-status-1"),
]


@pytest.mark.parametrize("helper", HELPER_OUTPUTS)
def test_render_with_a_broken_credential_process_is_a_credentials_error(
    helper: dict[str, Any],
    params: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _helper_config(tmp_path, monkeypatch, **helper)
    code, document, err = run_cli(
        monkeypatch,
        capsys,
        "render",
        "kms.PutKeyPolicy",
        "--input",
        "-",
        "--caller-arn",
        CALLER,
        stdin=json.dumps(params).encode(),
    )
    message = refused(code, document, "credentials", "credential_process", "its output is never shown here")
    assert message.startswith(("could not load AWS credentials", "the AWS credentials from"))
    assert MARKER not in json.dumps(document) + err


def test_test_request_with_a_broken_credential_process_sends_nothing(
    params: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _helper_config(tmp_path, monkeypatch, out=f"oops {MARKER}")
    with FaultServer() as server:
        code, document, err = run_cli(
            monkeypatch,
            capsys,
            "test-request",
            "kms.ListKeys",
            "--input",
            "-",
            "--endpoint-url",
            server.url,
            "--region",
            "us-east-1",
            stdin=b"{}",
        )
        assert server.count == 0
    refused(
        code, document, "credentials", "could not load AWS credentials from the profile's credential_process"
    )
    assert MARKER not in json.dumps(document) + err


def test_broken_credential_process_in_a_real_process(params: dict[str, Any], tmp_path: Path) -> None:
    helper = tmp_path / "helper.py"
    helper.write_text(f"print('not JSON {MARKER}')\n", encoding="utf-8")
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {sys.executable} {helper}\n", encoding="utf-8")
    source = tmp_path / "input.json"
    source.write_text(json.dumps(params), encoding="utf-8")
    done = subprocess.run(
        [*ENTRY, "render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AWS_CONFIG_FILE": str(config)},
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert MARKER not in done.stdout + done.stderr
    refused(2, strict_json(done.stdout), "credentials", "JSONDecodeError")


# -- backups ---------------------------------------------------------------------------------------------


def _backup(**fields: Any) -> dict[str, Any]:
    return {
        "format": "http-task-kms/key-policy-backup@1",
        "keyId": KEY_ID,
        "region": "us-east-1",
        "endpoint": "https://kms.us-east-1.amazonaws.com",
        "policyName": "default",
        "savedAt": "2026-01-01T00:00:00+00:00",
        "policy": json.dumps(policy_for(CALLER)),
        **fields,
    }


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as started:
        yield started


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        pytest.param(
            json.dumps(_backup()).replace('"savedAt": "2026-01-01T00:00:00+00:00"', '"savedAt": NaN'),
            "NaN is not a JSON value",
            id="nan",
        ),
        pytest.param(
            json.dumps(_backup()).replace('"keyId": ', '"keyId": "other-key", "keyId": '),
            'duplicate key "keyId" in the object at $',
            id="duplicate-key",
        ),
        pytest.param(
            json.dumps(_backup()).replace(
                '"policyName"', '"note": ' + "[" * 120 + "]" * 120 + ', "policyName"'
            ),
            "nested more than 100 levels deep",
            id="deep",
        ),
        pytest.param(
            json.dumps(_backup()).replace('"us-east-1"', '"us-east-1\\ud800"'),
            "lone surrogate \\ud800",
            id="lone-surrogate",
        ),
        pytest.param(
            json.dumps(_backup(endpoint=7)), "'endpoint' must be a string", id="endpoint-not-a-string"
        ),
        pytest.param(
            json.dumps(_backup(policyName="other")), "'policyName' must be 'default'", id="policy-name"
        ),
    ],
)
def test_rollback_refuses_a_backup_the_strict_loader_refuses_and_sends_nothing(
    text: str,
    phrase: str,
    server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTRICT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "strictSECRET")
    backup = tmp_path / "backup.json"
    backup.write_text(text, encoding="utf-8")
    result = invoke(
        "rollback",
        str(backup),
        "--endpoint-url",
        server.url,
        "--caller-arn",
        CALLER,
        "--backup-dir",
        str(tmp_path / "b"),
    )
    refused_result(result, "BACKUP_FILE", phrase)
    assert server.count == 0


# -- responses: the output stays strict JSON --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"Keys": [], "Truncated": false, "Size": 1e400}',
        b'{"Keys": [], "Keys": [{"KeyId": "x"}]}',
        b'{"Keys": ["\\ud800"]}',
    ],
    ids=["1e400", "duplicate-key", "lone-surrogate"],
)
def test_cli_output_stays_strict_json_when_a_response_is_not(
    raw: bytes,
    server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTRICT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "strictSECRET")
    server.push(ok(raw))
    code, document, _ = run_cli(
        monkeypatch,
        capsys,
        "test-request",
        "kms.ListKeys",
        "--input",
        "-",
        "--endpoint-url",
        server.url,
        "--region",
        "us-east-1",
        stdin=b"{}",
    )  # run_cli parses stdout refusing NaN and Infinity
    assert code == 0, document
    assert document["body"] == raw.decode()  # kept as the text it was
