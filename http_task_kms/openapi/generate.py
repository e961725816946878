"""Turn botocore's model of an AWS JSON-protocol service into an OpenAPI 3.0.3 document.

The document follows the convention used to publish AWS JSON APIs as OpenAPI (one ``post``
path per operation, keyed ``/#X-Amz-Target=<targetPrefix>.<Operation>``; error responses
numbered ``480``, ``481``, ...), plus a few ``x-`` extensions the loader relies on:
``x-serviceName``, ``x-amz-signing-name``, ``x-amz-target-prefix``, ``x-amz-json-version``,
``x-generated-from`` (on ``info``), ``x-amz-deprecated`` (on operations),
``x-aws-exception`` (on exception schemas), ``x-minBytes`` / ``x-maxBytes`` (a blob's
limits, on its decoded bytes; on a string, an overlay's UTF-8 limit) and ``x-json-document``
(overlays). Each shape's schema carries only the shape's own documentation; a member's
documentation goes on the member (``allOf: [{$ref}, {description}]``). The output only
depends on the installed botocore, so it is reproducible.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import botocore
import botocore.session
import yaml
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.model import OperationModel, ServiceModel, Shape

from ..errors import SpecError
from .errors import ALWAYS_THROTTLING, COMMON_ERRORS, exception_info
from .errors import retry_codes as load_retry_codes

__all__ = ["Overlays", "dump_yaml", "generate_openapi"]

_SIGV4_PARAMETERS = (
    "X-Amz-Content-Sha256",
    "X-Amz-Date",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
)
_FIRST_ERROR_STATUS = 480
_LAST_STATUS = 599

#: Facts a service's model lacks, by shape name, applied after the mapping (plugins supply
#: them through the ``register_overlays`` hook): ``"schema"``: keys merged into the shape's
#: schema; ``"properties"``: keys merged into a property's description element (the second
#: ``allOf`` entry); ``"required"``: properties made required.
Overlays = Mapping[str, Mapping[str, Any]]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _pattern_key(pattern: str) -> str:
    """``pattern``, or ``x-pattern`` for a Java-only regex (``\\p{Print}``) no validator takes."""
    try:
        re.compile(pattern)
    except re.error:
        return "x-pattern"
    return "pattern"


def _member_schema(member: Shape, raw_member: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if raw_member.get("documentation"):
        extra["description"] = raw_member["documentation"]
    if raw_member.get("deprecated"):
        extra["deprecated"] = True
    return {"allOf": [_ref(member.name), extra]} if extra else _ref(member.name)


_TYPES = {
    "structure": "object",
    "map": "object",
    "list": "array",
    "string": "string",
    "blob": "string",
    "boolean": "boolean",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "double": "number",
    "timestamp": "number",
}
# blob: base64 in JSON; timestamp: the JSON protocol sends epoch seconds
_FORMATS = {"blob": "byte", "timestamp": "unix-timestamp"}
_BOUNDS = {
    "string": ("minLength", "maxLength"),
    "blob": ("x-minBytes", "x-maxBytes"),  # of the decoded bytes, not of the base64 text
    "list": ("minItems", "maxItems"),
    "map": ("minProperties", "maxProperties"),
    **dict.fromkeys(("integer", "long", "float", "double"), ("minimum", "maximum")),
}


def _schema(shape: Shape, retry_codes: tuple[set[str], set[str]]) -> dict[str, Any]:
    """Map one botocore shape to an OpenAPI schema (members referenced by name)."""
    raw: dict[str, Any] = shape._shape_model  # type: ignore[attr-defined]  # fault, deprecated, union... live only here
    meta, kind = shape.metadata, shape.type_name
    if kind not in _TYPES:
        raise SpecError(f"unsupported shape type {kind!r}", location=shape.name)
    document = kind == "structure" and bool(raw.get("document"))
    schema: dict[str, Any] = {} if document else {"type": _TYPES[kind]}  # document: any value
    if kind in _FORMATS:
        schema["format"] = _FORMATS[kind]
    if raw.get("timestampFormat") in ("iso8601", "rfc822"):
        schema.update(type="string", format="date-time")
    if shape.documentation:
        schema["description"] = shape.documentation
    if raw.get("deprecated"):
        schema["deprecated"] = True
    for key, name in zip(("min", "max"), _BOUNDS.get(kind, ()), strict=False):
        if key in meta:
            schema[name] = meta[key]
    if kind == "string":
        if "pattern" in meta:
            schema[_pattern_key(meta["pattern"])] = meta["pattern"]
        if "enum" in meta:
            schema["enum"] = list(meta["enum"])
    elif kind == "list":
        schema["items"] = _ref(shape.member.name)  # type: ignore[attr-defined]
    elif kind == "map":
        schema["additionalProperties"] = _ref(shape.value.name)  # type: ignore[attr-defined]
    elif kind == "structure" and not document:
        members: dict[str, Shape] = shape.members  # type: ignore[attr-defined]
        required = [n for n in shape.required_members if n in members]
        if required:
            schema["required"] = required
        if raw.get("union"):
            schema["minProperties"] = schema["maxProperties"] = 1
        schema["properties"] = {
            name: _member_schema(member, raw["members"][name]) for name, member in members.items()
        }
        if meta.get("exception"):
            schema["x-aws-exception"] = exception_info(shape.name, raw, retry_codes)
    return schema


def _collect(roots: list[Shape]) -> dict[str, Shape]:
    """Every shape reachable from ``roots``, by name (recursive shapes handled)."""
    seen: dict[str, Shape] = {}
    stack = list(roots)
    while stack:
        shape = stack.pop()
        if shape.name in seen:
            continue
        seen[shape.name] = shape
        if shape.type_name == "structure":
            stack.extend(shape.members.values())  # type: ignore[attr-defined]
        elif shape.type_name == "list":
            stack.append(shape.member)  # type: ignore[attr-defined]
        elif shape.type_name == "map":
            stack.extend((shape.key, shape.value))  # type: ignore[attr-defined]
    return seen


def _apply_overlays(overlays: Overlays, schemas: dict[str, dict[str, Any]]) -> None:
    """Apply ``overlays`` to ``schemas`` in place."""
    for shape_name, overlay in overlays.items():
        schema = schemas.get(shape_name)
        if schema is None:
            raise SpecError("overlay target is not in the model", location=shape_name)
        schema.update(copy.deepcopy(overlay.get("schema", {})))
        properties: dict[str, Any] = schema.get("properties", {})
        for prop, extra in overlay.get("properties", {}).items():
            if prop not in properties:
                raise SpecError("overlay property is not in the model", location=prop)
            if "allOf" not in properties[prop]:
                properties[prop] = {"allOf": [properties[prop], {}]}
            properties[prop]["allOf"][1].update(extra)
        if overlay.get("required"):
            wanted = set(schema.get("required", [])) | set(overlay["required"])
            schema["required"] = [name for name in properties if name in wanted]


def _servers(session: botocore.session.Session, prefix: str, title: str) -> list[dict[str, Any]]:
    partitions = {p["id"]: p for p in session.get_data("partitions")["partitions"]}
    servers = []
    for partition, suffix, default, label in (
        ("aws", "amazonaws.com", "us-east-1", "multi-region"),
        ("aws-cn", "amazonaws.com.cn", "cn-north-1", "China"),
    ):
        data = partitions[partition]
        regex = re.compile(data["regionRegex"])  # drops pseudo-regions such as aws-global
        regions = sorted(r for r in data["regions"] if regex.match(r))
        servers.append(
            {
                "url": f"https://{prefix}.{{region}}.{suffix}",
                "variables": {
                    "region": {
                        "description": f"The AWS region ({partition} partition)",
                        "enum": regions,
                        "default": default,
                    },
                },
                "description": f"The {title} {label} endpoint",
            }
        )
    return servers


def _common_errors(
    model: ServiceModel, schemas: dict[str, Any], retry_codes: tuple[set[str], set[str]]
) -> list[str]:
    """Add the ``COMMON_ERRORS`` schemas to ``schemas``; return their names in order."""
    names: list[str] = []
    for code, status, doc in COMMON_ERRORS:
        if code in model.shape_names:  # the model's own definition wins
            shape = model.shape_for(code)
            if shape.metadata.get("exception"):
                names.append(code)
                schemas.update((n, _schema(model.shape_for(n), retry_codes)) for n in _collect([shape]))
            continue
        info = exception_info(code, {"error": {"httpStatusCode": status}}, retry_codes)
        info["throttling"] = info["throttling"] or code in ALWAYS_THROTTLING
        info["retryable"] = info["retryable"] or info["throttling"]
        info["common"] = True
        schemas[code] = {
            "type": "object",
            "description": doc,
            "properties": {"message": {"type": "string"}},
            "x-aws-exception": info,
        }
        names.append(code)
    return names


def _operation(
    op: OperationModel, target: str, media_type: str, input_name: str, common: list[str]
) -> dict[str, Any]:
    """The ``post`` object of one operation."""
    responses: dict[str, Any] = {"200": {"description": "Success"}}
    if op.output_shape is not None:
        responses["200"]["content"] = {"application/json": {"schema": _ref(op.output_shape.name)}}
    own = [e.name for e in op.error_shapes]
    errors = own + [code for code in common if code not in own]
    if _FIRST_ERROR_STATUS + len(errors) - 1 > _LAST_STATUS:
        raise SpecError("too many errors to number", location=op.name)
    for status, error in enumerate(errors, start=_FIRST_ERROR_STATUS):
        responses[str(status)] = {
            "description": error,
            "content": {"application/json": {"schema": _ref(error)}},
        }
    post: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.name,
        "description": op.documentation,
        "parameters": [
            {
                "name": "X-Amz-Target",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": [target]},
            },
            {
                "name": "Content-Type",
                "in": "header",
                "required": True,
                "description": "The media type of the request body.",
                "schema": {"type": "string", "default": media_type},
            },
        ],
        "requestBody": {"required": True, "content": {media_type: {"schema": _ref(input_name)}}},
        "responses": responses,
    }
    if op.deprecated:
        post["x-amz-deprecated"] = True
    return post


def _json_model(session: botocore.session.Session, service_name: str) -> ServiceModel:
    try:
        model = session.get_service_model(service_name)
    except (UnknownServiceError, DataNotFoundError) as exc:
        raise SpecError(f"unknown service {service_name!r}: {exc}") from exc
    meta = model.metadata
    if meta.get("protocol") != "json" or "targetPrefix" not in meta:
        raise SpecError(f"service {service_name!r} uses the {meta.get('protocol')!r} protocol, not AWS JSON")
    return model


def _input_name(op: OperationModel, schemas: dict[str, Any]) -> str:
    """The request schema's name: the input shape's, or a fresh empty one for an operation without."""
    if op.input_shape is not None:
        return str(op.input_shape.name)
    name = f"{op.name}Request"
    while name in schemas:
        name += "_"
    schemas[name] = {"type": "object", "properties": {}}
    return name


def _paths_and_schemas(
    model: ServiceModel, session: botocore.session.Session
) -> tuple[dict[str, Any], dict[str, Any]]:
    meta = model.metadata
    media_type = f"application/x-amz-json-{meta.get('jsonVersion', '1.0')}"
    retry_codes = load_retry_codes(session, meta["endpointPrefix"])
    operations = [model.operation_model(name) for name in sorted(model.operation_names)]
    roots: list[Shape] = []
    for op in operations:
        roots.extend(s for s in (op.input_shape, op.output_shape) if s is not None)
        roots.extend(op.error_shapes)
    # By name, not as reached: a shape reached through a member carries that member's
    # documentation, which belongs on the member (``_member_schema``), not on the shared shape.
    schemas = {name: _schema(model.shape_for(name), retry_codes) for name in _collect(roots)}
    common = _common_errors(model, schemas, retry_codes)
    paths: dict[str, Any] = {}
    for op in operations:
        target = f"{meta['targetPrefix']}.{op.name}"
        paths[f"/#X-Amz-Target={target}"] = {
            "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in _SIGV4_PARAMETERS],
            "post": _operation(op, target, media_type, _input_name(op, schemas), common),
        }
    return paths, schemas


def _info(model: ServiceModel, service_name: str) -> dict[str, Any]:
    meta = model.metadata
    return {
        "title": meta.get("serviceFullName", service_name),
        "version": meta["apiVersion"],
        "description": model.documentation,
        "x-serviceName": meta["endpointPrefix"].lower(),
        "x-amz-signing-name": meta.get("signingName", meta["endpointPrefix"]),
        "x-amz-target-prefix": meta["targetPrefix"],
        "x-amz-json-version": str(meta.get("jsonVersion", "1.0")),
        "x-generated-from": f"botocore {botocore.__version__}",
    }


def generate_openapi(
    service_name: str, *, session: botocore.session.Session | None = None, overlays: Overlays | None = None
) -> dict[str, Any]:
    """Build the OpenAPI 3.0.3 document of the botocore service ``service_name``.

    ``overlays`` are facts the model lacks (the ``register_overlays`` hook supplies them).
    Raises :class:`~http_task_kms.errors.SpecError` if botocore does not know the service or
    the service does not speak the AWS JSON protocol.
    """
    session = session or botocore.session.get_session()
    model = _json_model(session, service_name)
    paths, schemas = _paths_and_schemas(model, session)
    _apply_overlays(overlays or {}, schemas)
    info = _info(model, service_name)
    parameters = {
        p: {"name": p, "in": "header", "required": False, "schema": {"type": "string"}}
        for p in _SIGV4_PARAMETERS
    }
    return {
        "openapi": "3.0.3",
        "info": info,
        "servers": _servers(session, model.metadata["endpointPrefix"], info["title"]),
        "paths": paths,
        "components": {
            "parameters": parameters,
            "schemas": {name: schemas[name] for name in sorted(schemas)},
        },
    }


class _Dumper(yaml.SafeDumper):
    """A safe dumper that never emits anchors/aliases (stable, self-contained text)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: dict[str, Any], *, header: bool = True) -> str:
    """Serialise ``document`` as deterministic, ASCII-only YAML (keys in document order).

    With ``header`` (the default) the text starts with a one-line comment naming the command
    and botocore version that generated it, so ``http-task-kms spec`` output and the committed
    spec are byte-identical.
    """
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=False,
        default_flow_style=False,
        width=1_000_000,
    )
    if not header:
        return text
    info = document.get("info", {})
    return (
        f"# Generated by `http-task-kms spec {info.get('x-serviceName', 'SERVICE')}` from"
        f" {info.get('x-generated-from', 'botocore')}'s service model; do not edit by hand.\n" + text
    )
