"""Defaults and limits, in one place.

Budgets for expressions (see :mod:`http_task_kms.expressions` and the README, "Budgets"):
what one evaluation of a task's ``jsonata:`` value or non-singular ``${JSONPath}`` may use.
Exceeding one is a problem on the field, so the request is refused with a ValidationError.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EXPRESSION_ARRAY_ITEMS",
    "EXPRESSION_RESULT_BYTES",
    "EXPRESSION_SECONDS",
    "EXPRESSION_STEPS",
    "EXPRESSION_STRING_BYTES",
    "EXPRESSION_WORKERS",
    "EXPRESSION_WORKER_GRACE_SECONDS",
    "EXPRESSION_WORKER_MEMORY_BYTES",
]

#: Wall-clock time one evaluation may take.
EXPRESSION_SECONDS: Final = 1.0

#: JSONata evaluation steps (calls of the evaluator, one per node visited) per evaluation.
EXPRESSION_STEPS: Final = 100_000

#: Largest string (UTF-8 bytes) an evaluation may produce along the way.
EXPRESSION_STRING_BYTES: Final = 1 << 20

#: Most items an array (or members an object) produced along the way may have.
EXPRESSION_ARRAY_ITEMS: Final = 100_000

#: Largest result (UTF-8 bytes of its compact JSON).
EXPRESSION_RESULT_BYTES: Final = 1 << 20

#: How long past :data:`EXPRESSION_SECONDS` a worker that does not answer is given before it is
#: killed (it normally reports the breach itself; this covers one native step that cannot stop).
EXPRESSION_WORKER_GRACE_SECONDS: Final = 0.25

#: Address space a worker may add to what it had at start (``RLIMIT_AS``): room for 1 MiB
#: strings and 100,000-item arrays many times over, not for a gigabyte.
EXPRESSION_WORKER_MEMORY_BYTES: Final = 256 << 20

#: Most workers alive at once (one per concurrent evaluation; further callers wait).
EXPRESSION_WORKERS: Final = 4
