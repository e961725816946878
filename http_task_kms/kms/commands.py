"""The KMS plugin's commands and options, added through the ``register_commands`` hook.

- options of ``render`` and ``test-request``: ``--caller-arn``, ``--allow-unmanageable-key`` and
  ``--allow-public-principal`` (both, and ``rollback``), ``--force``, ``--backup-dir``,
  ``--principal-wait`` and the verification's ``--no-verify``, ``--verify-reads``,
  ``--verify-interval``, ``--verify-timeout`` (``test-request``, and ``rollback``);
- commands: ``lint-policy``, ``rollback`` (one backup, or ``--journal``: a whole rollout),
  ``apply`` (one policy to many keys: :mod:`.rollout`) and ``demo``.

Importing this module costs only click: each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import config
from ..cli_kit import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    emit,
    endpoint_options,
    exit_code,
    fail,
    make_client,
    read_text,
    send_options,
    setup_logging,
)
from ..errors import Problem

__all__ = ["register"]

_CALLER_ARN = "Caller identity for the lockout check (skips sts:GetCallerIdentity)."
_ALLOW_UNMANAGEABLE = (
    "Accept a key policy that lets no AWS principal call kms:PutKeyPolicy (UNMANAGEABLE_KEY "
    "becomes a SECURITY_WARNING); BypassPolicyLockoutSafetyCheck does not."
)
_ALLOW_PUBLIC = (
    'Accept an Allow to "*" with no Condition (PUBLIC_PRINCIPAL becomes a SECURITY_WARNING): '
    "anyone in any AWS account could use or manage the key."
)


def _acknowledgements() -> list[click.Option]:
    """The operator's acknowledgements of a dangerous policy (never settable from a task or its input)."""
    return [
        click.Option(["--allow-unmanageable-key"], is_flag=True, help=_ALLOW_UNMANAGEABLE),
        click.Option(["--allow-public-principal"], is_flag=True, help=_ALLOW_PUBLIC),
    ]


def _put_key_policy_options() -> list[click.Option]:
    """The options of a PutKeyPolicy that sends."""
    return [
        click.Option(["--force"], is_flag=True, help="Send even when the policy equals the current one."),
        click.Option(
            ["--backup-dir"], type=click.Path(file_okay=False), help="Where previous policies are saved."
        ),
        click.Option(
            ["--principal-wait"],
            type=click.FloatRange(min=0),
            default=config.PRINCIPAL_WAIT_SECONDS,
            show_default=True,
            help="Seconds to retry a not-yet-visible new principal (0: off).",
        ),
        *_verify_options(),
    ]


def _verify_options() -> list[click.Option]:
    """How a PutKeyPolicy that succeeded is read back (``test-request`` and ``rollback``)."""
    return [
        click.Option(["--no-verify"], is_flag=True, help="Do not read the written policy back."),
        click.Option(
            ["--verify-reads"],
            type=click.IntRange(min=1),
            default=config.VERIFY_READS,
            show_default=True,
            help="Reads in a row that must show the written policy.",
        ),
        click.Option(
            ["--verify-interval"],
            type=click.FloatRange(min=0),
            default=config.VERIFY_INTERVAL_SECONDS,
            show_default=True,
            help="Seconds between two reads of the verification.",
        ),
        click.Option(
            ["--verify-timeout"],
            type=click.FloatRange(min=0),
            default=config.VERIFY_TIMEOUT_SECONDS,
            show_default=True,
            help="Longest the verification keeps reading (seconds).",
        ),
    ]


def _with_verify_options(command: click.Command) -> click.Command:
    """Add the verification's options to ``command`` (``rollback``, ``apply``)."""
    command.params.extend(_verify_options())
    return command


def _pacing_options() -> list[click.Option]:
    """How fast a rollout goes (``apply``, ``rollback --journal``): per account and Region."""
    return [
        click.Option(
            ["--rate"],
            type=click.FloatRange(min=0, min_open=True),
            default=config.PUT_KEY_POLICY_RATE,
            show_default=True,
            help="PutKeyPolicy requests per second (its quota: 15 per account and Region).",
        ),
        click.Option(
            ["--read-rate"],
            type=click.FloatRange(min=0, min_open=True),
            default=config.GET_KEY_POLICY_RATE,
            show_default=True,
            help="GetKeyPolicy requests per second (the reads before each write and the read-backs).",
        ),
        click.Option(
            ["--concurrency"],
            type=click.IntRange(min=1, max=config.ROLLOUT_MAX_CONCURRENCY),
            default=config.ROLLOUT_CONCURRENCY,
            show_default=True,
            help="Keys worked on at once (over one connection pool).",
        ),
    ]


def _with_pacing_options(command: click.Command) -> click.Command:
    command.params.extend(_pacing_options())
    return command


def register(cli: click.Group) -> None:
    """Add the KMS options to ``render`` / ``test-request`` and the KMS commands to ``cli``."""
    for name in ("render", "test-request"):
        cli.commands[name].params.append(click.Option(["--caller-arn"], help=_CALLER_ARN))
        cli.commands[name].params.extend(_acknowledgements())
    cli.commands["test-request"].params.extend(_put_key_policy_options())
    cli.commands["workflow"].params.append(
        click.Option(
            ["--safe"], is_flag=True, help="kms.PutKeyPolicy: back up, put, read back (three tasks)."
        )
    )
    for command in (lint_policy_command, rollback, apply, demo):
        cli.add_command(command)


@click.command("lint-policy")
@click.argument("source", metavar="FILE|-")
@click.option("--caller-arn", help="Also check that this principal keeps kms:PutKeyPolicy (lockout check).")
@click.option("--key-arn", help="The key the policy is for (checks Resource and the lockout on it).")
@click.option("--against", metavar="CURRENT_FILE", help="The current policy: show who gains, loses access.")
@click.option("--allow-unmanageable-key", is_flag=True, help=_ALLOW_UNMANAGEABLE)
@click.option("--allow-public-principal", is_flag=True, help=_ALLOW_PUBLIC)
def lint_policy_command(
    source: str, caller_arn: str | None, key_arn: str | None, against: str | None, **allow: bool
) -> None:
    """Lint a key policy offline; exit 0 when there is no ERROR, 2 otherwise."""
    text = read_text(source, "FILE", limit=config.MAX_POLICY_FILE_BYTES, label="lint-policy FILE")
    document = _lint_report(text, caller_arn=caller_arn, key_arn=key_arn, **allow)
    if against is not None:
        document["access"] = _access_report(text, against, key_arn=key_arn, text_from_stdin=source == "-")
    emit(document)
    sys.exit(EXIT_OK if document["ok"] else EXIT_INVALID)


def _lint_report(
    text: str,
    *,
    caller_arn: str | None,
    key_arn: str | None,
    allow_unmanageable_key: bool = False,
    allow_public_principal: bool = False,
) -> dict[str, Any]:
    """The findings of ``lint-policy`` and, for a caller, the checks and verdict ``render`` gives too."""
    from .checks import caller_checks  # noqa: PLC0415
    from .policy.lint import lint_policy  # noqa: PLC0415

    found = lint_policy(
        text,
        key_arn=key_arn,
        allow_unmanageable_key=allow_unmanageable_key,
        allow_public_principal=allow_public_principal,
    )
    findings = [f.model_dump() for f in found]
    document: dict[str, Any] = {"ok": True, "findings": findings}
    policy = _strict_policy(text) if caller_arn else None
    if caller_arn and isinstance(policy, dict):  # not when a duplicate key makes it ambiguous
        checks, verdict = caller_checks(policy, caller_arn, key_id=key_arn)
        findings += [check.model_dump(exclude={"field"}) for check in checks]
        if verdict is not None:
            document["lockout"] = verdict.model_dump()
    document["ok"] = not any(f["severity"] == "ERROR" for f in findings)
    return document


def _access_report(
    text: str, against: str, *, key_arn: str | None, text_from_stdin: bool
) -> dict[str, Any] | None:
    """The access diff from ``against`` (the current policy) to ``text``; None if FILE is no policy."""
    from .policy.access import access_diff  # noqa: PLC0415

    if against == "-" and text_from_stdin:
        fail([Problem(field="against", message="FILE and CURRENT_FILE cannot both be standard input (-)")])
    label = "lint-policy --against CURRENT_FILE"
    current = _strict_policy(read_text(against, "against", limit=config.MAX_POLICY_FILE_BYTES, label=label))
    if not isinstance(current, dict):
        message = "is not a key policy: it must be a strict JSON object (no duplicate keys)"
        fail([Problem(field="against", message=f"CURRENT_FILE {message}")])
    policy = _strict_policy(text)
    return access_diff(current, policy, key_arn=key_arn).as_json() if isinstance(policy, dict) else None


def _strict_policy(text: str) -> Any:
    """The policy as strict JSON, or None (the lint findings then say what is wrong)."""
    from .. import jsonutil  # noqa: PLC0415

    try:
        return jsonutil.loads(text)
    except ValueError:
        return None


@_with_pacing_options
@_with_verify_options
@click.command()
@click.argument("backup_file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--journal",
    type=click.Path(exists=True, dir_okay=False),
    help="Restore every key the rollout of this journal (apply --journal) wrote, from its backups.",
)
@endpoint_options
@send_options
@click.option("--caller-arn", help=_CALLER_ARN)
@click.option("--allow-unmanageable-key", is_flag=True, help=_ALLOW_UNMANAGEABLE)
@click.option("--allow-public-principal", is_flag=True, help=_ALLOW_PUBLIC)
@click.option("--force", is_flag=True, help="Send even when the backup equals the current policy.")
@click.option("--backup-dir", type=click.Path(file_okay=False), help="Where the replaced policy is saved.")
@click.option(
    "--principal-wait",
    type=click.FloatRange(min=0),
    default=config.PRINCIPAL_WAIT_SECONDS,
    show_default=True,
    help="Seconds to retry a not-yet-visible new principal (0: off).",
)
def rollback(backup_file: str | None, journal: str | None, **kw: Any) -> None:
    """Restore a backed-up key policy to its own key and endpoint, through every PutKeyPolicy check.

    With --journal, every key a rollout (apply) wrote, each from its backup.
    """
    from .backup import read_backup  # noqa: PLC0415
    from .rollback import restore_parameters, rollback_problems  # noqa: PLC0415

    setup_logging(kw["debug"])
    if (backup_file is None) == (journal is None):
        fail([Problem(field="BACKUP_FILE", message="give either BACKUP_FILE or --journal FILE (not both)")])
    if journal is not None:
        if kw["force"]:
            fail(
                [
                    Problem(
                        field="force",
                        message="rollback --journal restores only keys that hold the rollout's policy",
                    )
                ]
            )
        from .rollout.command import rollback_journal_main  # noqa: PLC0415

        kw.pop("force")
        rollback_journal_main(journal, kw)
    assert backup_file is not None
    for name in ("rate", "read_rate", "concurrency"):
        kw.pop(name)
    try:
        backup = read_backup(backup_file)
    except (OSError, ValueError) as exc:
        fail([Problem(field="BACKUP_FILE", message=str(exc))])
    region = kw.pop("region")
    client = make_client(None, region=backup["region"], **kw)
    problems = rollback_problems(backup, client.endpoints, region=region)
    if problems:
        fail(problems)
    result = client.test_request("kms.PutKeyPolicy", restore_parameters(backup))
    result.extra.update({"keyId": backup["keyId"], "region": backup["region"], "restoredFrom": backup_file})
    emit(result.to_json())
    sys.exit(exit_code(result))


@_with_pacing_options
@_with_verify_options
@click.command()
@click.option(
    "--policy", "policy_file", required=True, metavar="FILE", help="The key policy (JSON) to apply."
)
@click.option("--keys", "keys_file", metavar="FILE", help="The keys: one key ID or key ARN a line.")
@click.option(
    "--all-keys",
    is_flag=True,
    help="Every key of the Region (ListKeys), but AWS managed keys and keys pending deletion.",
)
@click.option(
    "--describe-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=config.DESCRIBE_KEY_RATE,
    show_default=True,
    help="DescribeKey requests per second (--all-keys).",
)
@click.option(
    "--journal", metavar="FILE", help="The rollout's journal (default: a new one in the data directory)."
)
@click.option(
    "--resume", is_flag=True, help="Continue the rollout of --journal: keys left sending, then the rest."
)
@click.option("--retry-failed", is_flag=True, help="Work on the keys of --journal that failed (only them).")
@click.option(
    "--dry-run", is_flag=True, help="Check, read, diff and access-diff every key; send no PutKeyPolicy."
)
@endpoint_options
@send_options
@click.option("--caller-arn", help=_CALLER_ARN)
@click.option("--allow-unmanageable-key", is_flag=True, help=_ALLOW_UNMANAGEABLE)
@click.option("--allow-public-principal", is_flag=True, help=_ALLOW_PUBLIC)
@click.option("--backup-dir", type=click.Path(file_okay=False), help="Where previous policies are saved.")
@click.option(
    "--principal-wait",
    type=click.FloatRange(min=0),
    default=config.PRINCIPAL_WAIT_SECONDS,
    show_default=True,
    help="Seconds to retry a not-yet-visible new principal (0: off).",
)
def apply(**kw: Any) -> None:
    """Apply one key policy to many keys at the PutKeyPolicy quota: checked, backed up, verified, journalled.

    The policy may hold ${$.keyId}, ${$.keyArn}, ${$.accountId} and ${$.region}, rendered per key.
    """
    from .rollout.command import apply_main  # noqa: PLC0415

    apply_main(kw)


@click.command()
@click.option("--debug", is_flag=True, help="DEBUG logging on stderr (secrets are always redacted).")
def demo(debug: bool) -> None:
    """Run a PutKeyPolicy Test request against an embedded KMS (moto) on 127.0.0.1."""
    setup_logging(debug)
    from .demo import run_demo  # noqa: PLC0415 - imports moto

    click.echo("starting the embedded KMS (moto) on 127.0.0.1 …", err=True)
    document = run_demo()
    emit(document)
    sys.exit(EXIT_OK if document["ok"] else EXIT_FAILED)
