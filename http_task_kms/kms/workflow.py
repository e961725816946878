"""The safe change of a key policy, as a workflow definition (``workflow kms.PutKeyPolicy --safe``).

Three Http tasks, each wired to the same workflow input (``region``, ``KeyId``, ``Policy``,
``BypassPolicyLockoutSafetyCheck``): GetKeyPolicy (the backup: the builder keeps each task's
output, so the policy the change replaces stays on record), PutKeyPolicy, and GetKeyPolicy
again (the read-back). The builder marks a task done on any 2xx answer: the third task does
not compare what it reads with what was sent — it records the read-back for the audit.
"""

from __future__ import annotations

from typing import Any

from ..workflow_build import wired_task
from .templates import own_template

__all__ = ["BACKUP", "PUT", "READ_BACK", "safe_workflow"]

BACKUP, PUT, READ_BACK = "Back up key policy", "Put key policy", "Read key policy back"


def _then(task: dict[str, Any], next_task: str | None) -> dict[str, Any]:
    task.pop("end", None)
    return {**task, "nextTask": next_task} if next_task else {**task, "end": True}


def safe_workflow(name: str | None = None) -> dict[str, Any]:
    """GetKeyPolicy (the backup) → PutKeyPolicy → GetKeyPolicy (the read-back)."""
    get, put = own_template("kms.GetKeyPolicy"), own_template("kms.PutKeyPolicy")
    default = {"PolicyName": "default"}
    backup = wired_task(
        get,
        inputs=default,
        description="Read the current key policy before the change: its output is the backup.",
    )
    change = wired_task(put, inputs=default, description="Replace the key policy (checked, then signed).")
    read_back = wired_task(
        get,
        inputs=default,
        description="Read the key policy after the change. The builder marks a task done on any 2xx, "
        "so this task records the read-back for the audit; it does not compare it with the policy sent.",
    )
    return {
        "name": name or "Change a key policy safely",
        "description": "Back up, change, read back: the current key policy is read first (the backup is "
        "that task's output), then replaced, then read again for the record. The builder marks a task "
        "done on any 2xx answer, so the last task records the read-back rather than comparing it; "
        "`http-task-kms test-request` compares it (verification) when you run the change there.",
        "startTask": BACKUP,
        "timeoutSeconds": 0,
        "tasks": {
            BACKUP: _then(backup, PUT),
            PUT: _then(change, READ_BACK),
            READ_BACK: _then(read_back, None),
        },
    }
