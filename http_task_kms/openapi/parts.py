"""The parts of an operation its reference page shows besides the body: parameters and servers.

Pure, like :mod:`.load`: a document in, plain data out; a malformed part raises
:class:`~http_task_kms.errors.SpecError` whose ``location`` is a JSON Pointer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from ..template import ParameterInfo, ServerInfo, ServerVariable
from .html import html_to_text
from .pointer import mapping, pointer

__all__ = ["operation_parameters", "server_objects"]

_PARAMETER_REF = "#/components/parameters/"
_SCHEMA_REF = "#/components/schemas/"
#: The schema keywords a parameter's row shows.
_SHOWN = frozenset(
    {"type", "format", "enum", "default", "pattern", "minLength", "maxLength", "minimum", "maximum"}
)


def _plain(value: Any) -> str:
    text = str(value)
    return html_to_text(text) if "<" in text or "&" in text else text.strip()


def _list(value: Any, location: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"{what} must be a list", location=location)
    return value


def _dereference(
    node: Mapping[str, Any], where: str, prefix: str, section: Mapping[str, Any]
) -> tuple[Any, str]:
    """``node``, or what its ``$ref`` into ``section`` (named by ``prefix``) points at, and where."""
    ref = node.get("$ref")
    if ref is None:
        return node, where
    name = ref[len(prefix) :] if isinstance(ref, str) and ref.startswith(prefix) else None
    if name is None or name not in section:
        raise SpecError(f"$ref {ref!r} does not point at '{prefix}<Name>'", location=f"{where}/$ref")
    return section[name], pointer(*prefix.removeprefix("#/").split("/")[:-1], name)


def _value_schema(node: Any, where: str, schemas: Mapping[str, Any]) -> dict[str, Any]:
    schema = mapping(node, where, "a parameter schema")
    target, target_where = _dereference(schema, where, _SCHEMA_REF, schemas)
    shown = {**mapping(target, target_where, "a schema"), **{k: v for k, v in schema.items() if k != "$ref"}}
    return {key: value for key, value in shown.items() if key in _SHOWN}


def _parameter(
    node: Any, where: str, declared: Mapping[str, Any], schemas: Mapping[str, Any]
) -> ParameterInfo:
    target, where = _dereference(mapping(node, where, "a parameter"), where, _PARAMETER_REF, declared)
    param = mapping(target, where, "a parameter")
    name, location = param.get("name"), param.get("in")
    if not isinstance(name, str) or not name:
        raise SpecError("a parameter needs a name", location=f"{where}/name")
    if not isinstance(location, str) or not location:
        raise SpecError("a parameter needs 'in'", location=f"{where}/in")
    return ParameterInfo(
        name=name,
        location=location,
        required=param.get("required") is True,
        description=_plain(param.get("description", "")),
        value_schema=_value_schema(param.get("schema", {}), f"{where}/schema", schemas),
    )


def operation_parameters(
    document: Mapping[str, Any], item: Mapping[str, Any], post: Mapping[str, Any], location: str
) -> tuple[ParameterInfo, ...]:
    """The operation's parameters, then those of its path item (at ``location``) it does not override."""
    components = mapping(document.get("components", {}), "#/components", "components")
    declared = mapping(components.get("parameters", {}), "#/components/parameters", "parameters")
    schemas = mapping(components.get("schemas", {}), "#/components/schemas", "schemas")
    found: dict[tuple[str, str], ParameterInfo] = {}
    for where, params in (
        (f"{location}/post/parameters", post.get("parameters", [])),
        (f"{location}/parameters", item.get("parameters", [])),
    ):
        for i, node in enumerate(_list(params, where, "parameters")):
            param = _parameter(node, f"{where}/{i}", declared, schemas)
            found.setdefault((param.name, param.location), param)
    return tuple(found.values())


def _variable(node: Any, where: str) -> ServerVariable:
    variable = mapping(node, where, "a server variable")
    enum = _list(variable.get("enum", []), f"{where}/enum", "enum")
    return ServerVariable(
        default=str(variable.get("default", "")),
        enum=tuple(str(value) for value in enum),
        description=_plain(variable.get("description", "")),
    )


def server_objects(document: Mapping[str, Any]) -> tuple[ServerInfo, ...]:
    """The document's servers with their descriptions and variables."""
    found = []
    for i, node in enumerate(_list(document.get("servers") or [], "#/servers", "servers")):
        where = f"#/servers/{i}"
        server = mapping(node, where, "a server")
        variables = mapping(server.get("variables", {}), f"{where}/variables", "variables")
        found.append(
            ServerInfo(
                url=str(server.get("url", "")),
                description=_plain(server.get("description", "")),
                variables={
                    str(name): _variable(value, pointer("servers", str(i), "variables", str(name)))
                    for name, value in variables.items()
                },
            )
        )
    return tuple(found)
