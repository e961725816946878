"""A template's API reference page, in Markdown: what a builder shows when a user picks the API.

The page is the catalog's reference page regenerated from the OpenAPI document the template
came from: the title, the method and path, the description — its headed paragraphs
("Cross-account use: …", "Required permissions: …", "Related operations: …" in AWS's
documentation, see :attr:`TaskTemplate.description_sections`) as sections of their own —
the servers with their variables, the request headers, the request body fields (nested
members too) with their types, whether they are required, valid values, defaults and
limits, and the errors. Pure: a template in, text out. Every text of the document is
escaped (:mod:`http_task_kms.markdown`), so an untrusted ``--spec`` document cannot break
the page's structure or smuggle HTML into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import config
from .markdown import cell, code, paragraphs, table, text
from .schema_facts import facts, members, resolve, type_name
from .template import ParameterInfo, ServerInfo, TaskTemplate

__all__ = ["reference_page"]

_COLUMNS = ("Name", "Type", "Required", "Description")


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _sentence(value: str) -> str:
    return value if not value or value.endswith((".", "!", "?", ":")) else value + "."


def _description(template: TaskTemplate) -> list[str]:
    """The description's paragraphs, each headed paragraph opening a section of its own."""
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for paragraph in template.description.split("\n\n"):
        label = next((x for x in template.description_sections if paragraph.startswith(f"{x}:")), None)
        if label is not None:
            rest = paragraph[len(label) + 1 :].strip()
            sections.append((label, [rest] if rest else []))
        elif sections:
            sections[-1][1].append(paragraph)
        else:
            intro.append(paragraph)
    blocks = paragraphs("\n\n".join(intro))
    for label, parts in sections:
        blocks.append(f"## {text(label)}")
        blocks.extend(paragraphs("\n\n".join(parts)) or ["—"])
    return blocks


def _server(server: ServerInfo) -> list[str]:
    head = f"- {code(server.url)}"
    lines = [f"{head}: {text(server.description)}" if server.description else head]
    for name, variable in server.variables.items():
        parts = [_sentence(text(variable.description))] if variable.description else []
        if variable.default:
            parts.append(f"Default value: {code(variable.default)}.")
        if variable.enum:
            parts.append("Valid values: " + ", ".join(code(v) for v in variable.enum) + ".")
        lines.append(f"  - {code(name)}: " + " ".join(parts))
    return lines


def _servers(template: TaskTemplate) -> list[str]:
    servers = template.server_objects or tuple(ServerInfo(url=url) for url in template.servers)
    lines = [line for server in servers for line in _server(server)]
    return ["## Servers", "\n".join(lines) if lines else "None declared."]


def _parameters(template: TaskTemplate) -> tuple[ParameterInfo, ...]:
    """The declared parameters; for a template built without them, its fixed headers."""
    if template.parameters:
        return template.parameters
    return tuple(
        ParameterInfo(
            name=name,
            required=True,
            value_schema={
                "type": "string",
                **({"enum": [value]} if name == "X-Amz-Target" else {"default": value}),
            },
        )
        for name, value in template.headers.items()
    )


def _parameter_row(param: ParameterInfo, name: str) -> list[str]:
    schema = param.value_schema
    return [text(name), type_name(schema, {}), _yes(param.required), cell(param.description, facts(schema))]


def _headers(template: TaskTemplate) -> list[str]:
    params = _parameters(template)
    headers = [_parameter_row(p, p.name) for p in params if p.location == "header"]
    blocks = ["## Request headers", table(_COLUMNS, headers) if headers else "None."]
    others = [_parameter_row(p, f"{p.name} (in {p.location})") for p in params if p.location != "header"]
    if others:
        blocks += ["## Request parameters", table(_COLUMNS, others)]
    return blocks


def _rows(
    schema: Mapping[str, Any],
    defs: Mapping[str, Any],
    prefix: str,
    ancestors: frozenset[str],
    out: list[list[str]],
) -> None:
    """Append a row per member of ``schema`` (an object), and rows for their nested members."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if len(out) >= config.REFERENCE_MAX_ROWS:
            return
        resolved = resolve(prop, defs)
        full = f"{prefix}{name}"
        description = cell(str(resolved.get("description", "")), facts(resolved))
        out.append([text(full), type_name(prop, defs), _yes(name in required), description])
        nested = members(prop, defs)
        if nested is None or len(ancestors) >= config.REFERENCE_MAX_DEPTH:
            continue
        inner, ref, suffix = nested
        if ref not in ancestors:  # a shape that holds itself is listed once
            _rows(inner, defs, f"{full}{suffix}.", ancestors | {ref or f"#{full}"}, out)


def _body(template: TaskTemplate) -> list[str]:
    schema = template.body_schema
    rows: list[list[str]] = []
    root = str(schema.get("title", ""))
    _rows(schema, schema.get("$defs", {}), "", frozenset({root}), rows)
    blocks = ["## Request body fields", table(_COLUMNS, rows) if rows else "None."]
    if len(rows) >= config.REFERENCE_MAX_ROWS:
        blocks.append(f"(Only the first {config.REFERENCE_MAX_ROWS:,} fields are listed.)")
    return blocks


def _errors(template: TaskTemplate) -> list[str]:
    if not template.errors:
        return []
    rows = [
        [
            text(error.code),
            str(error.http_status) if error.http_status is not None else "—",
            _yes(error.retryable),
            cell(error.description, ["Throttling."] if error.throttling else []),
        ]
        for error in template.errors
    ]
    return ["## Errors", table(("Code", "HTTP status", "Retryable", "Description"), rows)]


def reference_page(template: TaskTemplate) -> str:
    """The API reference page of ``template``, as Markdown (no trailing newline)."""
    blocks = [f"# {text(_one_line(template.title))}", code(f"{template.method} {template.path or '/'}")]
    if template.deprecated:
        blocks.append("**Deprecated.**")
    blocks.append(f"Template: {code(template.id)}")
    blocks += _description(template)
    blocks += _servers(template) + _headers(template) + _body(template) + _errors(template)
    return "\n\n".join(blocks)
