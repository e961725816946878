"""Every limit and default in one place.

Requests: attempts and their pauses, timeouts, the response body cap, the clock-skew
correction, the caller lookup; the KMS plugin's wait for a new principal and its read-back
of a written policy. A task's own ``retry`` object and timeouts, or the command line,
override the request defaults.

Sizes bound what is read from files we do not trust (see the README's trust rule): a file
over its cap is refused (exit 2, naming the option) after reading at most one byte more
than the cap, so a huge file or an endless stream never fills memory.

Budgets for expressions (see :mod:`http_task_kms.expressions` and the README, "Budgets"):
what one evaluation of a task's ``jsonata:`` value or non-singular ``${JSONPath}`` may use.
Exceeding one is a problem on the field, so the request is refused with a ValidationError.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BACKOFF_RATE",
    "CONNECT_TIMEOUT_SECONDS",
    "DESCRIBE_KEY_RATE",
    "EXPRESSION_ARRAY_ITEMS",
    "EXPRESSION_RESULT_BYTES",
    "EXPRESSION_SECONDS",
    "EXPRESSION_STEPS",
    "EXPRESSION_STRING_BYTES",
    "EXPRESSION_WORKERS",
    "EXPRESSION_WORKER_GRACE_SECONDS",
    "EXPRESSION_WORKER_MEMORY_BYTES",
    "GET_KEY_POLICY_RATE",
    "IDENTITY_ATTEMPTS",
    "LIST_KEYS_RATE",
    "MAX_ATTEMPTS",
    "MAX_BACKUP_BYTES",
    "MAX_BODY_BYTES",
    "MAX_CLOCK_CORRECTION_SECONDS",
    "MAX_DELAY_SECONDS",
    "MAX_INPUT_BYTES",
    "MAX_JOURNAL_BYTES",
    "MAX_JOURNAL_LINE_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_KEY_LIST_BYTES",
    "MAX_POLICY_FILE_BYTES",
    "MAX_REMEMBERED_URL",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_DEPTH",
    "MAX_SPEC_NODES",
    "MAX_TASK_BYTES",
    "MAX_WORKFLOW_INPUT_BYTES",
    "MIN_CLOCK_CORRECTION_SECONDS",
    "PRINCIPAL_WAIT_SECONDS",
    "PUT_KEY_POLICY_RATE",
    "READ_TIMEOUT_SECONDS",
    "RETRY_INTERVAL_SECONDS",
    "ROLLOUT_CONCURRENCY",
    "ROLLOUT_LISTED_KEYS",
    "ROLLOUT_MAX_CONCURRENCY",
    "VERIFY_INTERVAL_SECONDS",
    "VERIFY_READS",
    "VERIFY_TIMEOUT_SECONDS",
]

MiB: Final = 1024 * 1024

#: ``--input``: a task's input parameters (a key policy is at most 32 KB of it).
MAX_INPUT_BYTES: Final = 1 * MiB
#: ``--workflow-input``: a workflow's input (the option is not there yet; its cap is).
MAX_WORKFLOW_INPUT_BYTES: Final = 1 * MiB
#: ``--task``: a builder Http task or a whole workflow definition.
MAX_TASK_BYTES: Final = 1 * MiB
#: ``lint-policy FILE``: policy text (KMS's own quota, 32 KB, is a lint finding, not this cap).
MAX_POLICY_FILE_BYTES: Final = 1 * MiB
#: A key-policy backup file (``rollback BACKUP_FILE``): one policy and a few fields.
MAX_BACKUP_BYTES: Final = 1 * MiB
#: A list of keys (``apply --keys FILE``, and the list ``apply --all-keys`` writes beside its
#: journal): about 13,000 key ARNs or 28,000 key IDs.
MAX_KEY_LIST_BYTES: Final = 1 * MiB
#: A rollout's journal (``apply --journal FILE``, read again by ``--resume``, ``--retry-failed``
#: and ``rollback --journal``): two events per key of a key list, each a few hundred bytes.
MAX_JOURNAL_BYTES: Final = 16 * MiB
#: One line (event) of a journal.
MAX_JOURNAL_LINE_BYTES: Final = 64 * 1024
#: ``--spec``: an OpenAPI document (the whole KMS API is 800 KB of YAML).
MAX_SPEC_BYTES: Final = 16 * MiB
#: Nodes of a ``--spec`` document with every YAML alias expanded (KMS's has 23,000): a
#: "billion laughs" document is small on disk and refused here, before anything walks it.
MAX_SPEC_NODES: Final = 1_000_000
#: Deepest nesting of a ``--spec`` document, aliases expanded (KMS's is 10 levels).
MAX_SPEC_DEPTH: Final = 100
#: Deepest nesting of any JSON we parse (key policies and AWS answers are a few levels deep).
MAX_JSON_DEPTH: Final = 100
#: URLs up to this long have their checks and parts remembered per process (an endpoint's is a
#: few dozen characters; a task's may be anything, and is then worked out each time).
MAX_REMEMBERED_URL: Final = 512
#: A reference page lists nested body members this many levels deep at most …
REFERENCE_MAX_DEPTH: Final = 8
#: … and at most this many body rows (a document's shapes may nest without end).
REFERENCE_MAX_ROWS: Final = 1000

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

# -- requests -------------------------------------------------------------------------------------
#: Attempts per request (a task's ``retry.maxAttempts`` or ``--max-attempts`` overrides it).
MAX_ATTEMPTS: Final = 3
#: Pause after the first failed attempt, in seconds (a task's ``retry.intervalSeconds``).
RETRY_INTERVAL_SECONDS: Final = 1.0
#: How much each pause grows (a task's ``retry.backoffRate``).
BACKOFF_RATE: Final = 2.0
#: Longest pause between two attempts (seconds), whatever the retry settings say.
MAX_DELAY_SECONDS: Final = 20.0
#: Connect deadline per attempt, seconds (a task's ``connectionTimeoutSeconds``).
CONNECT_TIMEOUT_SECONDS: Final = 5
#: Read deadline per attempt, seconds (a task's ``readTimeoutSeconds``).
READ_TIMEOUT_SECONDS: Final = 10
#: Largest response body kept in a result (bytes); the rest is dropped, unread.
MAX_BODY_BYTES: Final = 1 * MiB
#: A server clock more than this far from ours (seconds) is not followed: one clock is wrong.
MAX_CLOCK_CORRECTION_SECONDS: Final = 86400.0
#: A server clock less than this far from ours (seconds) needs no correction.
MIN_CLOCK_CORRECTION_SECONDS: Final = 60.0
#: Attempts of the sts:GetCallerIdentity lookup.
IDENTITY_ATTEMPTS: Final = 2

# -- the KMS plugin ---------------------------------------------------------------------------------
#: Seconds to keep retrying a policy change whose new principal the service cannot see yet
#: (the KMS plugin's ``--principal-wait``).
PRINCIPAL_WAIT_SECONDS: Final = 120.0

#: Reads in a row that must show a written key policy before the write counts as verified
#: (the KMS plugin's ``--verify-reads``; Terraform also waits for several equal reads in a row).
VERIFY_READS: Final = 2
#: Seconds between two reads of the verification (``--verify-interval``).
VERIFY_INTERVAL_SECONDS: Final = 0.5
#: Longest the verification keeps reading, in seconds (``--verify-timeout``): past it, a policy
#: that still reads back as the previous one is "not verified".
VERIFY_TIMEOUT_SECONDS: Final = 30.0

# -- rollouts (``apply``): requests per second, per account and Region ------------------------------
#: Writing a key policy: its own quota, 15 per second per account and Region (adjustable; not
#: shared with cryptographic operations) — ``--rate``.
PUT_KEY_POLICY_RATE: Final = 15.0
#: Reading a key policy (the read before each write, the read-backs): a tenth of its quota of
#: 1,000 per second, leaving the rest to whatever else runs in the account — ``--read-rate``.
GET_KEY_POLICY_RATE: Final = 100.0
#: Describing a key (``--all-keys``): a tenth of its quota of 1,000 per second — ``--describe-rate``.
DESCRIBE_KEY_RATE: Final = 100.0
#: Listing keys (``--all-keys``, 1,000 keys a page): a tenth of its quota of 100 per second.
LIST_KEYS_RATE: Final = 10.0
#: Keys worked on at once (``--concurrency``): enough to keep 15 writes a second going while
#: each written policy is read back (two reads 0.5 s apart by default).
ROLLOUT_CONCURRENCY: Final = 16
#: The most ``--concurrency`` accepts (each worker holds one connection of the pool).
ROLLOUT_MAX_CONCURRENCY: Final = 64
#: Failed and skipped keys listed by name in a rollout's summary (all of them are in the journal).
ROLLOUT_LISTED_KEYS: Final = 100
