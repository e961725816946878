"""The host API's catalog pages: the API reference page, the input schemas' $defs, blob members.

The builder, when a user picks an API in its catalog, "loads the API reference documentation"
(the seed page: its rendering of PutKeyPolicy's OpenAPI operation) and "prepares the Http
request settings". The reference page here is that page regenerated from the spec; its key
sentences are copied from the seed page (which is not in the repository).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import signer_for

from http_task_kms import Client, Options, reference_page
from http_task_kms.cli import main
from http_task_kms.openapi.load import templates_from_document
from http_task_kms.plugins.manager import get_registry
from http_task_kms.template import TaskTemplate

# -- what the seed page shows ------------------------------------------------------------------

SEED_HEADING = "POST /#X-Amz-Target=TrentService.PutKeyPolicy"
SEED_DESCRIPTION = [
    "Attaches a key policy to the specified KMS key.",
    "For more information about key policies, see Key Policies in the Key Management Service Developer "
    "Guide.",
    "For help writing and formatting a JSON policy document, see the IAM JSON Policy Reference in the "
    "Identity and Access Management User Guide .",
    # The seed goes on "see Setting a key policy in …"; botocore's newer model names another page.
    "For examples of adding a key policy in multiple programming languages, see",
]
SEED_SECTIONS = {
    "Cross-account use": "No. You cannot perform this operation on a KMS key in a different Amazon Web "
    "Services account.",
    "Required permissions": "kms:PutKeyPolicy (key policy)",
    "Related operations": "GetKeyPolicy",
}
SEED_HEADERS = {
    # name: (type, required, what its description shows)
    "X-Amz-Content-Sha256": ("String", "No", []),
    "X-Amz-Credential": ("String", "No", []),
    "X-Amz-Target": ("String", "Yes", ['Valid values: `"TrentService.PutKeyPolicy"`']),
    # The seed shows the default "application/json"; KMS speaks (and the spec says) JSON 1.1.
    "Content-Type": (
        "String",
        "Yes",
        ["The media type of the request body.", 'Default value: `"application/x-amz-json-1.1"`'],
    ),
    "X-Amz-Date": ("String", "No", []),
    "X-Amz-Algorithm": ("String", "No", []),
    "X-Amz-SignedHeaders": ("String", "No", []),
    "X-Amz-Security-Token": ("String", "No", []),
    "X-Amz-Signature": ("String", "No", []),
}
SEED_BODY = {
    "Policy": (
        "String",
        "Yes",
        [
            "The key policy to attach to the KMS key.",
            "The key policy must meet the following criteria:",
            "• The key policy must allow the calling principal to make a subsequent PutKeyPolicy request on "
            "the KMS key. This reduces the risk that the KMS key becomes unmanageable. For more information, "
            "see Default key policy in the Key Management Service Developer Guide. (To omit this condition, "
            "set BypassPolicyLockoutSafetyCheck to true.)",
            "• Each statement in the key policy must contain one or more principals. The principals in the "
            "key policy must exist and be visible to KMS. When you create a new Amazon Web Services "
            "principal, you might need to enforce a delay before including the new principal in a key policy "
            "because the new principal might not be immediately visible to KMS. For more information, see "
            "Changes that I make are not always immediately visible in the Amazon Web Services Identity and "
            "Access Management User Guide.",
            "A key policy document can include only the following characters:",
            "• Printable ASCII characters from the space character (\\u0020) through the end of the ASCII "
            "character range.",
            "• Printable characters in the Basic Latin and Latin-1 Supplement character set "
            "(through \\u00FF).",
            "• The tab (\\u0009), line feed (\\u000A), and carriage return (\\u000D) special characters",
            "For information about key policies, see Key policies in KMS in the Key Management Service "
            "Developer Guide.For help writing and formatting a JSON policy document, see the IAM JSON Policy "
            "Reference in the Identity and Access Management User Guide .",
        ],
    ),
    "PolicyName": ("String", "Yes", ["The name of the key policy."]),
    "BypassPolicyLockoutSafetyCheck": (
        "Boolean",
        "No",
        [
            'Skips ("bypasses") the key policy lockout safety check. The default value is false.',
            "Setting this value to true increases the risk that the KMS key becomes unmanageable. Do not set "
            "this value to true indiscriminately.",
            "For more information, see Default key policy in the Key Management Service Developer Guide.",
            "Use this parameter only when you intend to prevent the principal that is making the request "
            "from "
            "making a subsequent PutKeyPolicy request on the KMS key.",
        ],
    ),
    "KeyId": (
        "String",
        "Yes",
        [
            "Sets the key policy on the specified KMS key.",
            "Specify the key ID or key ARN of the KMS key.",
            "For example:",
            "• Key ID: 1234abcd-12ab-34cd-56ef-1234567890ab",
            "• Key ARN: arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "To get the key ID and key ARN for a KMS key, use ListKeys or DescribeKey.",
        ],
    ),
}

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescape(markdown: str) -> str:
    """Markdown text as a reader sees it: backslash escapes removed."""
    return _ESCAPE.sub(r"\1", markdown)


def section(page: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``##`` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", page, flags=re.MULTILINE | re.DOTALL)
    assert match is not None, f"no section {heading!r} in:\n{page[:2000]}"
    return match.group(1).strip()


def table(
    page: str, heading: str, columns: tuple[str, ...] = ("Name", "Type", "Required", "Description")
) -> dict[str, list[str]]:
    """The rows of the table under ``## heading``, by their first cell (cells unescaped)."""
    lines = [line for line in section(page, heading).splitlines() if line.startswith("|")]
    assert lines[1].replace(" ", "").strip("|").split("|") == ["---"] * 4
    rows: dict[str, list[str]] = {}
    for line in [lines[0], *lines[2:]]:
        cells = [unescape(cell.strip()) for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        assert len(cells) == 4, line
        rows[cells[0]] = cells[1:]
    assert rows.pop(columns[0]) == list(columns[1:])
    return rows


def paragraphs(cell: str) -> list[str]:
    """A table cell's lines (``<br>`` separates them)."""
    return [part.strip() for part in cell.split("<br>") if part.strip()]


@pytest.fixture(scope="module")
def put_key_policy_page() -> str:
    """The reference page of the registered kms.PutKeyPolicy template."""
    return reference_page(get_registry().get("kms.PutKeyPolicy"))


# -- the PutKeyPolicy page shows everything the seed page shows ---------------------------------


def test_reference_page_has_the_seed_heading_line_and_description(put_key_policy_page: str) -> None:
    lines = put_key_policy_page.splitlines()
    assert lines[0] == "# PutKeyPolicy"
    assert f"`{SEED_HEADING}`" in lines[:4]
    text = unescape(put_key_policy_page.split("\n## ", 1)[0])
    for sentence in SEED_DESCRIPTION:
        assert sentence in text, sentence


def test_reference_page_has_cross_account_use_permissions_and_related_operations(
    put_key_policy_page: str,
) -> None:
    for heading, text in SEED_SECTIONS.items():
        assert unescape(section(put_key_policy_page, heading)).startswith(text), heading
    permissions = unescape(section(put_key_policy_page, "Required permissions"))
    assert "You can use the kms:PolicyName condition key" in permissions  # its paragraph stays with it
    # Not left behind in the description as well.
    assert "Cross-account use:" not in put_key_policy_page


def test_reference_page_lists_the_servers_with_their_region_variable(put_key_policy_page: str) -> None:
    servers = unescape(section(put_key_policy_page, "Servers"))
    assert (
        "`https://kms.{region}.amazonaws.com`: The AWS Key Management Service multi-region endpoint"
        in servers
    )
    assert "`https://kms.{region}.amazonaws.com.cn`: The AWS Key Management Service China endpoint" in servers
    assert "`region`: The AWS region (aws partition). Default value: `us-east-1`." in servers
    assert "`eu-west-3`" in servers
    assert "Default value: `cn-north-1`" in servers


def test_reference_page_request_headers_match_the_seed(put_key_policy_page: str) -> None:
    rows = table(put_key_policy_page, "Request headers")
    assert set(rows) == set(SEED_HEADERS)
    for name, (kind, required, shown) in SEED_HEADERS.items():
        assert rows[name][:2] == [kind, required], name
        assert paragraphs(rows[name][2]) == shown, name


def test_reference_page_request_body_fields_match_the_seed(put_key_policy_page: str) -> None:
    rows = table(put_key_policy_page, "Request body fields")
    assert set(rows) == set(SEED_BODY)
    for name, (kind, required, sentences) in SEED_BODY.items():
        assert rows[name][:2] == [kind, required], name
        shown = paragraphs(rows[name][2])
        for sentence in sentences:
            assert any(sentence in line for line in shown), (name, sentence)
    policy_name = paragraphs(rows["PolicyName"][2])
    # The seed: "The only valid value is default."; newer models: "the default value is default".
    assert any(
        "The only valid value is default" in p or "the default value is default" in p for p in policy_name
    )
    assert 'Default value: `"default"`' in policy_name
    assert "Length: 1 to 128 characters." in policy_name
    assert "Pattern: `[\\w]+`" in policy_name
    policy = paragraphs(rows["Policy"][2])
    assert "Size: at most 32,768 bytes (UTF-8)." in policy
    assert "Length: 1 to 131,072 characters." in policy
    assert "Length: 1 to 2,048 characters." in paragraphs(rows["KeyId"][2])


def test_reference_page_of_encrypt_shows_enums_blob_limits_and_lists(put_key_policy_page: str) -> None:
    page = reference_page(get_registry().get("kms.Encrypt"))
    assert "`POST /#X-Amz-Target=TrentService.Encrypt`" in page
    rows = table(page, "Request body fields")
    assert rows["Plaintext"][:2] == ["String (base64)", "Yes"]
    assert "Base64-encoded binary data: 1 to 4,096 bytes once decoded." in paragraphs(rows["Plaintext"][2])
    algorithm = paragraphs(rows["EncryptionAlgorithm"][2])
    assert rows["EncryptionAlgorithm"][:2] == ["String", "No"]
    assert (
        'Valid values: `"SYMMETRIC_DEFAULT"`, `"RSAES_OAEP_SHA_1"`, `"RSAES_OAEP_SHA_256"`, `"SM2PKE"`'
        in algorithm
    )
    assert rows["GrantTokens"][:2] == ["Array of String", "No"]
    assert "Items: 0 to 10." in paragraphs(rows["GrantTokens"][2])
    assert rows["EncryptionContext"][0] == "Map of String"
    # A list in the description stays a list; "Related operations" holds one.
    related = unescape(section(page, "Related operations"))
    assert related.split("\n\n") == ["- Decrypt", "- GenerateDataKey", "- GenerateDataKeyPair"]
    errors = table(page, "Errors", ("Code", "HTTP status", "Retryable", "Description"))
    assert errors["KMSInternalException"][:2] == ["500", "Yes"]
    assert errors["NotFoundException"][:2] == ["400", "No"]


def test_reference_page_of_create_key_lists_nested_members() -> None:
    rows = table(reference_page(get_registry().get("kms.CreateKey")), "Request body fields")
    assert rows["Tags"][:2] == ["Array of Object", "No"]
    assert rows["Tags[].TagKey"][:2] == ["String", "Yes"]
    assert rows["Tags[].TagValue"][:2] == ["String", "Yes"]
    assert "Length: 1 to 128 characters." in paragraphs(rows["Tags[].TagKey"][2])


def _hostile_document() -> dict[str, Any]:
    """A --spec document whose texts try to break out of the page's Markdown (and HTML)."""
    evil = "a | b <img src=x onerror=alert(1)> [link](javascript:alert(1)) `code` *em*"
    return {
        "openapi": "3.0.3",
        "info": {"title": "Widgets", "version": "1"},
        "servers": [
            {"url": "https://widgets.{region}.amazonaws.com", "variables": {"region": {"default": "x"}}}
        ],
        "components": {
            "parameters": {"Trace": {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}},
            "schemas": {
                "In": {
                    "type": "object",
                    "required": ["Label"],
                    "properties": {
                        "Label": {"type": "string", "description": f"<p>{evil.replace('<', '&lt;')}</p>"},
                        "Self": {"$ref": "#/components/schemas/In"},
                        "Kind": {"type": "string", "enum": ["a|b", "c`d"]},
                    },
                }
            },
        },
        "paths": {
            "/#X-Amz-Target=W.Make": {
                "parameters": [{"$ref": "#/components/parameters/Trace"}],
                "post": {
                    "operationId": "Make",
                    "summary": "# Make\n| x |",
                    "description": "<p>Makes.</p><p>## not a heading</p>",
                    "parameters": [
                        {
                            "name": "X-Amz-Target",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "enum": ["W.Make"]},
                        },
                    ],
                    "requestBody": {
                        "content": {
                            "application/x-amz-json-1.1": {"schema": {"$ref": "#/components/schemas/In"}}
                        }
                    },
                    "responses": {"200": {"description": "ok"}},
                },
            }
        },
    }


def test_reference_page_of_a_hostile_document_keeps_its_structure() -> None:
    (template,) = templates_from_document(_hostile_document())
    page = reference_page(template)
    assert page.splitlines()[0] == "# \\# Make \\| x \\|"
    # Every "<", "[", "]", "|", "#" and "`" of the document's text is escaped: no raw HTML, no
    # link, no heading, no broken table.
    assert re.search(r"(?<!\\)<img", page) is None
    assert re.search(r"(?<!\\)\]\(javascript:", page) is None
    assert "\n## not a heading" not in page
    assert "\\#\\# not a heading" in page
    rows = table(page, "Request body fields")  # four cells per row: the pipes were escaped
    assert set(rows) == {"Label", "Self", "Kind"}  # a recursive shape is listed once, not forever
    assert rows["Label"][2].startswith("a | b <img src=x onerror=alert(1)> [link](javascript:alert(1))")
    assert paragraphs(rows["Kind"][2]) == ['Valid values: `"a|b"`, ``"c`d"``']
    assert table(page, "Request headers")["X-Trace"][:2] == ["String", "No"]


def test_cli_template_format_reference_prints_the_markdown_as_is() -> None:
    result = CliRunner().invoke(main, ["template", "kms.PutKeyPolicy", "--format", "reference"])
    assert result.exit_code == 0, result.output
    assert result.stdout == reference_page(get_registry().get("kms.PutKeyPolicy")) + "\n"
    assert result.stdout.startswith("# PutKeyPolicy\n")


# -- the input schema: own descriptions, only the $defs it uses ---------------------------------


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for key, value in node.items() if key != "$ref"))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


@pytest.mark.parametrize("template_id", ["kms.Verify", "kms.VerifyMac"])
def test_shared_defs_carry_no_members_description(template_id: str) -> None:
    schema = get_registry().get(template_id).input_schema()
    text = json.dumps(schema.get("$defs", {}))
    assert "whether the HMAC was verified" not in text
    assert "The HMAC to verify" not in text
    for name, definition in schema.get("$defs", {}).items():
        assert "verif" not in definition.get("description", "").lower(), name
    # The members keep their own descriptions.
    properties = schema["properties"]
    if template_id == "kms.VerifyMac":
        assert properties["Mac"]["description"].startswith("The HMAC to verify.")
    else:
        assert properties["Signature"]["description"].startswith(
            "The signature that the Sign operation generated."
        )


def test_every_template_has_exactly_the_defs_it_references() -> None:
    for template in get_registry():
        for schema in (template.body_schema, template.input_schema()):
            defs = schema.get("$defs", {})
            used = _refs({k: v for k, v in schema.items() if k != "$defs"})
            pending = list(used)
            while pending:
                for name in _refs(defs[pending.pop()]) - used:
                    used.add(name)
                    pending.append(name)
            assert set(defs) == used, template.id


# -- blob members ---------------------------------------------------------------------------------


def test_blob_members_keep_their_limits_on_the_decoded_bytes() -> None:
    properties = get_registry().get("kms.Encrypt").input_schema()["properties"]
    plaintext = properties["Plaintext"]
    assert plaintext["contentEncoding"] == "base64"
    assert (plaintext["x-minBytes"], plaintext["x-maxBytes"]) == (1, 4096)
    assert "maxLength" not in plaintext  # the limit is on the bytes, not on the base64 text
    mac = get_registry().get("kms.VerifyMac").input_schema()["properties"]["Mac"]
    assert (mac["contentEncoding"], mac["x-minBytes"], mac["x-maxBytes"]) == ("base64", 1, 6144)


@pytest.fixture(scope="module")
def client() -> Client:
    """A client for us-east-1 with fixed test credentials (a dry run sends nothing)."""
    return Client(Options(region="us-east-1"), signer=signer_for("AKIDEXAMPLE", "secretvalue"))


def _b64(size: int) -> str:
    return base64.b64encode(b"x" * size).decode("ascii")


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        ("not base64!", "must be base64-encoded"),
        ("QQ", "must be base64-encoded"),  # padding missing
        ("QQ==\n", "must be base64-encoded"),
        ("-_8=", "must be base64-encoded"),  # the URL-safe alphabet
        (_b64(4097), "is 4,097 bytes once base64-decoded; the limit is 4,096 bytes"),
        ("", "is 0 bytes once base64-decoded; at least 1 byte is required"),
    ],
)
def test_a_bad_blob_is_refused_before_sending_naming_the_member(
    client: Client, plaintext: str, message: str
) -> None:
    result = client.dry_run("kms.Encrypt", {"KeyId": "alias/x", "Plaintext": plaintext})
    assert result.ok is False
    assert result.request is None  # nothing rendered, nothing sent
    assert result.error is not None
    assert result.error.code == "ValidationError"
    problems = [(p["field"], p["message"]) for p in result.to_json()["error"]["problems"]]
    assert [field for field, _ in problems] == ["Plaintext"]
    assert message in problems[0][1]
    assert plaintext[:8] not in problems[0][1] or not plaintext  # the value is not echoed


@pytest.mark.parametrize("size", [1, 4096])
def test_a_valid_blob_passes(client: Client, size: int) -> None:
    result = client.dry_run("kms.Encrypt", {"KeyId": "alias/x", "Plaintext": _b64(size)})
    assert result.ok is True, result.to_json()
    assert result.request is not None
    assert result.request.body["Plaintext"] == _b64(size)


# -- the catalog ----------------------------------------------------------------------------------


def test_templates_json_lists_put_key_policy_first() -> None:
    result = CliRunner().invoke(main, ["templates", "--json"])
    ids = [item["id"] for item in json.loads(result.stdout)]
    assert ids[0] == "kms.PutKeyPolicy"
    assert ids[1:] == sorted(ids[1:])
    searched = [
        item["id"]
        for item in json.loads(CliRunner().invoke(main, ["templates", "--json", "--search", "policy"]).stdout)
    ]
    assert searched[0] == "kms.PutKeyPolicy"


def test_search_ranks_the_featured_then_id_and_title_matches() -> None:
    found = [t.id for t in get_registry().search("key policy")]
    assert found[0] == "kms.PutKeyPolicy"
    by_name = [t.id for t in get_registry().search("KeyPolic")]
    assert by_name[:3] == ["kms.PutKeyPolicy", "kms.GetKeyPolicy", "kms.ListKeyPolicies"]
    found = [t.id for t in get_registry().search("policy")]
    in_name = ["policy" in t.lower() for t in found]  # these titles are the operation names
    assert in_name == sorted(in_name, reverse=True)  # every id match before every description match
    assert in_name.count(False) > 0


def test_a_plugin_marks_its_featured_template() -> None:
    featured = [t.id for t in get_registry() if t.featured]
    assert featured == ["kms.PutKeyPolicy"]
    assert isinstance(get_registry().get("kms.PutKeyPolicy"), TaskTemplate)


def test_a_document_can_feature_an_operation_and_the_registry_lists_it_first() -> None:
    from http_task_kms.registry import Registry

    document = _hostile_document()
    make = document["paths"]["/#X-Amz-Target=W.Make"]
    document["paths"]["/#X-Amz-Target=W.Break"] = {
        "post": {**make["post"], "operationId": "Break", "parameters": [], "x-featured": True}
    }
    registry = Registry(templates_from_document(document))
    assert [t.id for t in registry] == ["widgets.Break", "widgets.Make"]
    assert [t.id for t in registry.search("make")] == ["widgets.Break", "widgets.Make"]


@pytest.mark.parametrize(
    ("where", "parameter", "location"),
    [
        (
            "path",
            {"$ref": "#/components/parameters/Nope"},
            "#/paths/~1#X-Amz-Target=W.Make/parameters/0/$ref",
        ),
        ("post", {"in": "header"}, "#/paths/~1#X-Amz-Target=W.Make/post/parameters/1/name"),
        ("post", "X-Amz-Date", "#/paths/~1#X-Amz-Target=W.Make/post/parameters/1"),
    ],
)
def test_a_malformed_parameter_is_a_spec_error_at_its_place(
    where: str, parameter: Any, location: str
) -> None:
    from http_task_kms.errors import SpecError

    document = _hostile_document()
    item = document["paths"]["/#X-Amz-Target=W.Make"]
    if where == "path":
        item["parameters"] = [parameter]
    else:
        item["post"]["parameters"].append(parameter)
    with pytest.raises(SpecError) as caught:
        templates_from_document(document)
    assert caught.value.location == location
