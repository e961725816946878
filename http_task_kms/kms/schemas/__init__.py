"""The KMS plugin's output schema: every command of the default installation, extending the core's.

``output.v1.json`` (``$id`` ``urn:http-task-kms:kms:output:v1``) adds the plugin's result
fields and the documents of ``lint-policy``, ``rollback`` and ``demo``; see
:mod:`http_task_kms.schemas`.
"""

from __future__ import annotations

from typing import Any

from ...schemas import VERSION, load

__all__ = ["OUTPUT_ID", "document"]

#: The ``$id`` of the KMS plugin's output schema.
OUTPUT_ID = f"urn:http-task-kms:kms:output:v{VERSION}"


def document() -> dict[str, Any]:
    """The KMS plugin's output schema."""
    return load(__name__, f"output.v{VERSION}.json")
