"""The builder's expressions: ${JSONPath} placeholders, the $${ escape and jsonata: values."""

from __future__ import annotations

from typing import Any

import pytest

from http_task_kms.expressions import MISSING, Missing, compile_value, render

PARAMS: dict[str, Any] = {
    "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "region": "eu-west-1",
    "count": 42,
    "ratio": 1.5,
    "enabled": True,
    "disabled": False,
    "zero": 0,
    "empty": "",
    "nothing": None,
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]},
    "tags": ["red", "green", "blue"],
    "keys": [
        {"id": "k1", "state": "Enabled", "size": 1},
        {"id": "k2", "state": "Disabled", "size": 2},
        {"id": "k3", "state": "Enabled", "size": 3},
    ],
    "nested": {"deeper": {"deepest": "bottom"}},
    "brace}key": "odd",
}


def rendered(value: Any, params: Any = None) -> Any:
    out = render(compile_value(value), PARAMS if params is None else params, where="field")
    assert out.problems == [], out.problems
    assert out.missing == [], out.missing
    return out.value


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # a whole placeholder keeps the JSON type it selects
        pytest.param("${$.policy}", PARAMS["policy"], id="object"),
        pytest.param("${$.count}", 42, id="integer"),
        pytest.param("${$.ratio}", 1.5, id="float"),
        pytest.param("${$.enabled}", True, id="true"),
        pytest.param("${$.disabled}", False, id="false"),
        pytest.param("${$.zero}", 0, id="zero"),
        pytest.param("${$.nothing}", None, id="null"),
        pytest.param("${$.tags}", ["red", "green", "blue"], id="array"),
        pytest.param("${$.empty}", "", id="empty-string"),
        pytest.param("${$.KeyId}", PARAMS["KeyId"], id="string"),
        pytest.param("${ $.KeyId }", PARAMS["KeyId"], id="spaces-inside"),
        pytest.param("${$['KeyId']}", PARAMS["KeyId"], id="bracket-notation"),
        pytest.param("${$['brace}key']}", "odd", id="brace-in-quoted-name"),
        # interpolation inside a longer string
        pytest.param(
            "https://kms.${$.region}.amazonaws.com/", "https://kms.eu-west-1.amazonaws.com/", id="url"
        ),
        pytest.param("n=${$.count}", "n=42", id="number-as-text"),
        pytest.param("r=${$.ratio}", "r=1.5", id="float-as-text"),
        pytest.param("on=${$.enabled},off=${$.disabled}", "on=true,off=false", id="booleans-as-json"),
        pytest.param("z=${$.zero}", "z=0", id="zero-as-text"),
        pytest.param(
            "p=${$.policy}",
            'p={"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}',
            id="object-compact",
        ),
        pytest.param("t=${$.tags}", 't=["red","green","blue"]', id="array-compact"),
        pytest.param("a${$.empty}b", "ab", id="empty-string-interpolated"),
        pytest.param("${$.region}${$.count}", "eu-west-142", id="two-adjacent"),
        pytest.param(" ${$.count}", " 42", id="leading-space-makes-text"),
        pytest.param("{${$.count}}", "{42}", id="literal-braces-around"),
        # the $${ escape
        pytest.param("$${$.KeyId}", "${$.KeyId}", id="escape-whole"),
        pytest.param("literal $${x} and ${$.count}", "literal ${x} and 42", id="escape-and-placeholder"),
        pytest.param("price: $5 and $$ and }", "price: $5 and $$ and }", id="plain-dollars"),
        pytest.param("no placeholders", "no placeholders", id="plain-text"),
        # jsonata:
        pytest.param("jsonata:count * 2 + 1", 85, id="jsonata-arithmetic"),
        pytest.param("jsonata:region & '/' & KeyId", "eu-west-1/" + PARAMS["KeyId"], id="jsonata-concat"),
        pytest.param(
            "jsonata:{'key': KeyId, 'next': count + 1, 'on': enabled}",
            {"key": PARAMS["KeyId"], "next": 43, "on": True},
            id="jsonata-object",
        ),
        pytest.param("jsonata:$uppercase(region)", "EU-WEST-1", id="jsonata-function"),
        pytest.param("jsonata:$count(tags)", 3, id="jsonata-count"),
        pytest.param("jsonata:keys[state='Enabled'].id", ["k1", "k3"], id="jsonata-filter"),
        pytest.param("jsonata:$sum(keys.size)", 6, id="jsonata-sum"),
        pytest.param("jsonata:count > 100", False, id="jsonata-false-is-a-value"),
        # paths, indexes, wildcards, filters
        pytest.param("${$.nested.deeper.deepest}", "bottom", id="nested-path"),
        pytest.param("${$.tags[1]}", "green", id="index"),
        pytest.param("${$.tags[-1]}", "blue", id="negative-index"),
        pytest.param("${$.keys[0].id}", "k1", id="index-then-member"),
        pytest.param("${$.keys[*].id}", ["k1", "k2", "k3"], id="wildcard-list"),
        pytest.param("${$.tags[*]}", ["red", "green", "blue"], id="wildcard-array"),
        pytest.param("${$.tags[0:1]}", ["red"], id="slice-is-a-list"),
        pytest.param("${$.keys[?@.state == 'Enabled'].id}", ["k1", "k3"], id="filter"),
        pytest.param("${$.keys[?@.size > 2].id}", ["k3"], id="filter-one-match-still-list"),
        pytest.param("ids=${$.keys[*].id}", 'ids=["k1","k2","k3"]', id="wildcard-interpolated"),
    ],
)
def test_render(template: Any, expected: Any) -> None:
    assert rendered(template) == expected


def test_types_survive_rendering_exactly() -> None:
    # 1 == True and 0 == False in Python: check the types too.
    assert type(rendered("${$.count}")) is int
    assert type(rendered("${$.enabled}")) is bool
    assert type(rendered("${$.zero}")) is int
    assert type(rendered("jsonata:count * 2 + 1")) is int
    assert rendered("jsonata:{'a': [1, 2]}") == {"a": [1, 2]}
    assert type(rendered("jsonata:{'a': [1, 2]}")) is dict
    assert type(rendered("jsonata:{'a': [1, 2]}")["a"]) is list


def test_objects_and_arrays_render_recursively() -> None:
    value = {
        "url": "https://kms.${$.region}.amazonaws.com/",
        "body": {"KeyId": "${$.KeyId}", "Size": "${$.count}", "List": ["${$.tags[0]}", 7, None, True]},
        "fixed": 3,
    }
    assert rendered(value) == {
        "url": "https://kms.eu-west-1.amazonaws.com/",
        "body": {"KeyId": PARAMS["KeyId"], "Size": 42, "List": ["red", 7, None, True]},
        "fixed": 3,
    }


def test_compiled_once_rendered_many_times() -> None:
    node = compile_value({"k": "${$.KeyId}", "u": "x-${$.n}"})
    assert render(node, {"KeyId": "a", "n": 1}).value == {"k": "a", "u": "x-1"}
    assert render(node, {"KeyId": "b", "n": 2}).value == {"k": "b", "u": "x-2"}


# -- missing values ------------------------------------------------------------------------


def test_whole_placeholder_selecting_nothing_is_recorded_as_missing() -> None:
    out = render(compile_value("${$.absent}"), PARAMS, where="KeyId")
    assert out.value is MISSING
    assert out.problems == []
    assert out.missing == [Missing(field="KeyId", expression="${$.absent}")]


def test_missing_member_is_dropped_from_objects() -> None:
    out = render(
        compile_value({"KeyId": "${$.absent}", "Size": "${$.count}", "Deep": {"X": "${$.gone}"}}), PARAMS
    )
    assert out.value == {"Size": 42, "Deep": {}}
    assert out.problems == []
    assert out.missing == [
        Missing(field="KeyId", expression="${$.absent}"),
        Missing(field="Deep.X", expression="${$.gone}"),
    ]


@pytest.mark.parametrize(
    "template",
    ["${$.tags[7]}", "${$.keys[?@.state == 'Pending'].id}", "${$.nested.deeper.nope}", "${$.absent[*]}"],
)
def test_selections_that_find_nothing_are_missing(template: str) -> None:
    out = render(compile_value(template), PARAMS, where="f")
    assert out.value is MISSING
    assert out.missing == [Missing(field="f", expression=template)]


def test_jsonata_undefined_is_missing() -> None:
    out = render(compile_value("jsonata:absent"), PARAMS, where="f")
    assert out.value is MISSING
    assert out.missing == [Missing(field="f", expression="jsonata:absent")]


@pytest.mark.parametrize(
    ("template", "expression", "what"),
    [
        ("arn:aws:kms:${$.region}:${$.account}:key/x", "$.account", "selected nothing"),
        ("x ${$.absent[*]} y", "$.absent[*]", "selected nothing"),
        ("value=${$.nothing}", "$.nothing", "selected null"),
    ],
)
def test_interpolating_a_missing_value_is_a_problem(template: str, expression: str, what: str) -> None:
    out = render(compile_value(template), PARAMS, where="headers.X-Custom")
    assert out.value is MISSING
    assert [p.field for p in out.problems] == ["headers.X-Custom"]
    message = out.problems[0].message
    assert message == (
        f"${{{expression}}} {what} in the input parameters, so it cannot be interpolated into the text"
    )
    # never rendered as the text "null" / "None"
    assert not isinstance(out.value, str)


def test_interpolated_missing_member_is_dropped_from_the_object_with_a_problem() -> None:
    out = render(compile_value({"Url": "https://${$.host}/", "KeyId": "${$.KeyId}"}), PARAMS)
    assert out.value == {"KeyId": PARAMS["KeyId"]}
    assert [(p.field, p.message.split(" ", 1)[0]) for p in out.problems] == [("Url", "${$.host}")]


def test_missing_array_item_is_a_problem() -> None:
    out = render(compile_value(["${$.tags[0]}", "${$.absent}"]), PARAMS, where="List")
    assert out.value == ["red"]
    assert [(p.field, p.message) for p in out.problems] == [("List[1]", "an array item selected nothing")]


# -- invalid expressions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param(
            "${$.[}",
            "${$.[} is not valid JSONPath (RFC 9535): ",
            id="invalid-jsonpath",
        ),
        pytest.param(
            "${$.keys[?@.state ==]}",
            "${$.keys[?@.state ==]} is not valid JSONPath (RFC 9535): ",
            id="invalid-filter",
        ),
        pytest.param(
            "${swf:sequenceNumber}",
            "${swf:sequenceNumber} is a value only the workflow builder provides at run time; "
            "put the value in the input parameters to test this request here",
            id="swf-whole",
        ),
        pytest.param(
            "run-${swf:sequenceNumber}",
            "${swf:sequenceNumber} is a value only the workflow builder provides at run time; "
            "put the value in the input parameters to test this request here",
            id="swf-interpolated",
        ),
        pytest.param(
            "${KeyId}",
            "${KeyId} is not a JSONPath query: it must start with '$', e.g. ${$.KeyId}",
            id="no-dollar",
        ),
        pytest.param(
            "${workflow.input.keyId}",
            "${workflow.input.keyId} is not a JSONPath query: it must start with '$', e.g. ${$.KeyId}",
            id="conductor-style",
        ),
        pytest.param(
            "${}",
            "${} is not a JSONPath query: it must start with '$', e.g. ${$.KeyId}",
            id="empty",
        ),
        pytest.param("${$.KeyId", "unclosed placeholder at character 1 of '${$.KeyId'", id="unclosed-whole"),
        pytest.param(
            "key/${$.KeyId",
            "unclosed placeholder at character 5 of 'key/${$.KeyId'",
            id="unclosed-interpolated",
        ),
        pytest.param("jsonata:(", "'jsonata:(' is not a valid JSONata expression: ", id="invalid-jsonata"),
    ],
)
def test_invalid_expressions_are_problems(template: str, message: str) -> None:
    out = render(compile_value(template), PARAMS, where="field")
    assert out.value is MISSING
    assert len(out.problems) == 1
    assert out.problems[0].field == "field"
    if message.endswith(": "):
        assert out.problems[0].message.startswith(message)
        assert len(out.problems[0].message) > len(message)
    else:
        assert out.problems[0].message == message
    assert out.missing == []


def test_jsonata_runtime_error_is_a_problem() -> None:
    out = render(compile_value("jsonata:$number('not a number') + $undefinedFunction()"), PARAMS, where="f")
    assert out.value is MISSING
    assert len(out.problems) == 1
    assert out.problems[0].message.startswith(
        "JSONata \"$number('not a number') + $undefinedFunction()\" failed: "
    )


def test_problems_are_reported_for_every_member_at_once() -> None:
    out = render(
        compile_value({"A": "${KeyId}", "B": "x ${$.absent} y", "C": "${swf:x}", "D": "${$.count}"}), PARAMS
    )
    assert out.value == {"D": 42}
    assert [p.field for p in out.problems] == ["A", "B", "C"]


# -- isolation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("own", [False, True], ids=["task-expression", "our-own-in-process"])
def test_a_binding_made_by_one_render_is_gone_in_the_next(own: bool) -> None:
    # a top-level := binds in the evaluation's frame: shared by every render before the fix
    node = compile_value("jsonata:$exists($seen) ? 'leaked' : $seen := 'fresh'", own=own)
    assert [render(node, {}).value for _ in range(3)] == ["fresh", "fresh", "fresh"]
