"""Facts botocore's KMS model lacks, applied when the OpenAPI document is generated.

Registered through the ``register_overlays`` hook, so ``http-task-kms spec kms`` writes
them into the packaged ``http_task_kms/kms/openapi.yaml``.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["KMS_OVERLAYS"]

KMS_OVERLAYS: Final[dict[str, dict[str, Any]]] = {
    # The key-policy quota is 32 KB; the model only says 131072 characters. The string holds a
    # JSON document, so a loader may accept an object and serialise it.
    "PolicyType": {"schema": {"x-maxBytes": 32768, "x-json-document": True}},
    # The only valid value is "default"; the seed page (and every SDK) always sends it.
    "PutKeyPolicyRequest": {"properties": {"PolicyName": {"default": "default"}}, "required": ["PolicyName"]},
    "GetKeyPolicyRequest": {"properties": {"PolicyName": {"default": "default"}}},
}
