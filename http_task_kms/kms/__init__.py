"""The KMS plugin (:mod:`.plugin`) and its key-policy analysis.

- :mod:`.plugin` — the hook implementations: templates, the SigV4 signer, checks, sending.
- :mod:`.request_checks` — PutKeyPolicy pre-flight checks (key id, policy name, lint, caller).
- :mod:`.policy_lint` (with :mod:`.lint_statement`, :mod:`.lint_principals`) — the linter.
- :mod:`.lockout` (with :mod:`.conditions`) — would the caller keep kms:PutKeyPolicy?
- :mod:`.policy_diff` — statement-level diff after normalisation.
- :mod:`.safety` — read, diff and back up the current policy; principal wait; rollback files.
- :mod:`.iam_reference` — KMS's IAM actions, resource types and condition keys (committed data).
- :mod:`.arns`, :mod:`.policy_model` — shared parsing helpers.
"""
