"""What a fresh process imports and builds before it can do anything (issue 15).

- ``--help`` (of the group and of every command) imports none of the heavy libraries, and
  ``templates`` / ``template`` only pydantic of them: checked in a fresh interpreter's
  ``sys.modules``, not by timing.
- A template's task is compiled and rendered without the expression engines: its
  placeholders are member names (``${$.KeyId}``), a lookup that selects exactly what the
  JSONPath query does (checked against python-jsonpath over generated names and inputs).
- The KMS templates come from the packaged ready form (``templates.json``), which must be
  what a fresh build of ``openapi.yaml`` gives; a stale or broken one is never used.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from http_task_kms import endpoints, engines, expressions
from http_task_kms.expressions import MISSING, compile_value, render
from http_task_kms.kms import templates as kms_templates

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

# jsonata-python raises the recursion limit when imported: done here, not inside a hypothesis test
assert engines.JSONATA
ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "regenerate it with `python -m http_task_kms.kms.templates` and review the diff"

HEAVY = ("botocore", "requests", "urllib3", "jsonschema", "yaml", "pydantic", "jsonata", "jsonpath")

_RUN_COMMAND = """
import json, sys
heavy = set(json.loads(sys.argv[2]))
sys.argv = ["http-task-kms", *json.loads(sys.argv[1])]
from http_task_kms.cli import run
try:
    run()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
loaded = sorted({name.split(".")[0] for name in sys.modules} & heavy)
sys.stderr.write("\\n" + json.dumps({"exit": code, "loaded": loaded}) + "\\n")
"""


def _fresh(code: str, *args: str) -> tuple[str, dict[str, Any]]:
    """Run ``code`` in a fresh interpreter; its stdout, and the JSON its stderr ends with."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def _command(args: list[str]) -> tuple[str, int, list[str]]:
    """A command's output, exit code and which of HEAVY it imported, in a fresh process."""
    out, report = _fresh(_RUN_COMMAND, json.dumps(args), json.dumps(HEAVY))
    return out, report["exit"], report["loaded"]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["template", "--help"], ["test-request", "--help"], ["lint-policy", "--help"]],
    ids=" ".join,
)
def test_help_imports_none_of_the_heavy_libraries(args: list[str]) -> None:
    out, code, loaded = _command(args)
    assert code == 0
    assert "Usage: http-task-kms" in out  # the help was printed: nothing failed before it
    assert loaded == []


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["templates"], "kms.PutKeyPolicy"),
        (["templates", "--json", "--search", "policy"], '"id": "kms.PutKeyPolicy"'),
        (["template", "kms.PutKeyPolicy"], '"X-Amz-Target": "TrentService.PutKeyPolicy"'),
        (["template", "kms.PutKeyPolicy", "--format", "schema"], '"BypassPolicyLockoutSafetyCheck"'),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_templates_import_only_pydantic_of_the_heavy_libraries(args: list[str], shown: str) -> None:
    # No botocore (signing, endpoints), requests, JSON Schema, YAML (the ready form is JSON)
    # or expression engine: listing and showing templates needs none of them.
    out, code, loaded = _command(args)
    assert code == 0
    assert shown in out
    assert loaded == ["pydantic"]


def test_a_valid_request_is_checked_without_jsonschema_which_only_explains_a_no(tmp_path: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Policy": policy}))
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Policy": policy, "PolicyName": 7})
    )
    common = ["--region", "us-east-1", "--caller-arn", "arn:aws:iam::111122223333:root"]
    out, code, loaded = _command(["render", "kms.PutKeyPolicy", "--input", str(good), *common])
    assert code == 0, out
    assert '"X-Amz-Target": "TrentService.PutKeyPolicy"' in out
    assert "jsonschema" not in loaded
    out, code, loaded = _command(["render", "kms.PutKeyPolicy", "--input", str(bad), *common])
    assert code == 2
    assert "PolicyName" in out
    assert "must be of type string" in out  # jsonschema's explanation of the compiled test's "no"
    assert "jsonschema" in loaded


def test_a_problem_is_strict_plain_data_that_results_show_as_before() -> None:
    from http_task_kms.errors import Problem
    from http_task_kms.result import ErrorDetail, validation_failure

    problem = Problem(field="KeyId", message="is required")
    assert problem == Problem(field="KeyId", message="is required")
    assert len({problem, Problem(field="KeyId", message="is required")}) == 1  # frozen, hashable
    shown = validation_failure([problem]).to_json()["error"]["problems"]
    assert shown == [{"field": "KeyId", "message": "is required"}]
    parsed = ErrorDetail.model_validate({"code": "c", "message": "m", "problems": shown})
    assert parsed.problems == [problem]
    with pytest.raises(TypeError):
        Problem(field=1, message="m")  # type: ignore[arg-type]


_RENDER_TEMPLATE = """
import json, sys
from http_task_kms.plugins.manager import get_registry
from http_task_kms.render import render_task
registry = get_registry()
compiled = registry.compiled(registry.get("kms.PutKeyPolicy"))
rendered = render_task(compiled, {"KeyId": "k-1", "Policy": "{}", "PolicyName": "default"})
print(json.dumps(rendered.body))
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"jsonpath", "jsonata", "regex"})
sys.stderr.write(json.dumps({"loaded": loaded, "problems": len(rendered.problems)}) + "\\n")
"""


def test_a_template_compiles_and_renders_without_the_expression_engines() -> None:
    out, report = _fresh(_RENDER_TEMPLATE)
    assert json.loads(out) == {"KeyId": "k-1", "PolicyName": "default", "Policy": "{}"}
    assert report == {"loaded": [], "problems": 0}


# -- a member name selects what the JSONPath query selects --------------------------------------
_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True) | st.sampled_from(
    ["true", "null", "length", "keys", "in", "match", "value", "_", "A1"]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def _as_query(node: expressions.Node) -> expressions.Node:
    """The same placeholder evaluated by python-jsonpath (as every other query is)."""
    assert isinstance(node, expressions._Select)
    assert node.member is not None
    return expressions._Select(node.expression, node.query, True)


def _outcome(node: expressions.Node, params: Any) -> tuple[Any, list[Any], list[Any]]:
    out = render(node, params, where="Body")
    return out.value, out.problems, out.missing


_OBJECTS = st.dictionaries(_NAMES | st.text(max_size=4), _JSON, max_size=4)


@given(name=_NAMES, params=_OBJECTS, present=_JSON)
def test_a_member_name_selects_what_the_query_selects(
    name: str, params: dict[str, Any], present: Any
) -> None:
    node = compile_value("${$." + name + "}")
    for data in (params, {**params, name: present}):
        assert _outcome(node, data) == _outcome(_as_query(node), data)
    assert render(node, {name: present}).value == present
    assert render(node, {}).value is MISSING


@given(name=_NAMES, data=_JSON)
def test_a_member_name_over_anything_but_an_object_is_the_query_itself(name: str, data: Any) -> None:
    node = compile_value("${$." + name + "}")
    assert _outcome(node, data) == _outcome(_as_query(node), data)


@pytest.mark.parametrize("expression", ["$.KeyId", "$.Key_1", "$._"])
def test_only_a_plain_ascii_member_name_skips_the_query(expression: str) -> None:
    node = compile_value("${" + expression + "}")
    assert isinstance(node, expressions._Select)
    assert node.member == expression[2:]
    assert node.path is None


@pytest.mark.parametrize("expression", ["$.1Key", "$['KeyId']", "$.a.b", "$.é", "$..KeyId", "$.KeyId[0]"])
def test_any_other_query_is_compiled_by_python_jsonpath(expression: str) -> None:
    node = compile_value("${" + expression + "}")
    assert not (isinstance(node, expressions._Select) and node.member is not None)


def test_our_url_expression_is_compiled_when_first_rendered() -> None:
    url = kms_templates.own_template("kms.PutKeyPolicy").url_expression()
    node = compile_value(url, own=True)
    assert isinstance(node, expressions._Jsonata)
    assert node.compiled is None  # not compiled yet
    assert render(node, {"region": "eu-west-1"}).value == "https://kms.eu-west-1.amazonaws.com/"
    assert render(node, {"region": "cn-north-1"}).value == "https://kms.cn-north-1.amazonaws.com.cn/"
    assert render(compile_value(url), {"region": "eu-west-1"}).value == "https://kms.eu-west-1.amazonaws.com/"


def test_a_task_jsonata_expression_is_still_checked_when_compiled() -> None:
    node = compile_value("jsonata:$substring(")  # not ours: compiled (and refused) at once
    out = render(node, {})
    assert out.value is MISSING
    assert "is not a valid JSONata expression" in out.problems[0].message


# -- botocore's data, read once per process -----------------------------------------------------
def _clear_endpoint_caches() -> None:
    for cached in (endpoints._loader, endpoints._partitions, endpoints._provider):
        cached.cache_clear()


def test_resolving_two_services_lists_botocores_data_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Finding a service's rule set makes botocore's loader list every service directory
    # (~450); one loader per process does that once, not once per service (KMS, then STS).
    from botocore import loaders

    listed: list[str] = []
    real_listdir = loaders.os.listdir
    data = str(loaders.Loader.BUILTIN_DATA_PATH)
    monkeypatch.setattr(loaders.os, "listdir", lambda path: listed.append(str(path)) or real_listdir(path))
    _clear_endpoint_caches()
    try:
        kms = endpoints.resolve_endpoint("kms", "eu-west-1", service="kms")
        sts = endpoints.resolve_endpoint("sts", "eu-west-1", service="sts")
    finally:
        _clear_endpoint_caches()
    assert isinstance(kms, endpoints.Endpoint)
    assert kms.url == "https://kms.eu-west-1.amazonaws.com/"
    assert isinstance(sts, endpoints.Endpoint)
    assert sts.url == "https://sts.eu-west-1.amazonaws.com/"
    assert listed.count(data) == 1


# -- the ready form of the KMS templates ---------------------------------------------------------
def test_the_committed_ready_templates_are_a_fresh_build_of_the_spec() -> None:
    committed = json.loads(kms_templates.ready_path().read_text(encoding="utf-8"))
    fresh = kms_templates.ready_document()
    built_from_another = f"templates.json was built from another openapi.yaml; {REGENERATE}"
    assert committed["source"] == fresh["source"], built_from_another
    changed = [
        new["id"] for old, new in zip(committed["templates"], fresh["templates"], strict=False) if old != new
    ]
    assert len(committed["templates"]) == len(fresh["templates"]), REGENERATE
    assert changed == [], f"templates.json differs from a fresh build for {changed[:5]}; {REGENERATE}"


def test_the_plugin_registers_the_ready_templates_which_equal_a_fresh_build() -> None:
    ready = kms_templates.load_ready()
    assert ready is not None  # the packaged form is used, not rebuilt
    assert ready == kms_templates.build_templates()
    assert list(kms_templates.own_templates().values()) == ready
    assert [t.id for t in ready if t.featured] == [kms_templates.FEATURED]


def _ready_file(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "templates.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_a_stale_or_broken_ready_file_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    committed = json.loads(kms_templates.ready_path().read_text(encoding="utf-8"))
    tampered = {**committed, "templates": [{**committed["templates"][0], "title": "stale"}]}
    stale = {**tampered, "source": {**committed["source"], "sha256": "0" * 64}}  # another document's
    for document in (stale, "{not json", {"templates": []}, []):
        monkeypatch.setattr(kms_templates, "ready_path", lambda d=document: _ready_file(tmp_path, d))
        assert kms_templates.load_ready() is None
    monkeypatch.setattr(kms_templates, "ready_path", lambda: tmp_path / "missing.json")
    assert kms_templates.load_ready() is None
    # built from openapi.yaml instead: the same templates
    assert kms_templates.load_templates() == kms_templates.build_templates()
    # the check is the document's hash: the same file with the right one is used as it is
    monkeypatch.setattr(kms_templates, "ready_path", lambda: _ready_file(tmp_path, tampered))
    assert [t.title for t in kms_templates.load_ready() or []] == ["stale"]


def test_the_ready_templates_ship_in_the_wheel() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert kms_templates.READY_RESOURCE in package_data["http_task_kms.kms"]
