"""plugin.yaml agrees with pyproject.toml and with what the code registers."""

from __future__ import annotations

import importlib
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from http_task_kms.plugins import hookspecs
from http_task_kms.plugins.manager import get_plugin_manager, get_registry, signers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def descriptor() -> dict[str, Any]:
    """plugin.yaml, parsed."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "plugin.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    """pyproject.toml's [project] table."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_name_and_version_match_pyproject(descriptor: dict[str, Any], project: dict[str, Any]) -> None:
    assert descriptor["name"] == project["name"]
    assert descriptor["version"] == project["version"]


def test_entry_point_matches_pyproject(descriptor: dict[str, Any], project: dict[str, Any]) -> None:
    entry = descriptor["entryPoint"]
    assert project["entry-points"][entry["group"]][entry["name"]] == entry["module"]
    assert entry["group"] == hookspecs.PROJECT
    module = importlib.import_module(entry["module"])
    assert module in get_plugin_manager().get_plugins()


def test_hooks_are_the_ones_the_module_implements(descriptor: dict[str, Any]) -> None:
    module = importlib.import_module(descriptor["entryPoint"]["module"])
    implemented = {name for name in dir(module) if hasattr(getattr(module, name), "http_task_kms_impl")}
    assert set(descriptor["hooks"]) == implemented
    assert implemented <= {
        name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "http_task_kms_spec")
    }


def test_templates_are_the_registered_ones(descriptor: dict[str, Any]) -> None:
    registered = [t.id for t in get_registry() if t.service == "kms"]
    assert descriptor["templates"] == registered  # in catalog order
    assert [descriptor["featuredTemplate"]] == [t.id for t in get_registry() if t.featured]
    assert registered[0] == descriptor["featuredTemplate"]


def test_credential_type_has_a_signer_and_spec_exists(descriptor: dict[str, Any]) -> None:
    assert descriptor["credentialType"] in signers()
    assert (ROOT / descriptor["spec"]).is_file()


def test_the_packaged_copy_is_the_same_file() -> None:
    # The wheel carries http_task_kms/kms/plugin.yaml (package data); the top-level one is
    # the repository's. tests/test_packaging.py checks that the wheel really contains it.
    packaged = resources.files("http_task_kms.kms") / "plugin.yaml"
    assert packaged.read_bytes() == (ROOT / "plugin.yaml").read_bytes(), (
        "plugin.yaml and http_task_kms/kms/plugin.yaml differ: cp plugin.yaml http_task_kms/kms/plugin.yaml"
    )


def test_spec_is_the_packaged_document_wherever_the_package_is(descriptor: dict[str, Any]) -> None:
    # spec is relative to the directory holding the package: the repository's root here,
    # site-packages in an installed wheel.
    import http_task_kms
    from http_task_kms.kms.templates import spec_path

    package_root = Path(http_task_kms.__file__).resolve().parent.parent
    assert (package_root / descriptor["spec"]).resolve() == spec_path().resolve()
    assert not spec_path().is_symlink()


def test_permissions_name_real_kms_actions(descriptor: dict[str, Any]) -> None:
    from http_task_kms.kms.policy.lint import kms_actions

    actions = {a.lower() for a in kms_actions()}
    for template_id, needed in descriptor["permissions"].items():
        assert template_id in descriptor["templates"]
        assert all(action.lower() in actions for action in needed), needed
