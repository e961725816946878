"""Opening a run: everything that can be checked is, before anything is sent.

A fresh rollout: the journal must not exist yet; the key list (``--keys``, or ``--all-keys``'
listing written beside the journal) is checked line by line; the first key gets every check of
PutKeyPolicy — offline first (placeholders, schema, lint: nothing sent, not even
sts:GetCallerIdentity), then with the caller, looked up once for the whole rollout (lockout,
cross-account) — and only then is the journal created. A continued one (``--resume``,
``--retry-failed``): the journal's first line must match the options (Region, endpoint, the
policy's SHA-256, the kind of key list, not a dry run), the key list must be the rollout's
(its SHA-256), and every line of the journal must be a valid event about its key
(:func:`~.state.read_state`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import endpoints
from ...errors import Problem, RequestValidationError
from ...prepare import prepare
from ..policy.arns import parse_arn
from .change import Buckets
from .journal import Header, JournalWriter, now, read_header
from .keys import KeyList, iter_keys, scan_key_list, write_key_list
from .listing import ListingFailed, list_key_ids
from .plan import Plan, RolloutStopped, facts_for, key_list_beside
from .state import RolloutState, read_state

if TYPE_CHECKING:
    from ...client import Client
    from ...render import CompiledTask

__all__ = ["Opened", "open_rollout"]

#: The account the placeholders show in the offline check, before the caller is looked up.
_PROVISIONAL_ACCOUNT = "000000000000"


@dataclass
class Opened:
    """A run ready to work: its key list, each key's state, the journal, and who is calling."""

    plan: Plan
    partition: str
    endpoint: str | None
    account: str
    keys: KeyList
    state: RolloutState
    journal: JournalWriter
    header: Header

    def params(self, key: str) -> dict[str, Any]:
        """The PutKeyPolicy input parameters for one key."""
        facts = facts_for(key, account=self.account, region=self.plan.region, partition=self.partition)
        return {"KeyId": key, "Policy": self.plan.policy.render(facts), "region": self.plan.region}


def _refuse(field_name: str, message: str) -> RequestValidationError:
    return RequestValidationError([Problem(field=field_name, message=message)])


class _Opening:
    def __init__(self, client: Client, plan: Plan, buckets: Buckets, compiled: CompiledTask) -> None:
        self.client, self.plan, self.buckets, self.compiled = client, plan, buckets, compiled
        partition = endpoints.partition_of(plan.region)
        if partition is None:
            raise _refuse("region", f"{plan.region!r} is not a Region of a supported partition")
        self.partition: str = partition["id"]
        configured = client.endpoints.configured("kms")
        self.endpoint = configured.url if configured is not None else None

    def _scan(self, path: Path, *, ours: bool) -> KeyList:
        field_name, label = ("journal", "the key list beside the journal") if ours else ("keys", "--keys")
        return scan_key_list(
            path, region=self.plan.region, partition=self.partition, field=field_name, label=label
        )

    def _keys_file(self) -> Path:
        assert self.plan.keys_file is not None  # the command gives --keys or --all-keys
        return self.plan.keys_file

    def _list_all_keys(self) -> KeyList:
        path = key_list_beside(self.plan.journal)
        try:
            write_key_list(path, list_key_ids(self.client, self.plan.region, self.buckets.list.take))
        except ListingFailed as failed:
            raise RolloutStopped(failed.result) from None
        return self._scan(path, ours=True)

    def _header(self, keys: KeyList) -> Header:
        return Header(
            region=self.plan.region,
            endpoint=self.endpoint,
            policySha256=self.plan.policy_sha256,
            source="all-keys" if self.plan.all_keys else "keys",
            keysFile=str(keys.path),
            keysSha256=keys.sha256,
            count=keys.count,
            dryRun=self.plan.dry_run,
            createdAt=now(),
        )

    def fresh(self) -> Opened:
        journal = self.plan.journal
        if journal.exists() and journal.stat().st_size > 0:
            raise _refuse(
                "journal",
                f"{journal} already records a rollout: pass --resume (or --retry-failed) to continue it, "
                "or another --journal to start a new one",
            )
        journal.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys = self._list_all_keys() if self.plan.all_keys else self._scan(self._keys_file(), ours=False)
        account = self._precheck(keys)
        header = self._header(keys)
        writer = JournalWriter.create(journal, header)
        return Opened(
            self.plan, self.partition, self.endpoint, account, keys, RolloutState(keys.count), writer, header
        )

    def continued(self) -> Opened:
        journal = self.plan.journal
        if not journal.exists():
            raise _refuse("journal", f"{journal} does not exist: there is no rollout to continue")
        header = read_header(journal)
        self._check_header(header)
        ours = header.source == "all-keys"
        keys = (
            self._scan(key_list_beside(journal), ours=True)
            if ours
            else self._scan(self._keys_file(), ours=False)
        )
        if (keys.sha256, keys.count) != (header.keysSha256, header.count):
            what = "the key list beside the journal" if ours else f"--keys {keys.path}"
            raise _refuse(
                "keys", f"{what} is not the list this rollout was started with (its SHA-256 differs)"
            )
        state = read_state(journal, header, keys)
        account = self._precheck(keys)
        writer = JournalWriter.reopen(journal)
        return Opened(self.plan, self.partition, self.endpoint, account, keys, state, writer, header)

    def _check_header(self, header: Header) -> None:
        plan, problems = self.plan, []
        if header.dryRun:
            problems.append(
                Problem(field="journal", message="this journal is a dry run's: there is nothing to resume")
            )
        if header.region != plan.region:
            problems.append(
                Problem(field="region", message=f"the rollout runs in {header.region}, not {plan.region}")
            )
        if header.endpoint != self.endpoint:
            where = header.endpoint or "AWS's endpoint"
            problems.append(
                Problem(field="endpoint-url", message=f"the rollout was sent to {where}: use it again")
            )
        if header.policySha256 != plan.policy_sha256:
            problems.append(
                Problem(field="policy", message="--policy is not the policy this rollout applies")
            )
        if (header.source == "all-keys") != plan.all_keys:
            message = f"the rollout was started with --{header.source}: pass it again"
            problems.append(Problem(field="keys", message=message))
        if problems:
            raise RequestValidationError(problems)

    def _caller_account(self) -> str:
        where = endpoints.Endpoint(url="", region=self.plan.region, partition=self.partition)
        arn = self.plan.caller_arn or self.client.caller_arn(where)
        parsed = parse_arn(arn)
        if parsed is None or not parsed.account:
            raise _refuse("caller-arn", f"{arn!r} is not the ARN of an IAM principal")
        return parsed.account

    def _precheck(self, keys: KeyList) -> str:
        """Every check of PutKeyPolicy for the first key; the caller's account."""
        problems = self.plan.policy.problems
        if problems:
            raise RequestValidationError(problems)
        _, key = next(iter_keys(keys.path))
        client = self.client
        self._first_key(
            key,
            _PROVISIONAL_ACCOUNT,
            lambda p: prepare(self.compiled, p, options=client.options, host=client.host),
        )
        account = self._caller_account()
        self._first_key(key, account, lambda p: client.prepare(self.compiled, p))
        return account

    def _first_key(self, key: str, account: str, check: Callable[[dict[str, Any]], object]) -> None:
        facts = facts_for(key, account=account, region=self.plan.region, partition=self.partition)
        params = {"KeyId": key, "Policy": self.plan.policy.render(facts), "region": self.plan.region}
        try:
            check(params)
        except RequestValidationError as exc:
            shown = [
                Problem(field=p.field, message=f"key {key} (the first of the list): {p.message}")
                for p in exc.problems
            ]
            raise RequestValidationError(shown, warnings=exc.warnings) from None


def open_rollout(client: Client, plan: Plan, buckets: Buckets, compiled: CompiledTask) -> Opened:
    """Check everything, then open the journal.

    Raises :class:`RequestValidationError` (nothing sent) or :class:`RolloutStopped`.
    """
    opening = _Opening(client, plan, buckets, compiled)
    return opening.continued() if plan.continuing else opening.fresh()
