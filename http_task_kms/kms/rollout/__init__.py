"""``apply``: one key policy to many keys, at the PutKeyPolicy quota, resumable, journalled.

The per-key work is :mod:`..safety`'s, as ``test-request`` runs it — the same checks, read,
diff, access diff, backup, write and read-back — through one :class:`~http_task_kms.Client`
(one connection pool, one caller lookup, templates compiled once) shared by worker threads.
Around it:

- :mod:`.keys` streams and checks key lists (one key ID or key ARN a line);
- :mod:`.policy` renders the policy's ``${$.keyId}``-style placeholders per key;
- :mod:`.bucket` paces each operation at its quota, and backs off when throttled;
- :mod:`.journal` records every key (JSON lines, fsynced per event) and reads it back strictly;
- :mod:`.state` tells where a rollout stands from its journal, in a few bytes per key;
- :mod:`.pool` runs the keys through a bounded pool of workers fed from a stream;
- :mod:`.change` changes one key (paced), :mod:`.worker` journals it, :mod:`.listing` lists
  every key for ``--all-keys`` and says which to skip;
- :mod:`.plan` holds the options, :mod:`.opening` checks everything before anything is sent,
  :mod:`.apply` runs the rollout (fresh, ``--resume``, ``--retry-failed``, ``--dry-run``) and
  :mod:`.restore` is ``rollback --journal``;
- :mod:`.outcome` counts what became of each key, :mod:`.progress` draws the bar on stderr;
- :mod:`.command`: the ``apply`` command.
"""
