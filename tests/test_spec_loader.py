"""The OpenAPI loader (openapi.load): KMS templates, the seed page, other services, bad documents."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import botocore.session
import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from http_task_kms.cli import main, run
from http_task_kms.errors import SpecError
from http_task_kms.openapi.load import html_to_text, templates_from_document, templates_from_file
from http_task_kms.plugins.manager import get_registry
from http_task_kms.template import TaskTemplate
from http_task_kms.validation import BodyValidator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")

# --------------------------------------------------------------------------------------------
# KMS, from the registered plugin
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kms_operation_names() -> list[str]:
    """Every operation of botocore's KMS service model."""
    return list(botocore.session.get_session().get_service_model("kms").operation_names)


@pytest.fixture(scope="module")
def put_key_policy() -> TaskTemplate:
    """The registered kms.PutKeyPolicy template."""
    return get_registry().get("kms.PutKeyPolicy")


def test_every_kms_operation_has_a_template(kms_operation_names: list[str]) -> None:
    registry = get_registry()
    ids = {t.id for t in registry}
    missing = sorted(f"kms.{op}" for op in kms_operation_names if f"kms.{op}" not in ids)
    assert missing == []
    assert len(kms_operation_names) > 50
    for op in kms_operation_names:
        template = registry.get(f"kms.{op}")
        assert template.service == "kms"
        assert template.operation == op
        assert template.headers == {
            "X-Amz-Target": f"TrentService.{op}",
            "Content-Type": "application/x-amz-json-1.1",
        }
        assert registry.by_target(f"TrentService.{op}") is template


def test_put_key_policy_request_line_and_headers_match_the_seed(put_key_policy: TaskTemplate) -> None:
    assert put_key_policy.id == "kms.PutKeyPolicy"
    assert put_key_policy.method == "POST"
    assert put_key_policy.target == "TrentService.PutKeyPolicy"
    assert put_key_policy.headers == {
        "X-Amz-Target": "TrentService.PutKeyPolicy",
        "Content-Type": "application/x-amz-json-1.1",
    }
    assert put_key_policy.endpoint_prefix == "kms"
    assert put_key_policy.signing_name == "kms"
    assert put_key_policy.servers == (
        "https://kms.{region}.amazonaws.com",
        "https://kms.{region}.amazonaws.com.cn",
    )


# The seed page's "Request body fields": name → (type, required).
SEED_BODY = {
    "Policy": ("string", True),
    "PolicyName": ("string", True),
    "BypassPolicyLockoutSafetyCheck": ("boolean", False),
    "KeyId": ("string", True),
}


def test_put_key_policy_body_members_types_and_required(put_key_policy: TaskTemplate) -> None:
    properties = put_key_policy.body_schema["properties"]
    assert set(put_key_policy.members) == set(SEED_BODY)
    assert {name: prop["type"] for name, prop in properties.items()} == {
        name: kind for name, (kind, _) in SEED_BODY.items()
    }
    assert set(put_key_policy.required) == {name for name, (_, required) in SEED_BODY.items() if required}
    assert put_key_policy.body_schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("member", "constraints"),
    [
        ("KeyId", {"minLength": 1, "maxLength": 2048}),
        ("PolicyName", {"minLength": 1, "maxLength": 128, "pattern": r"[\w]+", "default": "default"}),
        (
            "Policy",
            {
                "minLength": 1,
                "maxLength": 131072,
                "pattern": r"[\u0009\u000A\u000D\u0020-\u00FF]+",
                "x-maxBytes": 32768,
            },
        ),
        ("BypassPolicyLockoutSafetyCheck", {}),
    ],
)
def test_put_key_policy_member_constraints(
    put_key_policy: TaskTemplate, member: str, constraints: dict[str, Any]
) -> None:
    prop = put_key_policy.body_schema["properties"][member]
    assert {k: prop[k] for k in constraints if k in prop} == constraints
    if member != "PolicyName":
        assert "default" not in prop


@pytest.mark.parametrize(
    ("member", "sentences"),
    [
        (
            "KeyId",
            [
                "Sets the key policy on the specified KMS key.",
                "Specify the key ID or key ARN of the KMS key.",
                "- Key ID: 1234abcd-12ab-34cd-56ef-1234567890ab",
                "- Key ARN: arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "To get the key ID and key ARN for a KMS key, use ListKeys or DescribeKey.",
            ],
        ),
        ("PolicyName", ["The name of the key policy."]),
        (
            "Policy",
            [
                "The key policy to attach to the KMS key.",
                "Printable ASCII characters from the space character (\\u0020) through the end of the "
                "ASCII character range.",
                "The tab (\\u0009), line feed (\\u000A), and carriage return (\\u000D) special characters",
            ],
        ),
        (
            "BypassPolicyLockoutSafetyCheck",
            [
                'Skips ("bypasses") the key policy lockout safety check. The default value is false.',
                "Do not set this value to true indiscriminately.",
            ],
        ),
    ],
)
def test_put_key_policy_member_descriptions_are_plain_text(
    put_key_policy: TaskTemplate, member: str, sentences: list[str]
) -> None:
    description = put_key_policy.body_schema["properties"][member]["description"]
    for sentence in sentences:
        assert sentence in description
    assert HTML_TAG.search(description) is None, description
    assert "&amp;" not in description
    assert "&lt;" not in description


def test_put_key_policy_description_is_the_seed_text(put_key_policy: TaskTemplate) -> None:
    text = put_key_policy.description
    assert text.startswith("Attaches a key policy to the specified KMS key.")
    for sentence in [
        "Cross-account use: No. You cannot perform this operation on a KMS key in a different "
        "Amazon Web Services account.",
        "Required permissions: kms:PutKeyPolicy (key policy)",
        "Related operations: GetKeyPolicy",
    ]:
        assert sentence in text
    assert HTML_TAG.search(text) is None
    assert "\n\n" in text  # paragraphs kept


def test_input_schema_is_the_members_plus_region(put_key_policy: TaskTemplate) -> None:
    schema = put_key_policy.input_schema()
    assert list(schema["properties"]) == [*put_key_policy.members, "region"]
    assert schema["properties"]["region"]["type"] == "string"
    assert re.fullmatch(schema["properties"]["region"]["pattern"], "us-gov-west-1")
    assert re.fullmatch(schema["properties"]["region"]["pattern"], "cn-north-1")
    assert not re.fullmatch(schema["properties"]["region"]["pattern"], "US-EAST-1")
    assert schema["title"] == "PutKeyPolicy"
    assert schema["description"] == put_key_policy.description
    assert "region" not in put_key_policy.body_schema["properties"]  # not mutated
    Draft202012Validator.check_schema(schema)


def test_input_schema_accepts_the_documented_input_example(put_key_policy: TaskTemplate) -> None:
    # The design's --input example gives Policy as a JSON object and leaves PolicyName to its
    # default; the renderer accepts both, so the schema a builder draws its form from must too.
    example = json.loads((EXAMPLES / "put-key-policy.input.json").read_text(encoding="utf-8"))
    errors = [e.message for e in Draft202012Validator(put_key_policy.input_schema()).iter_errors(example)]
    assert errors == []


@pytest.mark.parametrize(
    ("code", "fault", "retryable", "throttling", "http_status"),
    [
        ("NotFoundException", "client", False, False, 400),
        ("InvalidArnException", "client", False, False, 400),
        ("MalformedPolicyDocumentException", "client", False, False, 400),
        ("DependencyTimeoutException", "server", True, False, 500),
        ("KMSInternalException", "server", True, False, 500),
        ("LimitExceededException", "client", False, False, 400),
        ("KMSInvalidStateException", "client", False, False, 400),
        ("ThrottlingException", "client", True, True, 400),
    ],
)
def test_put_key_policy_error_catalogue(
    put_key_policy: TaskTemplate, code: str, fault: str, retryable: bool, throttling: bool, http_status: int
) -> None:
    error = put_key_policy.error(code)
    assert error is not None
    assert (error.fault, error.retryable, error.throttling, error.http_status) == (
        fault,
        retryable,
        throttling,
        http_status,
    )
    assert error.description
    assert HTML_TAG.search(error.description) is None


def test_unknown_error_code_is_not_catalogued(put_key_policy: TaskTemplate) -> None:
    assert put_key_policy.error("NoSuchThingException") is None


# --------------------------------------------------------------------------------------------
# Another AWS JSON service: a hand-made document ("widgets", awsJson1_0)
# --------------------------------------------------------------------------------------------

WIDGETS_TARGET = "WidgetService_20200101"
CREATE_PATH = f"/#X-Amz-Target={WIDGETS_TARGET}.CreateWidget"
LIST_PATH = f"/#X-Amz-Target={WIDGETS_TARGET}.ListWidgets"
JSON_10 = "application/x-amz-json-1.0"


def _target_parameter(operation: str) -> dict[str, Any]:
    return {
        "name": "X-Amz-Target",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "enum": [f"{WIDGETS_TARGET}.{operation}"]},
    }


def _error_response(name: str) -> dict[str, Any]:
    return {
        "description": name,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _exception(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {"message": {"type": "string"}}}
    if description:
        schema["description"] = description
    return schema


def make_widgets_document() -> dict[str, Any]:
    """A small OpenAPI 3 document in the AWS JSON convention, for a service botocore does not know."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Widgets", "version": "2020-01-01"},  # no x-serviceName: from the host
        "servers": [
            {
                "url": "https://widgets.{region}.amazonaws.com",
                "variables": {"region": {"default": "us-east-1"}},
            }
        ],
        "paths": {
            CREATE_PATH: {
                "post": {
                    "operationId": "CreateWidget",
                    "summary": "Create a widget",
                    "description": "<p>Creates a <b>widget</b> &amp; stores it.</p> "
                    "<ul><li><p>One</p></li><li><p>Two</p></li></ul>",
                    "parameters": [_target_parameter("CreateWidget")],
                    "requestBody": {
                        "required": True,
                        "content": {JSON_10: {"schema": {"$ref": "#/components/schemas/CreateWidgetInput"}}},
                    },
                    "responses": {
                        "200": {"description": "Success"},
                        "480": _error_response("WidgetNotFound"),
                        "481": _error_response("ServiceFailure"),
                        "482": _error_response("WidgetThrottlingException"),
                        "503": _error_response("Overloaded"),
                    },
                }
            },
            LIST_PATH: {
                "post": {
                    "operationId": "ListWidgets",
                    "parameters": [_target_parameter("ListWidgets")],
                    "responses": {"200": {"description": "Success"}},
                }
            },
        },
        "components": {
            "schemas": {
                "CreateWidgetInput": {
                    "type": "object",
                    "required": ["Name", "Dimensions"],
                    "properties": {
                        "Name": {
                            "allOf": [
                                {"$ref": "#/components/schemas/WidgetName"},
                                {"description": "<p>The widget's <code>name</code>.</p>"},
                            ]
                        },
                        "Dimensions": {
                            "allOf": [
                                {"$ref": "#/components/schemas/Dimensions"},
                                {"description": "Width &amp; depth, in cm."},
                            ]
                        },
                        "Tags": {"$ref": "#/components/schemas/TagList"},
                        "Color": {"$ref": "#/components/schemas/Color"},
                        "Count": {"type": "integer", "minimum": 1, "maximum": 10},
                    },
                },
                "WidgetName": {"type": "string", "minLength": 1, "maxLength": 16, "pattern": "^[a-z]+$"},
                "Dimensions": {
                    "type": "object",
                    "required": ["Width"],
                    "properties": {
                        "Width": {"type": "integer", "minimum": 1, "maximum": 100},
                        "Depth": {"$ref": "#/components/schemas/Depth"},
                    },
                },
                "Depth": {"type": "integer", "minimum": 0},
                "TagList": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}, "maxItems": 2},
                "Tag": {
                    "type": "object",
                    "required": ["Key"],
                    "properties": {"Key": {"type": "string", "minLength": 1}},
                },
                "Color": {"type": "string", "enum": ["RED", "GREEN"]},
                "WidgetNotFound": _exception("<p>No such <i>widget</i>.</p>"),
                "ServiceFailure": _exception(),
                "WidgetThrottlingException": _exception(),
                "Overloaded": _exception(),
            }
        },
    }


@pytest.fixture
def widgets_document() -> dict[str, Any]:
    """A fresh copy of the hand-made widgets document (tests may mutate it)."""
    return make_widgets_document()


@pytest.fixture
def widgets_templates(widgets_document: dict[str, Any]) -> dict[str, TaskTemplate]:
    """The widgets templates by id."""
    return {t.id: t for t in templates_from_document(widgets_document)}


@pytest.fixture
def widgets_spec_file(tmp_path: Path, widgets_document: dict[str, Any]) -> Path:
    """The widgets document written as YAML."""
    path = tmp_path / "widgets.openapi.yaml"
    path.write_text(yaml.safe_dump(widgets_document, sort_keys=False), encoding="utf-8")
    return path


def test_other_service_ids_and_headers(widgets_templates: dict[str, TaskTemplate]) -> None:
    assert sorted(widgets_templates) == ["widgets.CreateWidget", "widgets.ListWidgets"]
    create = widgets_templates["widgets.CreateWidget"]
    assert (create.service, create.operation, create.endpoint_prefix, create.signing_name) == (
        "widgets",
        "CreateWidget",
        "widgets",
        "widgets",
    )
    assert create.title == "Create a widget"
    assert create.headers == {"X-Amz-Target": "WidgetService_20200101.CreateWidget", "Content-Type": JSON_10}
    assert create.description == "Creates a widget & stores it.\n\n- One\n\n- Two"
    assert create.servers == ("https://widgets.{region}.amazonaws.com",)


def test_operation_without_request_body_uses_the_documents_json_version(
    widgets_templates: dict[str, TaskTemplate],
) -> None:
    listing = widgets_templates["widgets.ListWidgets"]
    assert listing.title == "ListWidgets"
    assert listing.members == ()
    # The service speaks awsJson1_0 (its other operation says so); a body-less operation is
    # still sent with that protocol's Content-Type, not KMS's 1.1.
    assert listing.headers == {"X-Amz-Target": "WidgetService_20200101.ListWidgets", "Content-Type": JSON_10}


def test_x_service_name_overrides_the_host_prefix(widgets_document: dict[str, Any]) -> None:
    widgets_document["info"]["x-serviceName"] = "Gizmos"
    widgets_document["info"]["x-amz-signing-name"] = "gizmo-signer"
    templates = templates_from_document(widgets_document)
    assert sorted(t.id for t in templates) == ["gizmos.CreateWidget", "gizmos.ListWidgets"]
    assert {(t.endpoint_prefix, t.signing_name) for t in templates} == {("widgets", "gizmo-signer")}


def test_other_service_body_schema(widgets_templates: dict[str, TaskTemplate]) -> None:
    schema = widgets_templates["widgets.CreateWidget"].body_schema
    properties = schema["properties"]
    assert list(properties) == ["Name", "Dimensions", "Tags", "Color", "Count"]
    assert schema["required"] == ["Name", "Dimensions"]
    assert schema["additionalProperties"] is False
    assert properties["Name"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 16,
        "pattern": "^[a-z]+$",
        "description": "The widget's name.",
    }
    assert properties["Dimensions"]["$ref"] == "#/$defs/Dimensions"
    assert properties["Tags"] == {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "maxItems": 2}
    assert properties["Color"] == {"type": "string", "enum": ["RED", "GREEN"]}
    assert properties["Count"] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert {"Dimensions", "Depth", "Tag"} <= set(schema["$defs"])
    assert schema["$defs"]["Dimensions"]["properties"]["Depth"] == {"$ref": "#/$defs/Depth"}
    Draft202012Validator.check_schema(schema)


def test_member_description_entities_are_decoded(widgets_templates: dict[str, TaskTemplate]) -> None:
    # No tag in it, but an HTML entity: still HTML, still shown as plain text.
    dimensions = widgets_templates["widgets.CreateWidget"].body_schema["properties"]["Dimensions"]
    assert dimensions["description"] == "Width & depth, in cm."


@pytest.mark.parametrize(
    ("code", "fault", "retryable", "throttling", "http_status", "description"),
    [
        ("WidgetNotFound", "client", False, False, None, "No such widget."),
        ("ServiceFailure", "server", True, False, None, "ServiceFailure"),
        ("WidgetThrottlingException", "client", True, True, None, "WidgetThrottlingException"),
        ("Overloaded", "server", True, False, 503, "Overloaded"),
    ],
)
def test_other_service_errors_without_x_aws_exception(
    widgets_templates: dict[str, TaskTemplate],
    code: str,
    fault: str,
    retryable: bool,
    throttling: bool,
    http_status: int | None,
    description: str,
) -> None:
    create = widgets_templates["widgets.CreateWidget"]
    assert [e.code for e in create.errors] == [
        "WidgetNotFound",
        "ServiceFailure",
        "WidgetThrottlingException",
        "Overloaded",
    ]
    error = create.error(code)
    assert error is not None
    assert (error.fault, error.retryable, error.throttling, error.http_status, error.description) == (
        fault,
        retryable,
        throttling,
        http_status,
        description,
    )


def test_x_aws_exception_extension_wins_over_the_name(widgets_document: dict[str, Any]) -> None:
    widgets_document["components"]["schemas"]["ServiceFailure"]["x-aws-exception"] = {
        "fault": "client",
        "httpStatusCode": 409,
        "retryable": False,
    }
    create = next(t for t in templates_from_document(widgets_document) if t.operation == "CreateWidget")
    error = create.error("ServiceFailure")
    assert error is not None
    assert (error.fault, error.retryable, error.http_status) == ("client", False, 409)


VALID_WIDGET = {
    "Name": "sprocket",
    "Dimensions": {"Width": 5, "Depth": 0},
    "Tags": [{"Key": "a"}],
    "Color": "RED",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (VALID_WIDGET, []),
        ({"Dimensions": {}}, [("Name", "is required"), ("Dimensions.Width", "is required")]),
        (
            {**VALID_WIDGET, "Dimensions": {"Width": 0, "Depth": -1}},
            [
                ("Dimensions.Depth", "must be at least 0 (is -1)"),
                ("Dimensions.Width", "must be at least 1 (is 0)"),
            ],
        ),
        (
            {**VALID_WIDGET, "Dimensions": {"Width": "5"}},
            [("Dimensions.Width", "must be of type integer, got string")],
        ),
        (
            {**VALID_WIDGET, "Tags": [{"Key": ""}, {}, {"Key": "c"}]},
            [
                ("Tags", "must have at most 2 item(s) (has 3)"),
                ("Tags[0].Key", "must be at least 1 characters long (is 0)"),
                ("Tags[1].Key", "is required"),
            ],
        ),
        ({**VALID_WIDGET, "Color": "BLUE"}, [("Color", 'must be one of: "RED", "GREEN"')]),
        ({**VALID_WIDGET, "Count": 11}, [("Count", "must be at most 10 (is 11)")]),
        ({**VALID_WIDGET, "Count": 0}, [("Count", "must be at least 1 (is 0)")]),
        ({**VALID_WIDGET, "Count": 2.5}, [("Count", "must be of type integer, got number")]),
        ({**VALID_WIDGET, "Name": "Sprocket"}, [("Name", "must match the pattern ^[a-z]+$")]),
        (
            {**VALID_WIDGET, "Colour": "RED"},
            [("body", "unknown member(s) Colour; expected one of: Name, Dimensions, Tags, Color, Count")],
        ),
    ],
)
def test_other_service_bodies_are_validated_with_nested_defs(
    widgets_templates: dict[str, TaskTemplate], body: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    validator = BodyValidator(widgets_templates["widgets.CreateWidget"].body_schema)
    assert [(p.field, p.message) for p in validator.problems(body)] == expected


def test_unknown_member_of_a_nested_structure_is_reported(widgets_templates: dict[str, TaskTemplate]) -> None:
    # A typo one level down ("Dept" for "Depth") must not be sent silently: botocore refuses
    # unknown members at every level, and the top level here refuses them too.
    validator = BodyValidator(widgets_templates["widgets.CreateWidget"].body_schema)
    problems = validator.problems({**VALID_WIDGET, "Dimensions": {"Width": 5, "Dept": 1}})
    assert [p.field for p in problems] == ["Dimensions"]
    assert "Dept" in problems[0].message


def test_templates_from_file_reads_yaml(widgets_spec_file: Path) -> None:
    assert sorted(t.id for t in templates_from_file(widgets_spec_file)) == [
        "widgets.CreateWidget",
        "widgets.ListWidgets",
    ]


def test_cli_templates_with_spec_lists_the_other_service(widgets_spec_file: Path) -> None:
    result = CliRunner().invoke(main, ["templates", "--json", "--spec", str(widgets_spec_file)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "id": "widgets.CreateWidget",
            "title": "Create a widget",
            "summary": "Creates a widget & stores it.",
        },
        {"id": "widgets.ListWidgets", "title": "ListWidgets", "summary": ""},
    ]


def test_cli_render_with_spec_uses_the_other_services_protocol(
    widgets_spec_file: Path, tmp_path: Path
) -> None:
    params = tmp_path / "widget.json"
    params.write_text(json.dumps({"region": "eu-west-1", **VALID_WIDGET}), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["render", "widgets.CreateWidget", "--spec", str(widgets_spec_file), "--input", str(params)]
    )
    assert result.exit_code == 0, result.output
    request = json.loads(result.stdout)["request"]
    assert request["url"] == "https://widgets.eu-west-1.amazonaws.com/"
    assert request["headers"]["X-Amz-Target"] == "WidgetService_20200101.CreateWidget"
    assert request["headers"]["Content-Type"] == JSON_10
    assert request["body"] == VALID_WIDGET


# --------------------------------------------------------------------------------------------
# Malformed documents: SpecError with a JSON Pointer
# --------------------------------------------------------------------------------------------


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The node a '#/…' JSON Pointer (RFC 6901, URI-fragment form) names, or AssertionError."""
    assert pointer.startswith("#/"), pointer
    node = document
    for raw in pointer[2:].split("/"):
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            assert token.isdigit(), f"{pointer}: {token!r} is not an array index"
            assert int(token) < len(node), f"{pointer}: no index {token!r}"
            node = node[int(token)]
        else:
            assert isinstance(node, dict), f"{pointer} does not resolve: {node!r} has no members"
            assert token in node, f"{pointer} does not resolve: no {token!r} in {list(node)}"
            node = node[token]
    return node


def _spec_error(document: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as caught:
        templates_from_document(document)
    return caught.value


@pytest.mark.parametrize("version", ["2.0", "", None])
def test_not_openapi_3(widgets_document: dict[str, Any], version: str | None) -> None:
    if version is None:
        del widgets_document["openapi"]
        widgets_document["swagger"] = "2.0"
    else:
        widgets_document["openapi"] = version
    error = _spec_error(widgets_document)
    assert error.location == "#/openapi"
    assert "OpenAPI 3" in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("paths", ["missing", [], "a string"])
def test_paths_missing_or_not_a_mapping(widgets_document: dict[str, Any], paths: Any) -> None:
    if paths == "missing":
        del widgets_document["paths"]
    else:
        widgets_document["paths"] = paths
    error = _spec_error(widgets_document)
    assert error.location == "#/paths"
    assert "paths must be a mapping" in str(error)


def test_no_operations(widgets_document: dict[str, Any]) -> None:
    widgets_document["paths"] = {}
    error = _spec_error(widgets_document)
    assert error.location == "#/paths"
    assert "no operations" in str(error)


DANGLING = "#/components/schemas/Missing"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(["components", "schemas", "Dimensions", "properties", "Depth"], id="nested-member"),
        pytest.param(["components", "schemas", "CreateWidgetInput", "properties", "Tags"], id="body-member"),
        pytest.param(
            ["components", "schemas", "CreateWidgetInput", "properties", "Name", "allOf", 0], id="allOf"
        ),
        pytest.param(
            ["paths", CREATE_PATH, "post", "requestBody", "content", JSON_10, "schema"], id="request-body"
        ),
        pytest.param(
            ["paths", CREATE_PATH, "post", "responses", "480", "content", "application/json", "schema"],
            id="error-response",
        ),
    ],
)
def test_dangling_ref_is_reported_at_its_location(widgets_document: dict[str, Any], where: list[Any]) -> None:
    node: Any = widgets_document
    for key in where:
        node = node[key]
    node["$ref"] = DANGLING
    error = _spec_error(widgets_document)
    assert "does not exist" in str(error)
    assert DANGLING in str(error)
    found = resolve_pointer(widgets_document, error.location)
    assert found == DANGLING or (isinstance(found, dict) and found.get("$ref") == DANGLING), error.location


def test_external_ref_is_refused_at_its_location(widgets_document: dict[str, Any]) -> None:
    widgets_document["components"]["schemas"]["Dimensions"]["properties"]["Depth"]["$ref"] = (
        "other.yaml#/Depth"
    )
    error = _spec_error(widgets_document)
    assert error.location == "#/components/schemas/Dimensions/properties/Depth"
    assert "unsupported $ref 'other.yaml#/Depth'" in str(error)


@pytest.mark.parametrize("values", [["A.CreateWidget", "A.Other"], []])
def test_x_amz_target_must_have_exactly_one_enum_value(
    widgets_document: dict[str, Any], values: list[str]
) -> None:
    widgets_document["paths"][CREATE_PATH]["post"]["parameters"][0]["schema"]["enum"] = values
    error = _spec_error(widgets_document)
    assert unquote(error.location) == (
        "#/paths/~1#X-Amz-Target=WidgetService_20200101.CreateWidget/post/parameters/0/schema/enum"
    )
    assert resolve_pointer(widgets_document, error.location) == values
    assert "exactly one enum value" in str(error)


def test_request_body_inline_schema_not_an_object(widgets_document: dict[str, Any]) -> None:
    content = widgets_document["paths"][CREATE_PATH]["post"]["requestBody"]["content"]
    content[JSON_10]["schema"] = {"type": "array", "items": {"type": "string"}}
    error = _spec_error(widgets_document)
    assert "must be an object" in str(error)
    assert resolve_pointer(widgets_document, error.location) == {"type": "array", "items": {"type": "string"}}


def test_request_body_component_not_an_object(widgets_document: dict[str, Any]) -> None:
    widgets_document["components"]["schemas"]["CreateWidgetInput"] = {"type": "string"}
    error = _spec_error(widgets_document)
    assert "must be an object" in str(error)
    found = resolve_pointer(widgets_document, error.location)
    assert found == {"type": "string"} or found == {"$ref": "#/components/schemas/CreateWidgetInput"}


def test_operation_without_target(widgets_document: dict[str, Any]) -> None:
    item = widgets_document["paths"].pop(CREATE_PATH)
    del item["post"]["parameters"]
    widgets_document["paths"]["/widgets"] = item
    error = _spec_error(widgets_document)
    assert error.location == "#/paths/~1widgets/post"
    assert "X-Amz-Target" in str(error)


def test_no_service_name(widgets_document: dict[str, Any]) -> None:
    del widgets_document["servers"]
    error = _spec_error(widgets_document)
    assert error.location == "#/servers"
    assert "x-serviceName" in str(error)


def test_load_document_rejects_non_mapping_and_bad_yaml(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(SpecError, match="must be a mapping") as caught:
        templates_from_file(listing)
    assert caught.value.location == "#"
    broken = tmp_path / "broken.yaml"
    broken.write_text("openapi: [3.0\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML or JSON"):
        templates_from_file(broken)
    with pytest.raises(SpecError, match="cannot read"):
        templates_from_file(tmp_path / "absent.yaml")


def test_cli_templates_with_malformed_spec_exits_2(
    tmp_path: Path,
    widgets_document: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    widgets_document["openapi"] = "2.0"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(widgets_document), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["http-task-kms", "templates", "--json", "--spec", str(path)])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["error"]["code"] == "ValidationError"
    [problem] = document["error"]["problems"]
    assert problem["message"] == "#/openapi: expected an OpenAPI 3 document, got openapi='2.0'"
    assert problem["field"]


# --------------------------------------------------------------------------------------------
# html_to_text
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain text", "plain text"),
        ("<p>Hello <b>world</b></p>", "Hello world"),
        ("<p>One.</p> <p>Two.</p>", "One.\n\nTwo."),
        ("<ul><li><p>a</p></li><li><p>b</p></li></ul>", "- a\n\n- b"),
        ("<ul> <li>x</li> <li>y</li> </ul>", "- x\n\n- y"),
        ("A &amp; B &lt;C&gt; &quot;q&quot; &#39;s&#39; &#x41;", "A & B <C> \"q\" 's' A"),
        ("<p>Use <code>default</code>.</p>", "Use default."),
        ('<a href="https://example.com/x">the guide</a> says', "the guide says"),
        ("<p>x</p><note><p>careful</p></note>", "x\n\ncareful"),
        ("<important><p>Imp</p></important><p>Next</p>", "Imp\n\nNext"),
        ("<p>a</p><p></p><p></p><p>b</p>", "a\n\nb"),
        ("a<br>b", "a\nb"),
        ("<i> <i>Nested</i> </i> guide", "Nested guide"),
        ("<p>  many \t spaces  </p>", "many spaces"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_parsed_documents_are_cached_as_json_and_invalidated_by_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from http_task_kms.openapi import cache as doccache
    from http_task_kms.openapi.load import load_document

    monkeypatch.setattr(doccache, "cache_dir", lambda: tmp_path / "cache")
    source = tmp_path / "doc.yaml"
    source.write_text("openapi: 3.0.3\ninfo: {title: one}\n")
    parsed: list[Path] = []
    real = doccache.cached_document

    def counting(path: str | Path, parse: Any) -> Any:
        return real(path, lambda p: parsed.append(p) or parse(p))

    monkeypatch.setattr("http_task_kms.openapi.load.cached_document", counting)
    assert load_document(source)["info"]["title"] == "one"
    assert load_document(source)["info"]["title"] == "one"
    assert len(parsed) == 1  # the second load read the JSON copy
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    source.write_text("openapi: 3.0.3\ninfo: {title: two, x: 1}\n")
    assert load_document(source)["info"]["title"] == "two"
    assert len(parsed) == 2


def test_an_unwritable_cache_only_costs_the_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from http_task_kms.openapi import cache as doccache
    from http_task_kms.openapi.load import load_document

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(doccache, "cache_dir", lambda: blocker / "cache")
    source = tmp_path / "doc.yaml"
    source.write_text("openapi: 3.0.3\ninfo: {title: one}\n")
    assert load_document(source)["info"]["title"] == "one"


def test_documents_json_cannot_hold_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from http_task_kms.openapi import cache as doccache
    from http_task_kms.openapi.load import load_document

    monkeypatch.setattr(doccache, "cache_dir", lambda: tmp_path / "cache")
    source = tmp_path / "doc.yaml"
    source.write_text("openapi: 3.0.3\ninfo: {title: one, version: 2014-11-01}\npaths: {200: {}}\n")
    for _ in range(2):
        document = load_document(source)
        assert document["info"]["version"].isoformat() == "2014-11-01"  # a date, as YAML says
    assert not (tmp_path / "cache").exists() or list((tmp_path / "cache").iterdir()) == []  # nothing left
