"""``apply``: one policy to many keys at the PutKeyPolicy quota — resumable, journalled, verified.

Against moto's server with its SigV4 check on, through :class:`rolloutproxy.RolloutProxy`
(loopback; it forwards bytes unchanged, so signatures verify) which counts every request per
key, throttles, pages ListKeys, rewrites DescribeKey, and SIGKILLs a run mid-way. The keys are
made with moto's own API (its backend, in this process), once for the module; each test rolls
out a policy of its own (a Sid naming the test), so that no test depends on another's.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNT
from rolloutproxy import RolloutProxy

from http_task_kms.cli import run
from http_task_kms.kms.policy.diff import normalise_policy
from http_task_kms.kms.rollout.bucket import TokenBucket
from http_task_kms.kms.rollout.journal import MAX_JOURNAL_LINE_BYTES
from http_task_kms.kms.rollout.placeholders import KeyFacts, PolicyTemplate

REGION = "us-east-1"
#: A Region no other test uses: ``--all-keys`` lists every key of it.
ALL_KEYS_REGION = "ap-northeast-3"
FAST = ["--rate", "2000", "--read-rate", "5000", "--verify-interval", "0.01", "--verify-reads", "1"]


# -- moto's state, through its own API ------------------------------------------------------------
def _backend(region: str = REGION) -> Any:
    from moto.kms.models import kms_backends

    return kms_backends[ACCOUNT][region]


def _create_keys(count: int, region: str = REGION) -> list[str]:
    backend = _backend(region)
    return [
        backend.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", f"rollout {i}", None).id
        for i in range(count)
    ]


def _policy_of(key: str, region: str = REGION) -> dict[str, Any]:
    return normalise_policy(_backend(region).keys[key].policy)


@pytest.fixture(scope="module")
def keys(local_kms_setup: Any) -> list[str]:
    """200 keys in the local KMS (made in a few milliseconds, without HTTP)."""
    return _create_keys(200)


def rollout_policy(admin_arn: str, sid: str) -> dict[str, Any]:
    """A policy of the test's own (its Sid), with every placeholder."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::${$.accountId}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": admin_arn},
                "Action": ["kms:Describe*", "kms:Get*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": "${$.accountId}",
                        "aws:RequestedRegion": "${$.region}",
                    }
                },
            },
            {
                "Sid": "Tagged ${$.keyId}",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:ScheduleKeyDeletion",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"kms:EncryptionContext:key": "${$.keyArn}"}},
            },
        ],
    }


def rendered(policy: dict[str, Any], key: str, region: str = REGION) -> dict[str, Any]:
    facts = KeyFacts(
        keyId=key, keyArn=f"arn:aws:kms:{region}:{ACCOUNT}:key/{key}", accountId=ACCOUNT, region=region
    )
    return normalise_policy(PolicyTemplate(policy).render(facts))


# -- running the command ---------------------------------------------------------------------------
@pytest.fixture
def admin_env(admin: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", admin.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", admin.secret_access_key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    return {**os.environ}


@pytest.fixture
def cli(
    admin_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, Any]]:
    """Run the console entry point in process: (exit code, the one JSON document it printed)."""

    def invoke(*argv: str) -> tuple[int, Any]:
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        monkeypatch.setattr(sys, "argv", ["http-task-kms", *argv])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
        try:
            run()
            code = 0
        except SystemExit as exited:
            code = int(exited.code or 0)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        out = capsys.readouterr().out
        return code, json.loads(out)

    return invoke


@pytest.fixture
def proxy(kms_url: str) -> Iterator[RolloutProxy]:
    with RolloutProxy(kms_url) as server:
        yield server


def write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def apply_args(
    tmp: Path, proxy_url: str, policy: dict[str, Any], keys: list[str] | None, *rest: str
) -> list[str]:
    argv = ["apply", "--policy", write(tmp / "policy.json", policy), "--endpoint-url", proxy_url]
    if keys is not None:
        argv += ["--keys", write(tmp / "keys.txt", "\n".join(keys) + "\n")]
    return [*argv, "--backup-dir", str(tmp / "backups"), *FAST, *rest]


def journal_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- 200 keys, then 200 unchanged ------------------------------------------------------------------
def test_200_keys_are_applied_and_verified_then_a_second_run_finds_200_unchanged(
    cli, proxy, keys, admin, tmp_path
):
    policy = rollout_policy(admin.arn, "Rollout200")
    journal = tmp_path / "first.journal"
    code, summary = cli(
        *apply_args(tmp_path, proxy.url, policy, keys, "--journal", str(journal), "--region", REGION)
    )
    assert code == 0, summary
    assert (summary["changed"], summary["unchanged"], summary["failed"], summary["pending"]) == (200, 0, 0, 0)
    assert summary["thisRun"]["putKeyPolicy"] == 200
    assert proxy.seen["GetCallerIdentity"] == 1  # the caller, looked up once for the whole rollout
    assert all(statuses == [200] for statuses in proxy.puts.values())
    assert len(proxy.puts) == 200
    assert all(_policy_of(key) == rendered(policy, key) for key in keys)
    events = journal_events(journal)
    assert events[0]["event"] == "keys"
    assert events[0]["count"] == 200
    for kind in ("sending", "done"):
        assert sorted(e["i"] for e in events if e["event"] == kind) == list(range(200))
    for event in events:
        if event["event"] == "done":
            assert event["verified"] is True
            assert Path(event["backupFile"]).is_file()  # the policy it replaced
    assert len(list((tmp_path / "backups").iterdir())) == 200

    puts = proxy.put_count()
    again = tmp_path / "again.journal"
    code, summary = cli(
        *apply_args(tmp_path, proxy.url, policy, keys, "--journal", str(again), "--region", REGION)
    )
    assert code == 0, summary
    assert (summary["changed"], summary["unchanged"], summary["failed"]) == (0, 200, 0)
    assert proxy.put_count() == puts  # unchanged keys are not sent again
    assert len(list((tmp_path / "backups").iterdir())) == 200  # nor backed up


# -- SIGKILL mid-way, then --resume --------------------------------------------------------------
def test_a_run_killed_with_sigkill_and_resumed_writes_each_key_once(
    cli, proxy, keys, admin, admin_env, tmp_path
):
    policy = rollout_policy(admin.arn, "KilledAndResumed")
    journal = tmp_path / "killed.journal"
    argv = apply_args(
        tmp_path, proxy.url, policy, keys, "--journal", str(journal), "--region", REGION, "--concurrency", "8"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *argv],
        env=admin_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proxy.kill_on_put(80, process.pid)  # the process is still importing: it has sent nothing yet
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    proxy.wait_idle()  # what was in flight at the kill has landed (or not) by now
    events = journal_events(journal)
    left_sending = {e["i"] for e in events if e["event"] == "sending"} - {
        e["i"] for e in events if e["event"] in ("done", "failed")
    }
    assert left_sending, "the kill left no key in flight: it came too late to test anything"
    assert proxy.put_count() >= 80
    landed_at_kill = {key for key, statuses in proxy.puts.items() if statuses == [200]}
    done_before = {keys[e["i"]] for e in events if e["event"] == "done"}
    meddled = keys[min(left_sending)]  # someone else changes a key the kill left in flight
    other = rollout_policy(admin.arn, "SomeoneElse")
    _backend().keys[meddled].policy = json.dumps(other)
    puts_of_meddled = len(proxy.puts[meddled])
    proxy.by_key.clear()

    code, summary = cli(
        *apply_args(
            tmp_path, proxy.url, policy, keys, "--journal", str(journal), "--resume", "--region", REGION
        )
    )
    assert code == 1, summary
    assert (summary["changed"], summary["failed"], summary["pending"]) == (199, 1, 0)
    assert summary["thisRun"]["resumed"] == len(left_sending)
    [failure] = summary["failedKeys"]
    assert failure["key"] == meddled
    assert "changed by someone else" in failure["reason"]
    assert len(proxy.puts[meddled]) == puts_of_meddled  # not written again
    assert normalise_policy(_backend().keys[meddled].policy) == normalise_policy(other)
    assert not any(key in done_before for (_, key) in proxy.by_key)  # a done key is never touched again
    for key in set(keys) - {meddled}:  # each key written once — twice only if its first write did not land
        statuses = proxy.puts[key]
        assert statuses == [200] or (len(statuses) == 2 and statuses[0] != 200 and statuses[1] == 200), (
            key,
            statuses,
        )
        assert _policy_of(key) == rendered(policy, key)
    events = journal_events(journal)
    found_written = [e for e in events if e["event"] == "done" and "note" in e]
    assert found_written, "a key whose write landed before the kill is found written, not written again"
    assert all(keys[e["i"]] in landed_at_kill for e in found_written)
    done = [e["i"] for e in events if e["event"] == "done"]
    assert len(done) == len(set(done)) == 199  # every key done once


def test_sigint_lets_the_keys_under_way_finish_then_resume_completes_the_rollout(
    cli, proxy, keys, admin, admin_env, tmp_path
):
    chosen = keys[150:200]
    policy = rollout_policy(admin.arn, "Interrupted")
    journal = tmp_path / "int.journal"
    argv = apply_args(
        tmp_path,
        proxy.url,
        policy,
        chosen,
        "--journal",
        str(journal),
        "--region",
        REGION,
        "--concurrency",
        "4",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *argv, "--rate", "40"],
        env=admin_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proxy.kill_on_put(10, process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    summary = json.loads(stdout)  # the summary, once
    assert summary["interrupted"] == "SIGINT"
    assert summary["ok"] is False
    assert summary["pending"] > 0
    assert summary["failed"] == 0
    events = journal_events(journal)
    settled = {e["i"] for e in events if e["event"] in ("done", "failed")}
    assert {e["i"] for e in events if e["event"] == "sending"} <= settled  # the keys under way finished

    code, summary = cli(
        *apply_args(
            tmp_path, proxy.url, policy, chosen, "--journal", str(journal), "--resume", "--region", REGION
        )
    )
    assert code == 0, summary
    assert (summary["changed"], summary["pending"], summary["thisRun"]["resumed"]) == (50, 0, 0)
    assert all(proxy.puts[key] == [200] for key in chosen)


# -- throttled ---------------------------------------------------------------------------------
def test_a_throttling_service_slows_the_rollout_down_and_nothing_fails(cli, proxy, keys, admin, tmp_path):
    proxy.throttle("PutKeyPolicy", rate=25, burst=2)  # far below --rate: KMS would throttle too
    policy = rollout_policy(admin.arn, "Throttled")
    chosen = keys[:60]
    argv = apply_args(
        tmp_path, proxy.url, policy, chosen, "--region", REGION, "--journal", str(tmp_path / "t.journal")
    )
    code, summary = cli(*argv, "--rate", "400", "--concurrency", "16")
    assert code == 0, summary["failedKeys"]
    assert (summary["changed"], summary["failed"]) == (60, 0)
    assert proxy.throttled["PutKeyPolicy"] > 0, "the proxy never throttled: the test proves nothing"
    assert summary["thisRun"]["throttled"] > 0
    for key in chosen:  # throttled writes are refused before they apply: one write landed per key
        assert [s for s in proxy.puts[key] if s is not None] == [200], proxy.puts[key]
        assert _policy_of(key) == rendered(policy, key)


def test_the_bucket_paces_at_its_rate_and_gives_refunded_slots_to_the_next_caller():
    now = [0.0]
    waits: list[float] = []
    bucket = TokenBucket(10, clock=lambda: now[0], sleep=waits.append)
    for _ in range(5):
        bucket.take()  # five callers at once: 0.1 s apart
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])
    now[0] = 0.5  # all five slots used
    bucket.refund()  # the last caller needed no write
    waits.clear()
    bucket.take()
    assert waits == []  # the refunded slot is free at once
    bucket.take()
    assert waits == pytest.approx([0.1])


def test_the_bucket_slows_down_once_per_throttled_burst_and_recovers_to_the_configured_rate():
    now = [0.0]
    bucket = TokenBucket(
        16, clock=lambda: now[0], sleep=lambda s: None, backoff=0.5, recovery=4.0, cooldown=1.0
    )
    slot = bucket.take()
    assert bucket.throttled(slot) is True
    assert bucket.throttled(slot) is False  # the same burst: counted once
    assert bucket.rate == 8
    now[0] = 1.5
    assert bucket.throttled(slot) is False  # paced before the slowdown, at the old rate: stale
    assert bucket.throttled(bucket.take()) is True
    assert bucket.rate == pytest.approx(5)  # 8, recovered by 0.5 s x 16/4 per second, then halved
    now[0] = 3.5  # recovery from the end of the cooldown (2.5): 16 / 4 per second
    assert bucket.rate == pytest.approx(9)
    now[0] = 60.0
    assert bucket.rate == 16  # never above the configured rate
    for _ in range(20):
        now[0] += 1.0
        bucket.throttled()
    assert bucket.rate == 1.0  # the floor
    assert TokenBucket(15)._backoff == 0.7  # by default, CUBIC's factor


# -- --all-keys ----------------------------------------------------------------------------------
def test_all_keys_lists_every_page_and_skips_aws_managed_and_pending_deletion_keys(
    cli, proxy, admin, tmp_path
):
    created = _create_keys(12, ALL_KEYS_REGION)
    managed, deleting = created[:2], created[2]
    proxy.aws_managed.update(managed)
    _backend(ALL_KEYS_REGION).schedule_key_deletion(deleting, 7)
    proxy.page_size = 5
    policy = rollout_policy(admin.arn, "AllKeys")
    journal = tmp_path / "all.journal"
    argv = apply_args(
        tmp_path,
        proxy.url,
        policy,
        None,
        "--all-keys",
        "--region",
        ALL_KEYS_REGION,
        "--journal",
        str(journal),
    )
    code, summary = cli(*argv)
    assert code == 0, summary
    assert proxy.list_markers == [None, "5", "10"]  # every page
    assert (summary["keys"], summary["changed"], summary["skipped"], summary["failed"]) == (12, 9, 3, 0)
    reasons = {s["key"]: s["reason"] for s in summary["skippedKeys"]}
    assert set(reasons) == {*managed, deleting}
    assert all("KeyManager: AWS" in reasons[k] for k in managed)
    assert "KeyState: PendingDeletion" in reasons[deleting]
    assert all(not proxy.by_key["PutKeyPolicy", k] for k in (*managed, deleting))
    for key in created[3:]:
        assert _policy_of(key, ALL_KEYS_REGION) == rendered(policy, key, ALL_KEYS_REGION)
    listed = (tmp_path / "all.journal.keys").read_text().split()
    assert sorted(listed) == sorted(created)

    _create_keys(1, ALL_KEYS_REGION)  # a key made after the listing is not part of this rollout
    listed_before = proxy.seen["ListKeys"]
    code, summary = cli(*argv, "--resume")
    assert code == 0, summary
    assert proxy.seen["ListKeys"] == listed_before  # --resume works on the same list
    assert (summary["keys"], summary["changed"], summary["skipped"], summary["thisRun"]["putKeyPolicy"]) == (
        12,
        9,
        3,
        0,
    )


# -- rollback --journal ------------------------------------------------------------------------------
def test_rollback_journal_restores_every_key_the_rollout_changed(cli, proxy, keys, admin, tmp_path):
    chosen = keys[-30:]
    before = {key: _policy_of(key) for key in chosen}
    policy = rollout_policy(admin.arn, "RolledBack")
    journal = tmp_path / "rb.journal"
    code, summary = cli(
        *apply_args(tmp_path, proxy.url, policy, chosen, "--journal", str(journal), "--region", REGION)
    )
    assert (code, summary["changed"]) == (0, 30), summary
    meddled = chosen[0]  # someone else changes one key after the rollout
    other = rollout_policy(admin.arn, "SomeoneElse")
    _backend().keys[meddled].policy = json.dumps(
        PolicyTemplate(other).render(
            KeyFacts(meddled, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{meddled}", ACCOUNT, REGION)
        )
    )

    args = [
        "rollback",
        "--journal",
        str(journal),
        "--endpoint-url",
        proxy.url,
        "--backup-dir",
        str(tmp_path / "rb-backups"),
        *FAST,
    ]
    code, summary = cli(*args)
    assert code == 1, summary
    assert (summary["restored"], summary["unchanged"], summary["failed"]) == (29, 0, 1)
    assert summary["failedKeys"][0]["key"] == meddled
    assert "changed since the rollout" in summary["failedKeys"][0]["reason"]
    assert all(_policy_of(key) == before[key] for key in chosen[1:])
    assert _policy_of(meddled) == rendered(other, meddled)  # left as it is
    assert not proxy.by_key["PutKeyPolicy", meddled] > 1

    code, summary = cli(*args)  # again: nothing left to do
    assert (code, summary["restored"], summary["unchanged"], summary["failed"]) == (1, 0, 29, 1)


# -- --dry-run, --retry-failed ----------------------------------------------------------------------
def test_a_dry_run_reads_diffs_and_access_diffs_every_key_and_sends_no_put_key_policy(
    cli, proxy, keys, admin, tmp_path
):
    chosen = keys[:20]
    journal = tmp_path / "dry.journal"
    policy = rollout_policy(admin.arn, "DryRun")
    policy["Statement"][1]["Action"].append("kms:Encrypt")  # the admin gains kms:Encrypt on each key
    code, summary = cli(
        *apply_args(
            tmp_path, proxy.url, policy, chosen, "--dry-run", "--journal", str(journal), "--region", REGION
        )
    )
    assert code == 0, summary
    assert (summary["dryRun"], summary["changed"], summary["failed"]) == (True, 20, 0)
    assert proxy.seen["PutKeyPolicy"] == 0
    previews = [e for e in journal_events(journal) if e["event"] == "preview"]
    assert len(previews) == 20
    assert all(p["changed"] and p["diff"]["modified"] + p["diff"]["added"] >= 1 for p in previews)
    assert all(p["access"]["gained"] >= 1 for p in previews)
    for preview in previews:  # the access diff, per principal: the admin gains (at least kms:Encrypt)
        assert any(s["principal"] == admin.arn and s["gained"] >= 1 for s in preview["access"]["summary"])
    assert all(_policy_of(key) != rendered(policy, key) for key in chosen)  # nothing was written
    code, refused = cli(
        *apply_args(
            tmp_path, proxy.url, policy, chosen, "--resume", "--journal", str(journal), "--region", REGION
        )
    )
    assert code == 2
    assert "dry run" in json.dumps(refused["error"]["problems"])
    code, refused = cli("rollback", "--journal", str(journal), "--endpoint-url", proxy.url)
    assert code == 2
    assert "dry run" in json.dumps(refused["error"]["problems"])
    assert proxy.seen["PutKeyPolicy"] == 0


def test_retry_failed_runs_only_the_keys_that_failed(cli, proxy, keys, admin, tmp_path):
    chosen = keys[100:120]
    denied = set(chosen[::5])
    proxy.deny["PutKeyPolicy"] = set(denied)
    journal = tmp_path / "retry.journal"
    policy = rollout_policy(admin.arn, "Retried")
    argv = apply_args(tmp_path, proxy.url, policy, chosen, "--journal", str(journal), "--region", REGION)
    code, summary = cli(*argv)
    assert code == 1
    assert (summary["changed"], summary["failed"]) == (16, 4)
    assert {f["key"] for f in summary["failedKeys"]} == denied
    assert {f["code"] for f in summary["failedKeys"]} == {"AccessDeniedException"}

    proxy.deny.clear()
    proxy.by_key.clear()
    code, summary = cli(*argv, "--retry-failed")
    assert code == 0, summary
    assert (summary["changed"], summary["failed"], summary["thisRun"]["changed"]) == (20, 0, 4)
    assert {key for (op, key) in proxy.by_key if key} == denied  # no other key was even read
    assert all(_policy_of(key) == rendered(policy, key) for key in chosen)


# -- refused before anything is sent ---------------------------------------------------------------
def test_a_bad_key_list_or_policy_is_exit_2_naming_every_problem_and_nothing_is_sent(
    cli, proxy, keys, admin, tmp_path
):
    policy = rollout_policy(admin.arn, "Refused")
    bad_lines = [
        keys[0],
        "alias/app",
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{keys[1]}",
        "",
        "# a comment",
        "nope",
        keys[0],
    ]
    code, refused = cli(*apply_args(tmp_path, proxy.url, policy, bad_lines, "--region", REGION))
    assert code == 2
    messages = [p["message"] for p in refused["error"]["problems"]]
    assert any("line 2:" in m and "alias" in m for m in messages)
    assert any("line 3:" in m and "eu-west-1" in m for m in messages)
    assert any("line 6:" in m for m in messages)
    code, refused = cli(
        *apply_args(tmp_path, proxy.url, policy, [keys[0], keys[1], keys[0]], "--region", REGION)
    )
    assert code == 2
    assert "line 3: the key of line 1 again" in json.dumps(refused)

    typo = json.loads(json.dumps(policy).replace("${$.accountId}", "${$.accountID}", 1))
    code, refused = cli(*apply_args(tmp_path, proxy.url, typo, keys[:3], "--region", REGION))
    assert code == 2
    assert "unknown placeholder ${$.accountID}" in json.dumps(refused)
    nobody = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": admin.arn}, "Action": "kms:Decrypt", "Resource": "*"}
        ],
    }
    code, refused = cli(*apply_args(tmp_path, proxy.url, nobody, keys[:3], "--region", REGION))
    assert code == 2
    assert "UNMANAGEABLE" in json.dumps(refused) or "manage" in json.dumps(refused)
    assert sum(proxy.seen.values()) == 0  # not even sts:GetCallerIdentity


def test_a_journal_line_that_is_not_an_event_is_refused_naming_it_and_a_cut_last_line_is_ignored(
    cli, proxy, keys, admin, tmp_path
):
    chosen = keys[120:125]
    journal = tmp_path / "j.journal"
    policy = rollout_policy(admin.arn, "Journal")
    argv = apply_args(tmp_path, proxy.url, policy, chosen, "--journal", str(journal), "--region", REGION)
    assert cli(*argv)[0] == 0
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"event": "done", "i": 3, "key": "x", "i": 4}\n')
    code, refused = cli(*argv, "--resume")
    assert code == 2
    bad_line = good.count(b"\n") + 1
    assert f"line {bad_line}" in json.dumps(refused)
    assert "duplicate" in json.dumps(refused).lower()
    journal.write_bytes(good + b'{"event": "done", "i": 99, "key": "' + chosen[0].encode() + b'"}\n')
    assert cli(*argv, "--resume")[0] == 2
    journal.write_bytes(good + b"x" * (MAX_JOURNAL_LINE_BYTES + 10) + b"\n")
    assert cli(*argv, "--resume")[0] == 2
    journal.write_bytes(good + b'{"event": "sending", "i": 0, "ke')  # a write cut short by a kill
    code, summary = cli(*argv, "--resume")
    assert (code, summary["changed"], summary["thisRun"]["putKeyPolicy"]) == (0, 5, 0)
    assert journal.read_bytes().startswith(good)
    assert journal.read_bytes().endswith(b"\n")
    assert b'"ke\n' not in journal.read_bytes()
    assert b'"ke{' not in journal.read_bytes()


# -- the progress bar ----------------------------------------------------------------------------
def test_the_progress_bar_is_on_a_terminal_stderr_only_and_stdout_holds_the_summary_alone(
    proxy, keys, admin, admin_env, tmp_path
):
    import pty

    policy = rollout_policy(admin.arn, "Progress")
    argv = apply_args(tmp_path, proxy.url, policy, keys[130:140], "--region", REGION)
    command = [sys.executable, "-c", "from http_task_kms.cli import run; run()", *argv]
    plain = subprocess.run(command, env=admin_env, capture_output=True, text=True, timeout=60, check=False)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["changed"] == 10
    assert plain.stderr == ""  # not a terminal: no bar

    leader, follower = pty.openpty()
    seen = bytearray()
    reader = threading.Thread(target=lambda: _drain(leader, seen), daemon=True)
    reader.start()
    argv = apply_args(tmp_path, proxy.url, policy, keys[140:150], "--region", REGION)
    done = subprocess.run(
        [sys.executable, "-c", "from http_task_kms.cli import run; run()", *argv],
        env={**admin_env, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=follower,
        timeout=60,
        check=False,
    )
    os.close(follower)
    reader.join(timeout=5)
    assert done.returncode == 0
    assert json.loads(done.stdout)["changed"] == 10  # stdout: the summary, and nothing else
    text = seen.decode("utf-8", "replace")
    assert "apply" in text
    assert "10/10" in text
    assert "failed 0" in text


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.extend(chunk)
