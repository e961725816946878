"""http_task_kms.schema_fast against jsonschema: the same yes/no for every template, on random bodies.

The quick test answers first and jsonschema is asked only on a "no", so a "yes" where
jsonschema says no would let a bad body through: for each template's body schema, bodies drawn
near its rules (lengths at the bounds, patterns, enums, missing and extra members, wrong types,
base64 and not) must get exactly jsonschema's answer.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from http_task_kms.plugins.manager import get_registry
from http_task_kms.schema_fast import compile_schema
from http_task_kms.validation import BodyValidator, _validator_class

TEMPLATES = get_registry().search("")
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)


def _resolve(schema: Any, defs: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _valid_string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low = schema.get("minLength", 0)
    high = max(min(schema.get("maxLength", 40), 40), low)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("contentEncoding") == "base64":
        size = st.binary(min_size=schema.get("x-minBytes", 0), max_size=min(schema.get("x-maxBytes", 30), 30))
        return size.map(lambda b: base64.b64encode(b).decode())
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda t: low <= len(t) <= high)
    return st.text(min_size=low, max_size=high)


def valid(schema: Any, defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that ``schema`` accepts (most of the time: the test compares, it does not assume)."""
    schema = _resolve(schema, defs)
    if not isinstance(schema, dict) or depth > 4:
        return st.none()
    kind = schema.get("type")
    if kind == "object":
        props, required = schema.get("properties", {}), set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: valid(v, defs, depth + 1) for k, v in props.items() if k in required},
            optional={k: valid(v, defs, depth + 1) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        low, high = (
            schema.get("minItems", 0),
            max(min(schema.get("maxItems", 3), 3), schema.get("minItems", 0)),
        )
        return st.lists(valid(schema.get("items", {}), defs, depth + 1), min_size=low, max_size=high)
    if kind == "string":
        return _valid_string(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum", -3), schema.get("maximum", 3))
    if kind == "number":
        return st.floats(schema.get("minimum", -3), schema.get("maximum", 3))
    if kind == "boolean":
        return st.booleans()
    return scalars


def _near_string(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    low = schema.get("minLength", 0)
    high = max(min(schema.get("maxLength", 40), 40), low)
    options = [st.text(min_size=max(0, low - 1), max_size=high + 1), st.text(max_size=3)]
    if "x-maxBytes" in schema or "x-minBytes" in schema:
        sizes = [schema.get("x-minBytes", 1), schema.get("x-maxBytes", 1)]
        edge = st.sampled_from(sizes).flatmap(lambda n: st.sampled_from([n - 1, n, n + 1]))
        options.append(edge.map(lambda n: "x" * max(n, 0)))  # n bytes of UTF-8
        options.append(edge.map(lambda n: "é" * max(n // 2, 0)))  # n - 1 or n bytes
        options.append(edge.map(lambda n: base64.b64encode(b"x" * max(n, 0)).decode()))  # n bytes decoded
    return st.one_of(options)


def values(schema: Any, defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid values, values with one rule broken somewhere inside, and values of other types."""
    schema = _resolve(schema, defs)
    if not isinstance(schema, dict) or depth > 4:
        return scalars
    kind = schema.get("type")
    near: st.SearchStrategy[Any] = scalars
    if kind == "object":
        props = schema.get("properties", {})
        members = st.fixed_dictionaries(
            {}, optional={k: values(v, defs, depth + 1) for k, v in props.items()}
        )
        extra = st.dictionaries(st.sampled_from(["Extra", "keyid", *props]), scalars, min_size=1, max_size=2)
        near = st.one_of(
            st.tuples(valid(schema, defs, depth), st.sampled_from(sorted(props) or [""])).flatmap(
                lambda t: _one_member_from(t[0], t[1], props, defs, depth)
            ),
            members,
            st.tuples(valid(schema, defs, depth), extra).map(lambda both: {**both[1], **both[0]}),
        )
    elif kind == "array":
        near = st.lists(values(schema.get("items", {}), defs, depth + 1), max_size=4)
    elif kind == "string":
        near = _near_string(schema)
    elif kind in {"integer", "number"}:
        low, high = schema.get("minimum", -3), schema.get("maximum", 3)
        near = st.one_of(st.integers(low - 1, high + 1), st.floats(low - 1, high + 1), st.booleans())
    return st.one_of(valid(schema, defs, depth), near, scalars)


def _one_member_from(
    body: dict[str, Any], name: str, props: dict[str, Any], defs: dict[str, Any], depth: int
) -> st.SearchStrategy[dict[str, Any]]:
    """``body`` (valid) with one member replaced by a near value, or dropped."""
    if name not in props:
        return st.just(body)
    dropped = {k: v for k, v in body.items() if k != name}
    return st.one_of(st.just(dropped), values(props[name], defs, depth + 1).map(lambda v: {**body, name: v}))


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.id for t in TEMPLATES])
def test_every_template_schema_compiles_to_a_quick_test(template: Any) -> None:
    assert compile_schema(template.body_schema) is not None


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), template=st.sampled_from([t.id for t in TEMPLATES]))
def test_the_quick_test_answers_as_jsonschema_does(data: st.DataObject, template: str) -> None:
    schema = next(t for t in TEMPLATES if t.id == template).body_schema
    body = data.draw(values(schema, schema.get("$defs", {})))
    quick = compile_schema(schema)
    assert quick is not None
    assert quick(body) == _validator_class()(schema).is_valid(body), body


def _members() -> list[tuple[str, dict[str, Any]]]:
    """Every member schema of every template (and of its definitions), with the definitions."""
    found = []
    for template in TEMPLATES:
        root = template.body_schema
        defs = root.get("$defs", {})
        for owner in [root, *defs.values()]:
            for name, sub in owner.get("properties", {}).items():
                found.append((f"{template.id}.{name}", {**sub, "$defs": defs}))
    return found


MEMBERS = _members()


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), member=st.sampled_from(range(len(MEMBERS))))
def test_the_quick_test_answers_as_jsonschema_does_member_by_member(data: st.DataObject, member: int) -> None:
    """The leaf rules (lengths, bytes, base64, patterns, enums, bounds) at their edges."""
    _, schema = MEMBERS[member]
    value = data.draw(values(schema, schema["$defs"]))
    quick = compile_schema(schema)
    assert quick is not None
    assert quick(value) == _validator_class()(schema).is_valid(value), value


SIZED = [(name, schema) for name, schema in MEMBERS if "x-maxBytes" in schema or "x-minBytes" in schema]


@pytest.mark.parametrize(("name", "schema"), SIZED, ids=[name for name, _ in SIZED])
def test_byte_limits_at_their_edges(name: str, schema: dict[str, Any]) -> None:
    """At each byte limit, and one byte either side: the quick test answers as jsonschema does."""
    quick = compile_schema(schema)
    assert quick is not None
    answers = set()
    for limit in (schema.get("x-minBytes"), schema.get("x-maxBytes")):
        for size in (limit - 1, limit, limit + 1) if limit is not None else ():
            raw = b"x" * max(size, 0)
            text = (
                base64.b64encode(raw).decode() if schema.get("contentEncoding") == "base64" else raw.decode()
            )
            expected = _validator_class()(schema).is_valid(text)
            assert quick(text) == expected, (name, size)
            answers.add(expected)
    assert answers == {True, False}  # the edges were really on both sides


def test_the_put_key_policy_edges() -> None:
    """A few answers pinned: the policy's byte quota, its pattern, PolicyName, the members."""
    schema = next(t for t in TEMPLATES if t.id == "kms.PutKeyPolicy").body_schema
    quick = compile_schema(schema)
    assert quick is not None
    ok = {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "PolicyName": "default", "Policy": "{}"}
    assert quick(ok)
    assert quick({**ok, "Policy": "x" * 32768})
    assert not quick({**ok, "Policy": "é" * 16385})  # 32,770 bytes of UTF-8
    assert not quick({k: v for k, v in ok.items() if k != "Policy"})
    assert not quick({**ok, "Extra": 1})
    assert not quick({**ok, "BypassPolicyLockoutSafetyCheck": "true"})
    assert not quick({**ok, "KeyId": ""})
    assert not quick({**ok, "PolicyName": "-"})  # the pattern [\w]+


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "const": {}},
        {"oneOf": [{"type": "string"}]},
        {"type": "object", "patternProperties": {"^a": {}}, "additionalProperties": False},
        {"enum": [1, True]},
        {"$ref": "https://example.com/schema"},
        {"type": "string", "pattern": "("},
        {1: "not a keyword"},
    ],
)
def test_what_is_not_compiled_is_left_to_jsonschema(schema: dict[Any, Any]) -> None:
    assert compile_schema(schema) is None


def test_a_recursive_definition_and_the_validator_messages() -> None:
    schema = {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/Node"}},
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "additionalProperties": False,
            }
        },
    }
    quick = compile_schema(schema)
    assert quick is not None
    assert quick({"tree": {"kids": [{"kids": []}, {}]}})
    bad = {"tree": {"kids": [{"kids": [{"x": 1}]}]}}
    assert not quick(bad)
    assert not Draft202012Validator(schema).is_valid(bad)
    problems = BodyValidator(schema).problems(bad)  # the quick "no" hands over to jsonschema's messages
    assert [p.field for p in problems] == ["tree.kids[0].kids[0]"]
