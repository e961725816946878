"""The KMS plugin's own templates: from its packaged OpenAPI document, whatever ``--spec`` says.

The plugin registers these, checks a PutKeyPolicy against its own schema, and makes its own
calls (GetKeyPolicy) with them — never with a template looked up by id in a registry that a
``--spec`` document may have replaced.

Building them from the document (YAML, every description's HTML to text) takes 80 to 170 ms,
so the package also ships them ready to use: ``templates.json``, the
templates exactly as :func:`build_templates` makes them, with the SHA-256 of the document
they were built from. A process reads that (a few milliseconds); should it not match the
packaged document (edited, regenerated and not yet rebuilt), the document is built from
scratch instead. ``python -m http_task_kms.kms.templates`` rewrites it, and
``tests/test_startup.py`` fails until the committed file is what a fresh build gives.
"""

from __future__ import annotations

import functools
import json
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..template import TaskTemplate
    from ..validation import BodyValidator

__all__ = [
    "FEATURED",
    "READY_RESOURCE",
    "SIGNING_NAME",
    "SPEC_RESOURCE",
    "build_templates",
    "load_ready",
    "load_templates",
    "own_template",
    "own_templates",
    "own_validator",
    "ready_document",
    "ready_path",
    "spec_path",
    "write_ready",
]

#: The committed OpenAPI document, a file of this package (``specs/kms/2014-11-01/openapi.yaml`` links to it).
SPEC_RESOURCE = "openapi.yaml"
#: The templates built from it, ready to use (see the module's docstring).
READY_RESOURCE = "templates.json"
SIGNING_NAME = "kms"


def spec_path() -> Path:
    """The packaged KMS OpenAPI document."""
    return Path(str(resources.files(__package__) / SPEC_RESOURCE))


def ready_path() -> Path:
    """The packaged ready-to-use templates (``templates.json``)."""
    return Path(str(resources.files(__package__) / READY_RESOURCE))


#: Listed first in the catalog: the operation this plugin exists for.
FEATURED = "kms.PutKeyPolicy"


def _sha256(path: Path) -> str:
    import hashlib  # noqa: PLC0415 - OpenSSL's: not for the command line's --help

    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_templates() -> list[TaskTemplate]:
    """The templates of the packaged document, built from scratch (PutKeyPolicy featured)."""
    from ..openapi.load import templates_from_file  # noqa: PLC0415 - YAML: only to build them

    return [
        template.model_copy(update={"featured": True}) if template.id == FEATURED else template
        for template in templates_from_file(spec_path())
    ]


def ready_document() -> dict[str, Any]:
    """What ``templates.json`` holds: the document's SHA-256 and every template as JSON."""
    return {
        "source": {"resource": SPEC_RESOURCE, "sha256": _sha256(spec_path())},
        "templates": [template.model_dump(mode="json") for template in build_templates()],
    }


def write_ready(path: Path | None = None) -> Path:
    """Rebuild the ready-to-use templates from the packaged document and write them."""
    target = path or ready_path()
    target.write_text(json.dumps(ready_document(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def load_ready() -> list[TaskTemplate] | None:
    """The shipped templates, or None when they are missing or not built from this document."""
    from ..template import TaskTemplate  # noqa: PLC0415

    try:
        with open(ready_path(), encoding="utf-8") as handle:
            ready = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(ready, dict) or ready.get("source", {}).get("sha256") != _sha256(spec_path()):
        return None
    return [TaskTemplate.model_validate(item) for item in ready["templates"]]


def load_templates() -> list[TaskTemplate]:
    """The shipped ready templates, or (when they are stale or missing) a fresh build."""
    return load_ready() or build_templates()


@functools.cache
def own_templates() -> dict[str, TaskTemplate]:
    """This plugin's templates by id, in document order (loaded once); PutKeyPolicy featured."""
    return {template.id: template for template in load_templates()}


def own_template(template_id: str) -> TaskTemplate:
    """One of this plugin's own templates (never one from a ``--spec`` document)."""
    return own_templates()[template_id]


@functools.cache
def own_validator() -> BodyValidator:
    """This plugin's PutKeyPolicy body schema, compiled once."""
    from ..validation import BodyValidator  # noqa: PLC0415

    return BodyValidator(own_template("kms.PutKeyPolicy").body_schema)


if __name__ == "__main__":  # pragma: no cover - the regenerate command
    sys.stdout.write(f"wrote {write_ready()}\n")
