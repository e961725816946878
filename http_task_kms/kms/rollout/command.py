"""The bodies of ``apply`` and ``rollback --journal`` (their options are in :mod:`..commands`).

Every outcome is one JSON document on stdout: the summary (exit 0 when no key failed, 1 when
any did, 128 + the signal when interrupted — the keys under way still finish), or a result:
a ValidationError for a bad policy, key list, journal or options (exit 2, nothing sent), or the
failed call that stopped the rollout before any key was worked on (exit 1).
"""

from __future__ import annotations

import datetime
import json
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import platformdirs

from ... import config, jsonutil
from ...cli_kit import EXIT_FAILED, EXIT_INVALID, EXIT_OK, emit, fail, make_client, read_text, setup_logging
from ...errors import PreflightFailed, Problem, RequestValidationError
from ...result import preflight_failure
from ...transport import Transport
from .apply import Plan, RolloutStopped, policy_sha256, run_rollout
from .change import Rates
from .placeholders import PolicyTemplate

__all__ = ["apply_main", "default_journal", "rollback_journal_main"]

#: ``apply``'s own parameters (the rest are the request options every sending command takes).
_APPLY_ONLY = (
    "policy_file",
    "keys_file",
    "all_keys",
    "rate",
    "read_rate",
    "describe_rate",
    "concurrency",
    "journal",
    "resume",
    "retry_failed",
    "dry_run",
)


def default_journal(*, dry_run: bool) -> Path:
    """A new journal in the per-user data directory, named for the UTC time."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}.dry-run.journal" if dry_run else f"{stamp}.journal"
    return Path(platformdirs.user_data_dir("http-task-kms")) / "rollouts" / name


def _option_problems(kw: dict[str, Any]) -> list[Problem]:
    problems = []
    if bool(kw["keys_file"]) == bool(kw["all_keys"]):
        problems.append(Problem(field="keys", message="give either --keys FILE or --all-keys (not both)"))
    if kw["keys_file"] == "-":
        problems.append(Problem(field="keys", message="--keys must be a file (it is read twice), not -"))
    if (kw["resume"] or kw["retry_failed"]) and not kw["journal"]:
        problems.append(
            Problem(field="journal", message="--resume and --retry-failed need the rollout's --journal")
        )
    if kw["dry_run"] and (kw["resume"] or kw["retry_failed"]):
        message = "--dry-run starts a dry run of its own; it does not continue a rollout"
        problems.append(Problem(field="dry-run", message=message))
    return problems


def _policy(source: str) -> tuple[PolicyTemplate, str]:
    text = read_text(source, "policy", limit=config.MAX_POLICY_FILE_BYTES, label="--policy")
    try:
        document = jsonutil.loads(text)
    except json.JSONDecodeError as exc:
        fail([Problem(field="policy", message=f"{source}: {jsonutil.describe(exc)}")])
    if not isinstance(document, dict):
        fail([Problem(field="policy", message=f"{source}: a key policy must be a JSON object")])
    return PolicyTemplate(document), policy_sha256(text.encode("utf-8"))


def _exit(summary: dict[str, Any]) -> NoReturn:
    emit(summary)
    if summary.get("interrupted"):
        sys.exit(128 + signal.Signals[summary["interrupted"]].value)
    sys.exit(EXIT_OK if summary["ok"] else EXIT_FAILED)


def apply_main(kw: dict[str, Any]) -> NoReturn:
    """``apply``: check everything, then roll the policy out (see :mod:`.apply`)."""
    setup_logging(kw["debug"])
    problems = _option_problems(kw)
    if problems:
        fail(problems)
    policy, digest = _policy(kw["policy_file"])
    own = {name: kw.pop(name) for name in _APPLY_ONLY}
    client = make_client(transport=Transport(pool_size=own["concurrency"]), **kw)
    region = kw["region"] or client.host.default_region()
    if not region:
        fail([Problem(field="region", message="no Region: pass --region (or set one in the AWS config)")])
    journal = Path(own["journal"]) if own["journal"] else default_journal(dry_run=own["dry_run"])
    plan = Plan(
        policy=policy,
        policy_sha256=digest,
        region=region,
        journal=journal,
        keys_file=Path(own["keys_file"]) if own["keys_file"] else None,
        all_keys=own["all_keys"],
        resume=own["resume"],
        retry_failed=own["retry_failed"],
        dry_run=own["dry_run"],
        concurrency=own["concurrency"],
        rates=Rates(put=own["rate"], get=own["read_rate"], describe=own["describe_rate"]),
        caller_arn=kw.get("caller_arn"),
    )
    try:
        summary = run_rollout(client, plan)
    except RequestValidationError as exc:
        emit_refusal(exc)
    except RolloutStopped as stopped:
        emit(stopped.result.to_json())
        sys.exit(EXIT_FAILED)
    except PreflightFailed as exc:
        emit(preflight_failure(exc).to_json())
        sys.exit(EXIT_FAILED)
    _exit(summary)


def emit_refusal(exc: RequestValidationError) -> NoReturn:
    """A ValidationError result (with the warnings found too); exit 2."""
    from ...result import validation_failure  # noqa: PLC0415

    emit(validation_failure(exc.problems, warnings=exc.warnings).to_json())
    sys.exit(EXIT_INVALID)


def rollback_journal_main(journal: str, kw: dict[str, Any]) -> NoReturn:
    """``rollback --journal FILE``: restore every key the rollout wrote (see :mod:`.restore`)."""
    from .journal import read_header  # noqa: PLC0415
    from .restore import run_restore  # noqa: PLC0415

    try:
        header = read_header(journal)
    except RequestValidationError as exc:
        emit_refusal(exc)
    rate, read_rate, concurrency = kw.pop("rate"), kw.pop("read_rate"), kw.pop("concurrency")
    region = kw.pop("region")
    client = make_client(transport=Transport(pool_size=concurrency), region=header.region, **kw)
    try:
        summary = run_restore(
            client,
            Path(journal),
            region=region,
            concurrency=concurrency,
            rates=Rates(put=rate, get=read_rate),
        )
    except RequestValidationError as exc:
        emit_refusal(exc)
    _exit(summary)
