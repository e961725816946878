"""The wheel works wherever it is built and installed; the declared extras are what is imported.

:func:`built` clones this repository with ``core.symlinks=false`` (what a Windows clone does
by default: a symlink becomes a small text file naming its target), builds a wheel from that
clone and installs it, without its dependencies, into a fresh virtualenv that sees the
dependencies of the running one through a ``.pth`` file (not this checkout: the package is
imported from the wheel). The commands then run from an unrelated directory.

The clone is of the commit checked out (``HEAD``), so uncommitted changes are not in it.
These tests need a git checkout and ``git``: without either they fail, saying so (the suite
is run from a clone; an sdist or wheel carries no tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SPEC = "http_task_kms/kms/openapi.yaml"
SPEC_LINK = "specs/kms/2014-11-01/openapi.yaml"
DESCRIPTOR = "http_task_kms/kms/plugin.yaml"
READY = "http_task_kms/kms/templates.json"  # the KMS templates, ready to use


@dataclass(frozen=True)
class Built:
    """A wheel built from a symlink-less clone, installed in its own virtualenv."""

    clone: Path
    wheel: Path
    python: Path
    script: Path
    elsewhere: Path


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        pytest.fail("tests/test_packaging.py needs git (it clones this repository)")
    if not (ROOT / ".git").exists():
        pytest.fail(f"tests/test_packaging.py needs a git checkout: {ROOT} has no .git")
    return git


def _venv_with_these_dependencies(where: Path) -> Path:
    """A virtualenv without pip whose sys.path ends with this environment's site-packages."""
    _run(sys.executable, "-m", "venv", "--without-pip", where)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    # A path in a .pth file is added to sys.path, but its own .pth files (this checkout's
    # editable install among them) are not run.
    (Path(site) / "_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    return python


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    git = _git()
    base = tmp_path_factory.mktemp("packaging")
    clone = base / "clone"
    _run(git, "clone", "--quiet", "--no-checkout", "-c", "core.symlinks=false", ROOT, clone)
    _run(git, "-C", clone, "checkout", "--quiet", _run(git, "-C", ROOT, "rev-parse", "HEAD").strip())
    dist = base / "dist"
    _run(
        sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", dist, clone,
    )  # fmt: skip
    (wheel,) = dist.glob("http_task_kms-*.whl")
    python = _venv_with_these_dependencies(base / "venv")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel)
    script = python.parent / ("http-task-kms.exe" if os.name == "nt" else "http-task-kms")
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return Built(clone=clone, wheel=wheel, python=python, script=script, elsewhere=elsewhere)


def test_the_clone_really_has_no_symlinks(built: Built) -> None:
    # What makes this the Windows case: specs/ holds the link's text, not the document.
    link = built.clone / SPEC_LINK
    assert not link.is_symlink()
    assert link.read_text() == "../../../http_task_kms/kms/openapi.yaml"
    # In git the document is a file (mode 100644) and specs/ has the link (120000).
    staged = _run("git", "-C", built.clone, "ls-files", "--stage", SPEC, SPEC_LINK).splitlines()
    assert [line.split()[0] for line in staged] == ["100644", "120000"], staged


def test_the_wheel_holds_the_real_spec_the_descriptor_and_the_license(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        spec = wheel.read(SPEC)
        descriptor = wheel.read(DESCRIPTOR)
        ready = wheel.read(READY)
        (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        meta = wheel.read(metadata).decode()
        licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert spec == (built.clone / SPEC).read_bytes()
    assert len(spec) > 500_000
    assert spec.startswith(b"# Generated by `http-task-kms spec kms`")
    assert yaml.safe_load(spec)["openapi"] == "3.0.3"
    assert descriptor == (built.clone / "plugin.yaml").read_bytes()
    assert ready == (built.clone / READY).read_bytes()
    assert yaml.safe_load(descriptor)["spec"] in names
    assert len(licenses) == 1
    assert "License-Expression: Apache-2.0" in meta
    # openapi-spec-validator only for the `spec` extra; moto only for `local` (and `test`).
    runtime = [
        line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "extra" not in line
    ]
    assert not [line for line in runtime if "openapi-spec-validator" in line or "moto" in line], runtime


def test_the_installed_wheel_runs_from_another_directory(built: Built) -> None:
    where = _run(
        built.python, "-c",
        "import http_task_kms; from http_task_kms.kms.templates import load_ready, ready_path, spec_path;"
        " print(http_task_kms.__file__); print(spec_path()); print(ready_path());"
        " print(len(load_ready() or []))",
        cwd=built.elsewhere,
    ).splitlines()  # fmt: skip
    venv = built.python.parent.parent
    assert all(Path(path).resolve().is_relative_to(venv.resolve()) for path in where[:3]), where
    assert Path(where[1]).stat().st_size > 500_000
    assert int(where[3]) > 50  # the installed ready templates are used, not rebuilt

    listed = json.loads(_run(built.script, "templates", "--json", cwd=built.elsewhere))
    ids = [t["id"] for t in listed]
    descriptor = yaml.safe_load((built.clone / "plugin.yaml").read_text())
    assert ids == descriptor["templates"]

    schema: dict[str, Any] = json.loads(
        _run(built.script, "template", "kms.PutKeyPolicy", "--format", "schema", cwd=built.elsewhere)
    )
    assert {"KeyId", "Policy"} <= set(schema["required"])
    assert "BypassPolicyLockoutSafetyCheck" in schema["properties"]


def test_the_build_floor_is_the_test_extras_setuptools() -> None:
    # The wheel above is built without build isolation, with the test extra's setuptools:
    # .ci/floors.py installs that at exactly its floor, so the build-system floor is the one
    # the floors check builds with.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    test = [r for r in pyproject["project"]["optional-dependencies"]["test"] if r.startswith("setuptools")]
    assert build == test


def test_spec_without_its_extra_says_how_to_install_it(tmp_path: Path) -> None:
    # As if openapi-spec-validator were not installed: importing it raises ImportError.
    code = (
        "import sys; sys.modules['openapi_spec_validator'] = None\nfrom http_task_kms.cli import run\nrun()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "spec", "kms", "-o", str(tmp_path / "kms.yaml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    result = json.loads(done.stdout)
    assert result["error"]["code"] == "ValidationError"
    (problem,) = result["error"]["problems"]
    assert problem["field"] == "spec"
    assert "pip install 'http-task-kms[spec]'" in problem["message"]
    assert not (tmp_path / "kms.yaml").exists()
    assert "Traceback" not in done.stderr
