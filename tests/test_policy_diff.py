"""Tests of http_task_kms.kms.policy.diff: each normalisation alone, then real changes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from http_task_kms.kms.policy.diff import (
    PolicyDiff,
    StatementChange,
    diff_policies,
    equivalent,
    normalise_policy,
)

POLICIES = Path(__file__).parent / "policies"
PARSABLE = sorted(
    name
    for name in yaml.safe_load((POLICIES / "expected.yaml").read_text())["policies"]
    if "INVALID_JSON"
    not in yaml.safe_load((POLICIES / "expected.yaml").read_text())["policies"][name]["findings"]
)
ROOT = "arn:aws:iam::111122223333:root"
ADMIN = "arn:aws:iam::111122223333:role/KeyAdmin"


def root_statement(**elements: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
    }
    statement.update(elements)
    return statement


def admin_statement(**elements: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": [ADMIN]},
        "Action": ["kms:Describe*", "kms:Put*", "kms:Get*"],
        "Resource": "*",
    }
    statement.update(elements)
    return statement


def policy(*statements: dict[str, Any], **top: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    document.update(top)
    return document


BASE = policy(root_statement(), admin_statement())


def admin_of(normalised: dict[str, Any]) -> dict[str, Any]:
    """The normalised statement that has no Sid (the administrators' one)."""
    [statement] = [s for s in normalised["Statement"] if "Sid" not in s]
    return statement  # type: ignore[no-any-return]


def root_of(normalised: dict[str, Any]) -> dict[str, Any]:
    """The normalised statement that has a Sid (the root's one)."""
    [statement] = [s for s in normalised["Statement"] if "Sid" in s]
    return statement  # type: ignore[no-any-return]


def shuffled(document: dict[str, Any]) -> dict[str, Any]:
    """The same policy with every dict's keys and every list reversed."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [walk(item) for item in reversed(value)]
        return value

    return walk(document)  # type: ignore[no-any-return]


# -- no change --------------------------------------------------------------------------------------


def test_identical_policies() -> None:
    result = diff_policies(BASE, copy.deepcopy(BASE))
    assert result == PolicyDiff(changed=False, added=[], removed=[], modified=[], top_level={})
    assert equivalent(BASE, BASE)


@pytest.mark.parametrize("name", PARSABLE)
def test_corpus_policies_survive_reformatting(name: str) -> None:
    text = (POLICIES / name).read_text()
    document = json.loads(text)
    assert equivalent(text, document)
    assert equivalent(text, json.dumps(shuffled(document), separators=(",", ":")))
    assert normalise_policy(text) == normalise_policy(json.dumps(shuffled(document), indent=8))


def test_statement_order_is_irrelevant() -> None:
    assert equivalent(BASE, policy(admin_statement(), root_statement()))


def test_key_order_and_whitespace_are_irrelevant() -> None:
    compact = json.dumps(BASE, separators=(",", ":"))
    spaced = json.dumps(shuffled(BASE), indent=4).replace("\n", "\r\n")
    assert equivalent(compact, spaced)
    assert equivalent(BASE, spaced)


def test_string_equals_one_element_list() -> None:
    listed = policy(
        root_statement(Action=["kms:*"], Resource=["*"], Principal={"AWS": [ROOT]}),
        admin_statement(Condition={"StringEquals": {"kms:CallerAccount": ["111122223333"]}}),
    )
    single = policy(
        root_statement(),
        admin_statement(Condition={"StringEquals": {"kms:CallerAccount": "111122223333"}}),
    )
    assert equivalent(listed, single)


def test_lists_compare_as_sets() -> None:
    duplicated = policy(
        root_statement(),
        admin_statement(
            Action=["kms:Put*", "kms:Get*", "kms:Describe*", "kms:Get*"], Principal={"AWS": [ADMIN, ADMIN]}
        ),
    )
    assert equivalent(BASE, duplicated)


def test_account_id_equals_root_arn() -> None:
    assert equivalent(BASE, policy(root_statement(Principal={"AWS": "111122223333"}), admin_statement()))
    assert normalise_policy(policy(root_statement(Principal={"AWS": "111122223333"})))["Statement"][0][
        "Principal"
    ] == {"AWS": [ROOT]}


def test_account_id_takes_the_partition_of_the_policy() -> None:
    china = policy(
        root_statement(Principal={"AWS": "111122223333"}),
        admin_statement(Principal={"AWS": "arn:aws-cn:iam::111122223333:role/KeyAdmin"}),
    )
    principal = normalise_policy(china)["Statement"][0]["Principal"]
    assert principal == {"AWS": ["arn:aws-cn:iam::111122223333:root"]}


def test_action_case_is_irrelevant() -> None:
    shouted = policy(
        root_statement(Action="KMS:*"), admin_statement(Action=["kms:describe*", "KMS:PUT*", "kms:Get*"])
    )
    assert equivalent(BASE, shouted)
    assert admin_of(normalise_policy(shouted))["Action"] == ["kms:describe*", "kms:get*", "kms:put*"]


def test_condition_key_case_and_value_types_are_irrelevant() -> None:
    before = policy(admin_statement(Condition={"Bool": {"kms:GrantIsForAWSResource": True}}))
    after = policy(admin_statement(Condition={"Bool": {"kms:grantisforawsresource": ["true"]}}))
    assert equivalent(before, after)


def test_single_statement_object_equals_a_list_of_one() -> None:
    assert equivalent(policy(root_statement()), {"Version": "2012-10-17", "Statement": root_statement()})


def test_empty_condition_equals_none() -> None:
    assert equivalent(BASE, policy(root_statement(Condition={}), admin_statement()))


def test_normalised_form() -> None:
    normal = normalise_policy(json.dumps(BASE))
    assert normal["Version"] == "2012-10-17"
    assert len(normal["Statement"]) == 2
    assert root_of(normal) == {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": [ROOT]},
        "Action": ["kms:*"],
        "Resource": ["*"],
    }
    assert admin_of(normal) == {
        "Effect": "Allow",
        "Principal": {"AWS": [ADMIN]},
        "Action": ["kms:describe*", "kms:get*", "kms:put*"],
        "Resource": ["*"],
    }
    assert list(root_of(normal)) == ["Sid", "Effect", "Principal", "Action", "Resource"]
    assert normal == normalise_policy(policy(admin_statement(), root_statement()))


def test_normalise_does_not_change_its_input() -> None:
    document = copy.deepcopy(BASE)
    normalise_policy(document)
    assert document == BASE


@pytest.mark.parametrize("bad", ["{", "[]", '"x"', json.dumps({"Statement": ["kms:*"]})])
def test_normalise_rejects_what_is_not_a_policy(bad: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        normalise_policy(bad)


# -- real changes -----------------------------------------------------------------------------------------


def test_modified_statement_is_matched_by_sid() -> None:
    after = policy(root_statement(Action=["kms:Decrypt"]), admin_statement())
    result = diff_policies(BASE, after)
    assert result.changed
    assert (result.added, result.removed, result.top_level) == ([], [], {})
    [change] = result.modified
    assert change.sid == "Enable IAM User Permissions"
    assert change.before["Action"] == ["kms:*"]
    assert change.after["Action"] == ["kms:decrypt"]


def test_statement_without_sid_is_added_or_removed() -> None:
    after = policy(root_statement(), admin_statement(Action=["kms:Describe*"]))
    result = diff_policies(BASE, after)
    assert result.changed
    assert result.modified == []
    assert result.removed == [admin_of(normalise_policy(BASE))]
    assert result.added == [admin_of(normalise_policy(after))]


def test_added_and_removed_statements() -> None:
    only_root = policy(root_statement())
    grown = diff_policies(only_root, BASE)
    assert (len(grown.added), grown.removed, grown.modified) == (1, [], [])
    assert grown.added[0]["Principal"] == {"AWS": [ADMIN]}
    shrunk = diff_policies(BASE, only_root)
    assert (shrunk.added, len(shrunk.removed)) == ([], 1)


def test_duplicate_statement_counts() -> None:
    doubled = policy(root_statement(), admin_statement(), admin_statement())
    result = diff_policies(BASE, doubled)
    assert result.changed
    assert len(result.added) == 1


def test_renamed_sid_is_a_modification() -> None:
    after = policy(root_statement(Sid="Root"), admin_statement())
    [change] = diff_policies(BASE, after).modified
    assert change == StatementChange(
        sid="Root",
        before=root_of(normalise_policy(BASE)),
        after=root_of(normalise_policy(after)),
    )


def test_another_account_is_a_change() -> None:
    after = policy(root_statement(Principal={"AWS": "444455556666"}), admin_statement())
    assert not equivalent(BASE, after)


def test_top_level_changes() -> None:
    result = diff_policies(
        BASE, policy(root_statement(), admin_statement(), Version="2008-10-17", Id="key-1")
    )
    assert result.changed
    assert result.top_level == {
        "Id": {"before": None, "after": "key-1"},
        "Version": {"before": "2012-10-17", "after": "2008-10-17"},
    }
    assert (result.added, result.removed, result.modified) == ([], [], [])


def test_diff_serialises_with_its_field_names() -> None:
    dumped = diff_policies(BASE, policy(root_statement())).model_dump()
    assert list(dumped) == ["changed", "added", "removed", "modified", "top_level"]
    assert json.loads(diff_policies(BASE, BASE).model_dump_json())["changed"] is False
