"""Restoring a backed-up key policy: only the policy is taken from the backup, and only to
the endpoint it was read from.

A backup file is untrusted input. Its policy goes through every check of a PutKeyPolicy;
its key and Region choose what is restored (and are shown in the result); its recorded
endpoint only decides whether the restore may go where the operator's options send it: a
backup read through a custom endpoint (a local KMS) is restored only when the operator
passes that same ``--endpoint-url``, and one read from AWS (or with no recorded endpoint)
only to AWS's endpoints for its Region — never a local policy to a real key, or back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..destinations import OperatorEndpoints, is_aws_endpoint, normal_url
from ..errors import Problem

__all__ = ["restore_parameters", "rollback_problems"]


def _aws(url: str | None, region: str) -> bool:
    return url is None or is_aws_endpoint(url, service="kms", region=region)


def rollback_problems(
    backup: Mapping[str, Any], operator: OperatorEndpoints, *, region: str | None
) -> list[Problem]:
    """Why this backup must not be restored with these options (empty: it may)."""
    recorded_region = str(backup["region"])
    if region is not None and region != recorded_region:
        return [
            Problem(
                field="region",
                message=f"the backup is of a key in {recorded_region}, not {region}: "
                "leave --region out (the backup's Region is used)",
            )
        ]
    recorded = backup.get("endpoint")
    recorded = str(recorded) if recorded else None
    configured = operator.configured("kms")
    target = configured.url if configured is not None else None
    if _aws(recorded, recorded_region) and _aws(target, recorded_region):
        return []
    if recorded is not None and target is not None and normal_url(recorded) == target:
        return []
    if _aws(recorded, recorded_region):
        return [
            Problem(
                field="endpoint-url",
                message=f"the backup was read from AWS's KMS endpoint in {recorded_region}; it is "
                f"restored only there, not to {target} ({configured.source if configured else ''})",
            )
        ]
    return [
        Problem(
            field="endpoint-url",
            message=f"the backup was read through the endpoint {recorded}; it is restored only there: "
            f"pass --endpoint-url {normal_url(str(recorded))}",
        )
    ]


def restore_parameters(backup: Mapping[str, Any]) -> dict[str, Any]:
    """The PutKeyPolicy input parameters that restore a backup."""
    return {"KeyId": backup["keyId"], "Policy": backup["policy"], "region": backup["region"]}
