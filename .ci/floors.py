"""The floors check: the suite with every direct dependency at exactly its declared floor.

Reads ``pyproject.toml``: ``[project].dependencies`` and the ``local``, ``spec`` and ``test``
extras. Each requirement with a ``>=`` floor (or an ``==`` pin) becomes a constraint
``name==floor``; requirements whose environment marker does not hold here are left out, and
so are the tools the suite does not run (mypy, ruff) and requirements without a floor (the
type stubs). Then: a fresh virtualenv, ``pip install -c CONSTRAINTS -e '.[test]'``, a check
that pip installed exactly those versions, and ``pytest -n 2`` there. Indirect dependencies
resolve as pip resolves them.

One test is left out here, by name: the committed KMS OpenAPI document must equal what the
*installed* botocore generates — a check of the committed file against the botocore it is
regenerated with (the main CI run makes it, with the newest botocore), which the older model at
the floor cannot pass by definition (its KMS model is older). Everything the code does with
botocore at run time is tested at the floor.

    python .ci/floors.py                 # the whole check (exit status: pytest's)
    python .ci/floors.py --constraints   # only print the constraints

Needs ``packaging`` (pytest depends on it) and, before Python 3.11, ``tomli``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = ("local", "spec", "test")
NOT_RUN = {"mypy", "ruff"}  # linters: the suite does not exercise them, so no floor is claimed


def requirements() -> list[Requirement]:
    """The direct requirements: the dependencies and the extras of :data:`EXTRAS`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line.split("#")[0].strip()) for line in lines]


def floor(requirement: Requirement) -> Version | None:
    """The lowest version ``requirement`` allows (``>=X`` or ``==X``), if it names one."""
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(floors) if floors else None


def constraints() -> dict[str, Version]:
    """``{name: floor}`` of every requirement that applies here and has a floor."""
    found: dict[str, Version] = {}
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        lowest = floor(requirement)
        if name in NOT_RUN or lowest is None:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if name in found and found[name] != lowest:
            raise SystemExit(f"{name}: two floors in pyproject.toml ({found[name]}, {lowest})")
        found[name] = lowest
    return found


#: The one test about the committed document and the newest botocore (see the docstring).
_NOT_AT_THE_FLOOR = ("--deselect", "tests/test_openapi_gen.py::test_committed_spec_equals_fresh_generation")


def _run(*args: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)  # noqa: S603 - our own commands


def installed(python: Path) -> dict[str, Version]:
    """``{name: version}`` of what pip installed in the virtualenv of ``python``."""
    command = [str(python), "-m", "pip", "list", "--format", "json"]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return {canonicalize_name(p["name"]): Version(p["version"]) for p in json.loads(listed)}


def main(argv: list[str]) -> int:
    """Print the constraints, or run the whole check; the exit status is pytest's."""
    pins = constraints()
    text = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    if argv[:1] == ["--constraints"]:
        print(text, end="")
        return 0
    with tempfile.TemporaryDirectory(prefix="floors-") as tmp:
        where = Path(tmp)
        (where / "constraints.txt").write_text(text)
        print(f"floors:\n{text}", flush=True)
        _run(sys.executable, "-m", "venv", where / "venv")
        python = where / "venv" / "bin" / "python"
        _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        try:
            _run(python, "-m", "pip", "install", "--quiet", "-c", where / "constraints.txt", "-e", ".[test]")
        except subprocess.CalledProcessError:
            print("floors: pip cannot install them (a floor that is no release, or floors that conflict)")
            return 1
        got = installed(python)
        wrong = {name: str(got.get(name)) for name, version in pins.items() if got.get(name) != version}
        if wrong:
            print(f"floors: not installed at the floor: {wrong}", file=sys.stderr)
            return 1
        pytest = [str(python), "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", *_NOT_AT_THE_FLOOR]
        pytest += argv
        return subprocess.run(pytest, cwd=ROOT, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
