"""OpenAPI 3 documents in the AWS JSON convention → :class:`TaskTemplate` objects.

The convention (the one AWS JSON-protocol APIs are published in, see the README): one
path per operation, ``/#X-Amz-Target=<Prefix>.<Operation>`` with a ``post`` operation,
an ``X-Amz-Target`` header parameter with a single enum value, the request body as a
``$ref`` into ``components/schemas``, ``servers`` with a ``{region}`` variable, and one
error response per exception. Optional extensions refine it: ``info.x-serviceName``,
``info.x-amz-signing-name``, ``x-aws-exception`` on exception schemas, ``x-maxBytes`` and
``x-json-document`` on string schemas, ``x-minBytes`` / ``x-maxBytes`` on base64
(``format: byte``) schemas — limits of the decoded bytes, checked with
``contentEncoding: base64`` — and ``x-featured`` on an operation.

A request body schema holds only the ``$defs`` it references (transitively); its top-level
members are flattened (``allOf: [{$ref}, {description}]`` → one schema, the member's own
description winning). A template also keeps what its reference page shows: the path, the
parameters and servers (:mod:`.parts`), and the labels of the description's headed
paragraphs.

Everything here is pure: a document (a ``dict``) in, templates out. A malformed document
raises :class:`~http_task_kms.errors.SpecError` whose ``location`` is a JSON Pointer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..config import MAX_SPEC_BYTES
from ..errors import InputError, SpecError
from ..inputs import read_text
from ..template import ErrorInfo, ServerInfo, TaskTemplate
from . import yaml_strict
from .cache import cached_document
from .html import html_to_text, paragraph_labels
from .parts import operation_parameters, server_objects
from .pointer import escape as _escape
from .pointer import mapping as _mapping
from .pointer import pointer as _pointer

__all__ = ["html_to_text", "load_document", "templates_from_document", "templates_from_file"]

_COMPONENT_REF = "#/components/schemas/"
_SERVER_FAULT_NAMES = re.compile(r"Internal|Unavailable|Timeout|Failure", re.IGNORECASE)
# OpenAPI 3.0 schema keywords with no JSON Schema 2020-12 meaning for validation.
_DROPPED_KEYWORDS = frozenset({"nullable", "example", "xml", "externalDocs", "discriminator"})


def _parse_yaml(path: Path) -> Any:
    """The document at ``path``: at most 16 MiB, strict YAML (:mod:`http_task_kms.openapi.yaml_strict`)."""
    text = read_text(path, field="spec", limit=MAX_SPEC_BYTES, label="an OpenAPI document (--spec)")
    return yaml_strict.loads(text)


def load_document(path: str | Path) -> dict[str, Any]:
    """Read an OpenAPI document from a YAML or JSON file (parsed once, then cached as JSON).

    A document refused by a rule (size, aliases, duplicate keys, …) is never cached.
    """
    try:
        document = cached_document(path, _parse_yaml)
    except InputError as exc:  # cannot be read, too large, not UTF-8: the reason names the file
        error = SpecError(exc.reason)
        error.location = str(path)
        raise error from None
    except yaml_strict.StrictYAMLError as exc:
        raise SpecError(str(exc), location=str(path)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML or JSON: {exc}", location=str(path)) from None
    except RecursionError:  # PyYAML's pure-Python composer on deep nesting (libyaml stops at 1000)
        raise SpecError("nested too deeply to parse", location=str(path)) from None
    if not isinstance(document, dict):
        raise SpecError("an OpenAPI document must be a mapping", location="#")
    return document


def templates_from_file(path: str | Path) -> list[TaskTemplate]:
    """Load an OpenAPI document and build one template per operation."""
    return templates_from_document(load_document(path))


def _to_json_schema(node: Any, schemas: Mapping[str, Any], location: str) -> Any:
    """Rewrite an OpenAPI 3.0 schema into JSON Schema 2020-12 ($refs into $defs)."""
    if isinstance(node, list):
        return [_to_json_schema(item, schemas, f"{location}/{i}") for i, item in enumerate(node)]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = _rewrite_ref(value, schemas, location)
        elif key in _DROPPED_KEYWORDS:
            continue
        elif key == "description" and isinstance(value, str):
            out[key] = html_to_text(value) if "<" in value or "&" in value else value
        elif key in {"properties", "$defs"}:
            props = _mapping(value, f"{location}/{key}", key)
            out[key] = {k: _to_json_schema(v, schemas, f"{location}/{key}/{k}") for k, v in props.items()}
        else:
            out[key] = _to_json_schema(value, schemas, f"{location}/{key}")
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False  # like the service: unknown members are errors at every level
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if out.get("format") == "byte" and out.get("type") == "string":
        out.setdefault("contentEncoding", "base64")  # OpenAPI 3.0's base64 string, checked before sending
    pattern = out.get("pattern")
    if isinstance(pattern, str) and not _compiles(pattern):
        # A Java-only construct (e.g. \p{L}): keep it for display, skip it for validation.
        out["x-pattern"] = out.pop("pattern")
    return out


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _rewrite_ref(ref: Any, schemas: Mapping[str, Any], location: str) -> str:
    if not isinstance(ref, str) or not ref.startswith(_COMPONENT_REF):
        raise SpecError(f"unsupported $ref {ref!r}: expected '{_COMPONENT_REF}<Name>'", location=location)
    name = ref[len(_COMPONENT_REF) :]
    if name not in schemas:
        raise SpecError(f"$ref to a schema that does not exist: {ref!r}", location=location)
    return "#/$defs/" + name


def _referenced(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _referenced(value)
    elif isinstance(node, list):
        for item in node:
            yield from _referenced(item)


def _resolve_top(prop: Mapping[str, Any], components: _Components) -> dict[str, Any]:
    """Inline one level of a member schema: `allOf: [$ref, {description}]` → one flat schema.

    A reference to a structure stays a reference (with the member's own keywords beside it).
    """
    merged: dict[str, Any] = {}
    parts = [*prop.get("allOf", []), {k: v for k, v in prop.items() if k != "allOf"}]
    for part in parts:
        if isinstance(part, Mapping):
            ref = part.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = components.get(ref[len("#/$defs/") :])
                if target.get("type") in {"object", "array"} and "properties" in target:
                    merged.setdefault("$ref", ref)
                else:
                    merged.update(target)
            merged.update({k: v for k, v in part.items() if k != "$ref"})
    return merged


class _Components:
    """``components/schemas`` converted to JSON Schema on first use, once per document."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self._converted: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._converted:
            self._converted[name] = _to_json_schema(
                self.schemas[name], self.schemas, _pointer("components", "schemas", name)
            )
        return self._converted[name]


def _defs_used(properties: Mapping[str, Any], components: _Components) -> dict[str, Any]:
    """The ``$defs`` that ``properties`` reference, directly or through each other (no others)."""
    defs: dict[str, Any] = {}
    pending = list(_referenced(properties))
    while pending:
        dep = pending.pop()
        if dep not in defs:
            defs[dep] = components.get(dep)
            pending.extend(_referenced(defs[dep]))
    return defs


def _body_schema(op_schema: Any, components: _Components, location: str, name: str) -> dict[str, Any]:
    if op_schema is None:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    converted = _to_json_schema(op_schema, components.schemas, location)
    if "$ref" in converted:
        root_name = converted["$ref"].rsplit("/", 1)[-1]
        root, location = components.get(root_name), _pointer("components", "schemas", root_name)
    else:
        root_name, root = name, converted
    if root.get("type", "object") != "object":
        raise SpecError("the request body schema must be an object", location=location)
    flat = {k: _mapping(v, f"{location}/properties/{k}", k) for k, v in root.get("properties", {}).items()}
    properties = {member: _resolve_top(prop, components) for member, prop in flat.items()}
    defs = _defs_used(properties, components)
    body: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": root_name,
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if root.get("required"):
        body["required"] = list(root["required"])
    if defs:
        body["$defs"] = defs
    return body


def _real_status(status: str) -> int | None:
    """The HTTP status of a response key; the convention numbers errors 480, 481, … instead."""
    if status.isdigit() and (400 <= int(status) < 480 or 500 <= int(status) < 600):
        return int(status)
    return None


def _error_info(code: str, status: str, schema: Mapping[str, Any], description: str) -> ErrorInfo:
    ext = schema.get("x-aws-exception", {})
    http_status = ext.get("httpStatusCode") or _real_status(status)
    if "fault" in ext:
        fault = "server" if ext["fault"] == "server" else "client"
    elif http_status is not None:
        fault = "server" if http_status >= 500 else "client"
    else:
        fault = "server" if _SERVER_FAULT_NAMES.search(code) else "client"
    throttling = bool(ext.get("throttling", "Throttl" in code))
    retryable = bool(ext.get("retryable", fault == "server" or throttling))
    return ErrorInfo(
        code=code,
        fault=fault,
        retryable=retryable,
        throttling=throttling,
        http_status=http_status,
        description=html_to_text(str(schema.get("description", description))),
    )


def _errors(responses: Mapping[str, Any], schemas: Mapping[str, Any], location: str) -> tuple[ErrorInfo, ...]:
    found: list[ErrorInfo] = []
    for key, value in responses.items():
        status = str(key)
        if status.startswith("2") or status == "default":
            continue
        where = f"{location}/{status}"
        response = _mapping(value, where, "a response")
        for media_type, media in _mapping(response.get("content", {}), f"{where}/content", "content").items():
            media_where = f"{where}/content/{_escape(str(media_type))}"
            ref = _mapping(media, media_where, "a media type").get("schema", {}).get("$ref")
            if ref is None:
                continue
            name = _rewrite_ref(ref, schemas, f"{media_where}/schema").rsplit("/", 1)[-1]
            found.append(_error_info(name, status, schemas[name], str(response.get("description", ""))))
            break
    return tuple(found)


def _service_and_prefix(document: Mapping[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    servers = document.get("servers") or []
    urls = tuple(str(s.get("url", "")) for s in servers if isinstance(s, Mapping))
    host = urlsplit(urls[0]).hostname or "" if urls else ""
    prefix = host.split(".", 1)[0] if host else ""
    info = _mapping(document.get("info", {}), "#/info", "info")
    service = str(info.get("x-serviceName") or prefix).lower()
    if not service:
        raise SpecError("no service name: set info.x-serviceName or a server URL", location="#/servers")
    return service, prefix or service, urls


@dataclass(frozen=True)
class _Document:
    """What every operation of a document shares."""

    source: Mapping[str, Any]
    service: str
    prefix: str
    signing_name: str
    servers: tuple[str, ...]
    server_objects: tuple[ServerInfo, ...]
    components: _Components
    default_media: str


def templates_from_document(document: Mapping[str, Any]) -> list[TaskTemplate]:
    """Build one :class:`TaskTemplate` per operation of an AWS JSON-protocol OpenAPI document."""
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise SpecError(f"expected an OpenAPI 3 document, got openapi={version!r}", location="#/openapi")
    info = _mapping(document.get("info", {}), "#/info", "info")
    service, prefix, servers = _service_and_prefix(document)
    section = _mapping(document.get("components", {}), "#/components", "components")
    paths = _mapping(document.get("paths"), "#/paths", "paths")
    shared = _Document(
        source=document,
        service=service,
        prefix=prefix,
        signing_name=str(info.get("x-amz-signing-name") or prefix),
        servers=servers,
        server_objects=server_objects(document),
        components=_Components(_mapping(section.get("schemas", {}), "#/components/schemas", "schemas")),
        default_media=_default_media_type(paths, info),
    )
    templates = []
    for path, node in paths.items():
        item = _mapping(node, _pointer("paths", path), "a path item")
        if item.get("post") is not None:
            templates.append(_template(item, str(path), shared))
    if not templates:
        raise SpecError(
            "no operations: expected paths '/#X-Amz-Target=<Prefix>.<Op>' with post", location="#/paths"
        )
    return templates


def _default_media_type(paths: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    """The document's JSON protocol media type: from ``info``, else the first request body's."""
    if info.get("x-amz-json-version"):
        return f"application/x-amz-json-{info['x-amz-json-version']}"
    for item in paths.values():
        post = item.get("post") if isinstance(item, Mapping) else None
        content = post.get("requestBody", {}).get("content", {}) if isinstance(post, Mapping) else {}
        for media_type in content if isinstance(content, Mapping) else ():
            if str(media_type).startswith("application/x-amz-json-"):
                return str(media_type)
    return "application/x-amz-json-1.1"


def _target(post: Mapping[str, Any], path: str, location: str) -> str:
    for i, param in enumerate(post.get("parameters", [])):
        if isinstance(param, Mapping) and param.get("name") == "X-Amz-Target":
            enum = param.get("schema", {}).get("enum") or []
            if len(enum) != 1:
                raise SpecError(
                    "X-Amz-Target must have exactly one enum value",
                    location=f"{location}/parameters/{i}/schema/enum",
                )
            return str(enum[0])
    if "X-Amz-Target=" in path:
        return path.split("X-Amz-Target=", 1)[1]
    raise SpecError("no X-Amz-Target header parameter and no '#X-Amz-Target=' in the path", location=location)


def _template(item: Mapping[str, Any], path: str, doc: _Document) -> TaskTemplate:
    location = _pointer("paths", path, "post")
    post = _mapping(item["post"], location, "an operation")
    target = _target(post, path, location)
    operation = str(post.get("operationId") or target.rsplit(".", 1)[-1])
    request_body = _mapping(post.get("requestBody", {}), f"{location}/requestBody", "requestBody")
    content = _mapping(request_body.get("content", {}), f"{location}/requestBody/content", "content")
    media_type = next((m for m in content if str(m).startswith("application/x-amz-json-")), doc.default_media)
    media_key = next(iter(content), None)
    media_where = f"{location}/requestBody/content/{_escape(str(media_key))}"
    media: Any = content[media_key] if media_key is not None else {}
    op_schema = _mapping(media, media_where, "a media type").get("schema")
    body_schema = _body_schema(op_schema, doc.components, f"{media_where}/schema", f"{operation}Request")
    raw_description = str(post.get("description", ""))
    return TaskTemplate(
        id=f"{doc.service}.{operation}",
        service=doc.service,
        operation=operation,
        title=str(post.get("summary") or operation),
        description=html_to_text(raw_description),
        description_sections=paragraph_labels(raw_description),
        endpoint_prefix=doc.prefix,
        signing_name=doc.signing_name,
        servers=doc.servers,
        server_objects=doc.server_objects,
        path=path,
        parameters=operation_parameters(doc.source, item, post, _pointer("paths", path)),
        headers={"X-Amz-Target": target, "Content-Type": str(media_type)},
        body_schema=body_schema,
        errors=_errors(
            _mapping(post.get("responses", {}), f"{location}/responses", "responses"),
            doc.components.schemas,
            f"{location}/responses",
        ),
        deprecated=bool(post.get("deprecated") or post.get("x-amz-deprecated")),
        featured=post.get("x-featured") is True,
    )
