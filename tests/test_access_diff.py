"""Who gains and loses access (issue 12, item 5): the offline access diff, in the result and the CLI."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ACCOUNT, policy_for, write_json

from http_task_kms import Client
from http_task_kms.cli import main
from http_task_kms.kms.local import AdminIdentity
from http_task_kms.kms.policy import iam
from http_task_kms.kms.policy.access import access_diff

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
OTHER = "arn:aws:iam::111122223333:role/reader"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ACTIONS = sorted(name for name, action in iam.load().actions.items() if action.on_key)
IN_CONTEXT = {"StringEquals": {"kms:EncryptionContext:Department": "IT"}}
VIA_S3 = {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


def allow(
    principal: Any, action: Any, condition: dict[str, Any] | None = None, **more: Any
) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "*", **more}
    return {**statement, "Condition": condition} if condition else statement


def deny(principal: Any, action: Any, condition: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {**allow(principal, action, condition, **more), "Effect": "Deny"}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


BASE = allow({"AWS": ROOT}, "kms:*")


def pairs(items: list[dict[str, Any]]) -> list[tuple[Any, str]]:
    return [(item["principal"], item["action"]) for item in items]


def gained(before: dict[str, Any] | None, after: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = access_diff(before, after, **kw).as_json()["gained"]
    return result


def actions_of(items: list[dict[str, Any]], principal: Any) -> list[str]:
    return [item["action"] for item in items if item["principal"] == principal]


# -- gained and lost ------------------------------------------------------------------------


def test_an_added_principal_gains_and_a_removed_one_loses() -> None:
    before = policy(BASE, allow({"AWS": OTHER}, "kms:Decrypt"))
    after = policy(BASE, allow({"AWS": ROLE}, ["kms:Encrypt", "kms:Decrypt"]))
    access = access_diff(before, after).as_json()
    assert access["previousKnown"] is True
    assert access["gained"] == [
        {"principal": ROLE, "action": "kms:Decrypt", "conditions": [], "deniedWhen": []},
        {"principal": ROLE, "action": "kms:Encrypt", "conditions": [], "deniedWhen": []},
    ]
    assert access["lost"] == [
        {"principal": OTHER, "action": "kms:Decrypt", "conditions": [], "deniedWhen": []}
    ]
    assert access["changedConditions"] == []
    assert access["summary"] == [
        {"principal": OTHER, "gained": 0, "lost": 1, "changedConditions": 0},
        {"principal": ROLE, "gained": 2, "lost": 0, "changedConditions": 0},
    ]


def test_the_same_policy_changes_no_access() -> None:
    access = access_diff(policy(BASE), json.dumps(policy(BASE))).as_json()
    assert (access["gained"], access["lost"], access["changedConditions"], access["summary"]) == (
        [],
        [],
        [],
        [],
    )


# -- actions --------------------------------------------------------------------------------


def test_action_wildcards_expand_through_the_data_file() -> None:
    expected_get = sorted(a for a in iam.expand("kms:Get*") if iam.on_key(a))
    assert {"kms:GetKeyPolicy", "kms:GetPublicKey"} <= set(expected_get)
    assert actions_of(gained(None, policy(allow({"AWS": ROLE}, "kms:get*"))), ROLE) == expected_get
    assert len(KEY_ACTIONS) > 40
    assert actions_of(gained(None, policy(allow({"AWS": ROLE}, "kms:*"))), ROLE) == KEY_ACTIONS
    assert actions_of(gained(None, policy(allow({"AWS": ROLE}, "*"))), ROLE) == KEY_ACTIONS
    assert actions_of(gained(None, policy(allow({"AWS": ROLE}, "kms:?ncrypt"))), ROLE) == ["kms:Encrypt"]


def test_not_action_is_every_key_action_except_those_listed() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "NotAction": ["kms:Put*", "kms:ScheduleKeyDeletion"],
    }
    got = actions_of(gained(None, policy({**statement, "Resource": "*"})), ROLE)
    assert got == [a for a in KEY_ACTIONS if a not in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")]
    assert "kms:CreateKey" not in got  # NotAction covers key actions only


def test_an_action_not_authorised_on_a_key_grants_nothing() -> None:
    after = policy(
        allow({"AWS": ROLE}, ["kms:CreateKey", "kms:ListKeys", "kms:GenerateRandom", "s3:GetObject"])
    )
    assert gained(None, after) == []
    assert actions_of(gained(None, policy(allow({"AWS": ROLE}, ["kms:CreateKey", "kms:Sign"]))), ROLE) == [
        "kms:Sign"
    ]


def test_a_statement_whose_resource_is_not_the_key_grants_nothing() -> None:
    other_key = KEY_ARN.replace("1234abcd", "9999abcd")
    assert gained(None, policy(allow({"AWS": ROLE}, "kms:Sign", Resource=other_key)), key_arn=KEY_ARN) == []
    assert pairs(
        gained(None, policy(allow({"AWS": ROLE}, "kms:Sign", Resource=KEY_ARN)), key_arn=KEY_ARN)
    ) == [(ROLE, "kms:Sign")]
    for elsewhere in ("arn:aws:s3:::bucket", "arn:aws:s3:::*", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/*"):
        assert gained(None, policy(allow({"AWS": ROLE}, "kms:Sign", Resource=elsewhere))) == []
    for maybe in (f"arn:aws:kms:*:{ACCOUNT}:key/*", "arn:aws:kms:*", "arn:*"):
        assert pairs(gained(None, policy(allow({"AWS": ROLE}, "kms:Sign", Resource=maybe)))) == [
            (ROLE, "kms:Sign")
        ]
    no_resource = {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Sign"}
    assert gained(None, policy(no_resource)) == []
    not_this = {**no_resource, "NotResource": "*"}
    assert gained(None, policy(not_this)) == []


# -- principals -----------------------------------------------------------------------------


def test_an_account_id_and_its_root_arn_are_the_same_principal() -> None:
    before = policy(allow({"AWS": ACCOUNT}, "kms:*"))
    after = policy(allow({"AWS": [ROOT]}, ["kms:*"]))
    access = access_diff(before, after).as_json()
    assert (access["gained"], access["lost"]) == ([], [])
    assert {item["principal"] for item in gained(None, before)} == {ROOT}


def test_an_account_id_takes_the_partition_of_the_key() -> None:
    china_key = KEY_ARN.replace("arn:aws:", "arn:aws-cn:")
    got = gained(None, policy(allow({"AWS": ACCOUNT}, "kms:Sign")), key_arn=china_key)
    assert pairs(got) == [(f"arn:aws-cn:iam::{ACCOUNT}:root", "kms:Sign")]


def test_star_and_aws_star_are_the_public_principal() -> None:
    before = policy(allow("*", "kms:Decrypt", IN_CONTEXT))
    after = policy(allow({"AWS": ["*"]}, "kms:Decrypt", IN_CONTEXT))
    access = access_diff(before, after).as_json()
    assert (access["gained"], access["lost"], access["changedConditions"]) == ([], [], [])
    assert pairs(gained(None, after)) == [("*", "kms:Decrypt")]


def test_service_principals_keep_their_type() -> None:
    service = {"Service": "logs.amazonaws.com"}
    after = policy(BASE, allow({**service, "AWS": ROLE}, "kms:GenerateDataKey"))
    got = gained(policy(BASE), after)
    assert pairs(got) == [(ROLE, "kms:GenerateDataKey"), (service, "kms:GenerateDataKey")]
    assert access_diff(after, policy(BASE)).as_json()["summary"][1] == {
        "principal": service,
        "gained": 0,
        "lost": 1,
        "changedConditions": 0,
    }


def test_allow_with_not_principal_is_shown_as_written() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "kms:Sign", "Resource": "*"}
    assert pairs(gained(None, policy(statement))) == [({"NotPrincipal": {"AWS": [ROOT]}}, "kms:Sign")]


# -- conditions -----------------------------------------------------------------------------


def test_two_conditioned_grants_are_a_union_and_an_unconditioned_one_wins() -> None:
    two = policy(allow({"AWS": ROLE}, "kms:Decrypt", IN_CONTEXT), allow({"AWS": ROLE}, "kms:Decrypt", VIA_S3))
    (item,) = gained(None, two)
    assert item["conditions"] == [
        {"StringEquals": {"kms:encryptioncontext:department": ["IT"]}},
        {"StringEquals": {"kms:viaservice": ["s3.us-east-1.amazonaws.com"]}},
    ]
    three = policy(*two["Statement"], allow({"AWS": ROLE}, "kms:*"))
    assert [i["conditions"] for i in gained(None, three) if i["action"] == "kms:Decrypt"] == [[]]
    first = policy(allow({"AWS": ROLE}, "kms:*"), *two["Statement"])  # in either order
    assert [i["conditions"] for i in gained(None, first) if i["action"] == "kms:Decrypt"] == [[]]


def test_changed_conditions_show_before_and_after() -> None:
    before = policy(BASE, allow({"AWS": ROLE}, ["kms:Decrypt", "kms:Encrypt"], IN_CONTEXT))
    after = policy(
        BASE, allow({"AWS": ROLE}, "kms:Decrypt", VIA_S3), allow({"AWS": ROLE}, "kms:Encrypt", IN_CONTEXT)
    )
    access = access_diff(before, after).as_json()
    assert (access["gained"], access["lost"]) == ([], [])
    assert access["changedConditions"] == [
        {
            "principal": ROLE,
            "action": "kms:Decrypt",
            "before": {
                "conditions": [{"StringEquals": {"kms:encryptioncontext:department": ["IT"]}}],
                "deniedWhen": [],
            },
            "after": {
                "conditions": [{"StringEquals": {"kms:viaservice": ["s3.us-east-1.amazonaws.com"]}}],
                "deniedWhen": [],
            },
        }
    ]
    # Only the spelling differs (key case, a one-element list): no change.
    respelled = policy(
        BASE,
        allow(
            {"AWS": ROLE},
            ["kms:Decrypt", "kms:Encrypt"],
            {"StringEquals": {"KMS:encryptioncontext:Department": ["IT"]}},
        ),
    )
    assert access_diff(before, respelled).as_json()["changedConditions"] == []


def test_dropping_a_condition_is_a_changed_condition() -> None:
    before = policy(allow({"AWS": ROLE}, "kms:Decrypt", IN_CONTEXT))
    after = policy(allow({"AWS": ROLE}, "kms:Decrypt"))
    (change,) = access_diff(before, after).as_json()["changedConditions"]
    assert change["after"] == {"conditions": [], "deniedWhen": []}
    assert change["before"]["conditions"] == [{"StringEquals": {"kms:encryptioncontext:department": ["IT"]}}]


# -- Deny -----------------------------------------------------------------------------------


def test_an_unconditioned_deny_removes_the_grant() -> None:
    after = policy(
        allow({"AWS": ROLE}, "kms:*"), deny({"AWS": ROLE}, ["kms:Delete*", "kms:ScheduleKeyDeletion"])
    )
    got = actions_of(gained(None, after), ROLE)
    assert "kms:ScheduleKeyDeletion" not in got
    assert "kms:DeleteImportedKeyMaterial" not in got
    assert len(got) == len(KEY_ACTIONS) - 1 - len([a for a in KEY_ACTIONS if a.startswith("kms:Delete")])


def test_a_deny_on_the_public_or_the_account_covers_the_principals_in_it() -> None:
    grants = (allow({"AWS": [ROLE, OTHER]}, "kms:Decrypt"),)
    assert gained(None, policy(*grants, deny("*", "kms:Decrypt"))) == []
    by_account = gained(None, policy(*grants, deny({"AWS": ACCOUNT}, "kms:Decrypt")))
    assert pairs(by_account) == [(OTHER, "kms:Decrypt")]  # OTHER is in another account
    # A Deny on one role does not remove a grant to its whole account.
    account_grant = policy(allow({"AWS": ACCOUNT}, "kms:Decrypt"), deny({"AWS": ROLE}, "kms:Decrypt"))
    assert pairs(gained(None, account_grant)) == [(ROOT, "kms:Decrypt")]


def test_a_conditioned_deny_restricts_the_grant() -> None:
    insecure = {"Bool": {"aws:SecureTransport": False}}
    after = policy(
        allow({"AWS": ROLE}, ["kms:Decrypt", "kms:Encrypt"], IN_CONTEXT), deny("*", "kms:Decrypt", insecure)
    )
    decrypt, encrypt = gained(None, after)
    assert decrypt == {
        "principal": ROLE,
        "action": "kms:Decrypt",
        "conditions": [{"StringEquals": {"kms:encryptioncontext:department": ["IT"]}}],
        "deniedWhen": [{"Bool": {"aws:securetransport": ["false"]}}],
    }
    assert encrypt["deniedWhen"] == []
    # Adding the Deny to a policy that had the grant changes its conditions.
    (change,) = access_diff(policy(after["Statement"][0]), after).as_json()["changedConditions"]
    assert change["action"] == "kms:Decrypt"
    assert change["after"]["deniedWhen"] == [{"Bool": {"aws:securetransport": ["false"]}}]


def test_a_not_principal_deny_spares_only_those_it_lists() -> None:
    grants = allow({"AWS": [ROLE, OTHER]}, "kms:Sign")
    spare_role = {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [ROLE, ACCOUNT]},
        "Action": "kms:Sign",
        "Resource": "*",
    }
    assert pairs(gained(None, policy(grants, spare_role))) == [(ROLE, "kms:Sign")]
    (public,) = gained(None, policy(allow("*", "kms:Sign"), spare_role))
    assert public["deniedWhen"] == [{"NotPrincipal": {"AWS": [ROLE, ROOT]}}]


# -- a new key, determinism, size -------------------------------------------------------------


def test_with_no_current_policy_gained_is_all_access() -> None:
    after = policy(BASE, allow({"Service": "logs.amazonaws.com"}, "kms:Encrypt", VIA_S3))
    access = access_diff(None, after).as_json()
    assert access["previousKnown"] is False
    assert access["lost"] == []
    assert access["changedConditions"] == []
    assert pairs(access["gained"]) == [(ROOT, a) for a in KEY_ACTIONS] + [
        ({"Service": "logs.amazonaws.com"}, "kms:Encrypt")
    ]
    assert access["gained"] == access_diff({"Statement": []}, after).as_json()["gained"]


def _big_policy(statements: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    actions = ["kms:*", "kms:Get*", "kms:Decrypt", ["kms:Encrypt", "kms:ReEncrypt*"], "kms:Describe*"]
    body = [BASE]
    for index in range(statements):
        roles = [f"arn:aws:iam::{ACCOUNT}:role/team{index}/r{n}" for n in range(3)]
        condition = rng.choice([None, IN_CONTEXT, VIA_S3])
        body.append(allow({"AWS": roles}, rng.choice(actions), condition, Sid=f"S{index}"))
        if index % 10 == 0:
            body.append(deny({"AWS": roles[0]}, "kms:Decrypt", VIA_S3, Sid=f"D{index}"))
    return policy(*body)


def test_lists_are_sorted_by_principal_then_action() -> None:
    principals: list[Any] = [{"AWS": f"arn:aws:iam::{ACCOUNT}:role/r{n}"} for n in (5, 1, 4)] + [
        {"Service": "logs.amazonaws.com"},
        {"Federated": "cognito-identity.amazonaws.com"},
        "*",
    ]
    after = policy(*(allow(p, ["kms:Sign", "kms:Decrypt"]) for p in principals))
    got = pairs(gained(None, after))
    expected_principals = [
        "*",
        f"arn:aws:iam::{ACCOUNT}:role/r1",
        f"arn:aws:iam::{ACCOUNT}:role/r4",
        f"arn:aws:iam::{ACCOUNT}:role/r5",
        {"Federated": "cognito-identity.amazonaws.com"},
        {"Service": "logs.amazonaws.com"},
    ]  # "*", then AWS ARNs, then the other types by name
    assert got == [(p, a) for p in expected_principals for a in ("kms:Decrypt", "kms:Sign")]
    summary = access_diff(None, after).as_json()["summary"]
    assert [item["principal"] for item in summary] == expected_principals


def test_the_result_is_deterministic() -> None:
    after = _big_policy(40, seed=1)
    shuffled = {**after, "Statement": random.Random(7).sample(after["Statement"], len(after["Statement"]))}
    first = access_diff(_big_policy(40, seed=2), after).as_json()
    assert first["gained"]
    assert first["lost"]
    assert first["changedConditions"]
    assert json.dumps(first) == json.dumps(access_diff(_big_policy(40, seed=2), shuffled).as_json())


def test_a_32_kb_policy_diffs_well_within_budget() -> None:
    before, after = json.dumps(_big_policy(105, seed=3)), json.dumps(_big_policy(105, seed=4))
    assert 30_000 < len(after) <= 32_768
    started = time.perf_counter()
    access = access_diff(before, after).as_json()
    assert time.perf_counter() - started < 0.5  # a guard against a blow-up, not a timing test
    assert len(access["summary"]) > 100


def test_a_document_that_is_not_an_object_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        access_diff(None, "[]")


# -- in the PutKeyPolicy result, against moto ------------------------------------------------


@pytest.mark.integration
def test_put_key_policy_result_shows_who_gains_access(
    local_client: Callable[..., Client], new_key: str, admin: AdminIdentity, tmp_path: Path
) -> None:
    client = local_client(plugin_options={"backup_dir": str(tmp_path)})
    new = policy_for(admin.arn)
    new["Statement"].append(allow({"Service": "logs.amazonaws.com"}, "kms:Encrypt", VIA_S3))
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": new})
    assert result.ok, result.to_json()
    access = result.to_json()["access"]
    assert access["previousKnown"] is True
    assert pairs(access["gained"]) == [(admin.arn, a) for a in KEY_ACTIONS] + [
        ({"Service": "logs.amazonaws.com"}, "kms:Encrypt")
    ]
    assert access["gained"][-1]["conditions"] == [
        {"StringEquals": {"kms:viaservice": ["s3.us-east-1.amazonaws.com"]}}
    ]
    assert access["lost"] == []
    assert access["changedConditions"] == []
    # The same policy again: not sent, and no access changes.
    again = client.test_request("kms.PutKeyPolicy", {"KeyId": new_key, "Policy": new}).to_json()
    assert again["sent"] is False
    assert (again["access"]["gained"], again["access"]["lost"]) == ([], [])
    # Removing the service principal shows what it loses.
    back = client.test_request(
        "kms.PutKeyPolicy", {"KeyId": new_key, "Policy": policy_for(admin.arn)}
    ).to_json()
    assert pairs(back["access"]["lost"]) == [({"Service": "logs.amazonaws.com"}, "kms:Encrypt")]


@pytest.mark.integration
def test_forced_put_without_a_readable_policy_shows_all_access(local_client: Callable[..., Client]) -> None:
    client = local_client(plugin_options={"force": True})
    missing = "0000abcd-12ab-34cd-56ef-1234567890ab"  # GetKeyPolicy (and then PutKeyPolicy) fail
    result = client.test_request("kms.PutKeyPolicy", {"KeyId": missing, "Policy": policy_for()}).to_json()
    assert result["sent"] is True
    assert result["previousPolicy"] is None
    assert result["access"]["previousKnown"] is False
    assert pairs(result["access"]["gained"]) == [(ROOT, a) for a in KEY_ACTIONS]


# -- lint-policy --against ----------------------------------------------------------------------


def _lint(*args: str, stdin: str | None = None) -> tuple[int, Any]:
    outcome = CliRunner().invoke(main, ["lint-policy", *args], input=stdin)
    return outcome.exit_code, json.loads(outcome.stdout)


def test_lint_policy_against_the_current_policy(tmp_path: Path) -> None:
    current = write_json(tmp_path / "current.json", policy(BASE, allow({"AWS": OTHER}, "kms:Decrypt")))
    new = write_json(tmp_path / "new.json", policy(BASE, allow({"AWS": ROLE}, "kms:Sign")))
    code, document = _lint(new, "--against", current)
    assert code == 0, document
    assert pairs(document["access"]["gained"]) == [(ROLE, "kms:Sign")]
    assert pairs(document["access"]["lost"]) == [(OTHER, "kms:Decrypt")]
    assert document["access"]["previousKnown"] is True
    code, document = _lint("-", "--against", current, stdin=Path(new).read_text())
    assert code == 0
    assert pairs(document["access"]["gained"]) == [(ROLE, "kms:Sign")]
    code, document = _lint(new)
    assert code == 0
    assert "access" not in document


def test_lint_policy_against_refuses_a_current_file_that_is_not_a_policy(tmp_path: Path) -> None:
    new = write_json(tmp_path / "new.json", policy(BASE))
    broken = tmp_path / "current.json"
    broken.write_text('{"Statement": [], "Statement": []}', encoding="utf-8")
    code, document = _lint(new, "--against", str(broken))
    assert code == 2
    assert [p["field"] for p in document["error"]["problems"]] == ["against"]
    code, document = _lint("-", "--against", "-", stdin=json.dumps(policy(BASE)))
    assert code == 2
    assert "standard input" in document["error"]["problems"][0]["message"]


def test_lint_policy_against_with_an_unreadable_new_policy_has_no_access(tmp_path: Path) -> None:
    current = write_json(tmp_path / "current.json", policy(BASE))
    bad = tmp_path / "new.json"
    bad.write_text("{not json", encoding="utf-8")
    code, document = _lint(str(bad), "--against", current)
    assert code == 2
    assert document["access"] is None
    assert document["findings"][0]["code"] == "INVALID_JSON"


def test_lint_policy_against_a_current_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    new = write_json(tmp_path / "new.json", policy(BASE))
    big = tmp_path / "current.json"
    with big.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # a hole: read() would return every byte
    code, document = _lint(new, "--against", str(big))
    assert code == 2
    (problem,) = document["error"]["problems"]
    assert problem["field"] == "against"
    assert "the limit for lint-policy --against CURRENT_FILE" in problem["message"]
