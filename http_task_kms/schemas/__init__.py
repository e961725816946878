"""The versioned JSON Schemas (2020-12) of what the commands print, shipped with the package.

``output.v1.json`` here describes the core's commands and the result (``$id``
``urn:http-task-kms:output:v1``); a plugin ships its own document extending it, with its own
``$id``. ``$defs/<command>`` is the output of a command.
The major version is in the ``$id`` and the file name: within v1 fields are only added.

Validating a document (jsonschema), with a plugin's document ``extended`` (whose ``$id`` is
``extended_id``)::

    from http_task_kms import schemas

    schemas.validator(f"{extended_id}#/$defs/test-request", extended).validate(result)
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["OUTPUT_ID", "VERSION", "load", "output_document", "registry", "validator"]

#: The major version of the output schemas.
VERSION = 1
#: The ``$id`` of the core's output schema.
OUTPUT_ID = f"urn:http-task-kms:output:v{VERSION}"


def load(package: str, name: str) -> dict[str, Any]:
    """A schema document shipped as data of ``package`` (e.g. ``output.v1.json``)."""
    document: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    return document


def output_document() -> dict[str, Any]:
    """The core's output schema."""
    return load(__name__, f"output.v{VERSION}.json")


def registry(*documents: dict[str, Any]) -> Registry[Any]:
    """The core's output schema and ``documents`` (plugins' schemas), by their ``$id``."""
    every = [output_document(), load(__name__, f"workflow.v{VERSION}.json"), *documents]
    return Registry().with_resources(
        (document["$id"], Resource.from_contents(document, default_specification=DRAFT202012))
        for document in every
    )


def validator(ref: str, *documents: dict[str, Any]) -> Draft202012Validator:
    """A validator for the schema at ``ref`` (``<$id>#/$defs/<name>``) among the core's and ``documents``."""
    return Draft202012Validator({"$ref": ref}, registry=registry(*documents))
