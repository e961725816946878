"""The KMS plugin's own templates: from its packaged OpenAPI document, whatever ``--spec`` says.

The plugin registers these, checks a PutKeyPolicy against its own schema, and makes its own
calls (GetKeyPolicy) with them — never with a template looked up by id in a registry that a
``--spec`` document may have replaced.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..template import TaskTemplate
    from ..validation import BodyValidator

__all__ = [
    "FEATURED",
    "SIGNING_NAME",
    "SPEC_RESOURCE",
    "own_template",
    "own_templates",
    "own_validator",
    "spec_path",
]

#: The committed OpenAPI document, a file of this package (``specs/kms/2014-11-01/openapi.yaml`` links to it).
SPEC_RESOURCE = "openapi.yaml"
SIGNING_NAME = "kms"


def spec_path() -> Path:
    """The packaged KMS OpenAPI document."""
    return Path(str(resources.files(__package__) / SPEC_RESOURCE))


#: Listed first in the catalog: the operation this plugin exists for.
FEATURED = "kms.PutKeyPolicy"


@functools.cache
def own_templates() -> dict[str, TaskTemplate]:
    """This plugin's templates by id, from its packaged document (loaded once); PutKeyPolicy featured."""
    from ..openapi.load import templates_from_file  # noqa: PLC0415

    templates = {template.id: template for template in templates_from_file(spec_path())}
    templates[FEATURED] = templates[FEATURED].model_copy(update={"featured": True})
    return templates


def own_template(template_id: str) -> TaskTemplate:
    """One of this plugin's own templates (never one from a ``--spec`` document)."""
    return own_templates()[template_id]


@functools.cache
def own_validator() -> BodyValidator:
    """This plugin's PutKeyPolicy body schema, compiled once."""
    from ..validation import BodyValidator  # noqa: PLC0415

    return BodyValidator(own_template("kms.PutKeyPolicy").body_schema)
