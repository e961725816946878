"""Budgets for expressions: every attack is refused in time, naming the field; renders are isolated.

Each attack below hangs or eats gigabytes without the budgets (1 s, 100,000 steps, strings up
to 1 MiB, arrays up to 100,000 items, results up to 1 MiB, no ``$eval``). With them, each is a
problem on the field it is in, within the time budget + 0.5 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_json

from http_task_kms import config, engines, sandbox
from http_task_kms.cli import main
from http_task_kms.errors import Problem
from http_task_kms.expressions import compile_value, render
from http_task_kms.plugins.manager import get_registry
from http_task_kms.render import compile_task
from http_task_kms.task import HttpTask

ROOT = Path(__file__).resolve().parents[1]
WITHIN = config.EXPRESSION_SECONDS + 0.5
CATASTROPHIC = "a" * 40 + "b"  # ^(a|aa)+$ backtracks about 2**40 times on this
# 100,000 steps take about 0.3 s on an idle machine, so time may run out first on a busy one
STEPS_OR_TIME = ("JSONata evaluation exceeded 100,000 steps", "JSONata evaluation exceeded 1 s")


@pytest.fixture(autouse=True)
def warm_worker() -> None:
    """The first sandboxed evaluation starts a worker (tens of ms): keep that out of the timings."""
    assert render(compile_value("jsonata:1 + 1"), {}).value == 2


@pytest.fixture
def one_worker() -> int:
    """Exactly one worker, warm (earlier tests may have left several idle); its pid."""
    sandbox.shutdown()
    assert render(compile_value("jsonata:1 + 1"), {}).value == 2
    [pid] = sandbox.worker_pids()
    return pid


def refused(expression: str, params: Any) -> Problem:
    """Render ``{"Policy": expression}``; the one problem, on ``Policy``, within the budget."""
    node = compile_value({"KeyId": "${$.KeyId}", "Policy": expression})
    started = time.monotonic()
    out = render(node, {"KeyId": "k", **params})
    elapsed = time.monotonic() - started
    assert elapsed < WITHIN, f"took {elapsed:.2f} s"
    assert out.value == {"KeyId": "k"}  # the refused member is dropped, the rest renders
    assert [p.field for p in out.problems] == ["Policy"], out.problems
    return out.problems[0]


@pytest.mark.parametrize(
    ("expression", "params", "message"),
    [
        pytest.param(
            "jsonata:($f := function($x){ $f($x) }; $f(1))",
            {},
            STEPS_OR_TIME,
            id="infinite-tail-recursion",
        ),
        pytest.param(
            "jsonata:($f := function($x){ 1 + $f($x) }; $f(1))",
            {},
            "JSONata evaluation exceeded the recursion depth limit",
            id="infinite-recursion",
        ),
        pytest.param(
            "jsonata:$sum([1..10000000])",
            {},
            "JSONata evaluation made an array over 100,000 items",
            id="huge-range",
        ),
        pytest.param(
            "jsonata:$pad('x', 1000000000)",
            {},
            "JSONata evaluation exceeded its memory limit",
            id="pad-a-gigabyte",
        ),
        pytest.param(
            "jsonata:$replace(s, 'a', t)",  # one native step making 10 GB from 200 KB
            {"s": "a" * 100_000, "t": "b" * 100_000},
            "JSONata evaluation exceeded its memory limit",
            id="replace-amplification",
        ),
        pytest.param(
            "jsonata:$sort([1..3000000].($ % 7))",
            {},
            "JSONata evaluation made an array over 100,000 items",
            id="sort-millions",
        ),
        pytest.param(
            "jsonata:$sort([1..50000], function($a, $b){ $a < $b })",
            {},
            STEPS_OR_TIME,
            id="sort-with-a-comparator",
        ),
        pytest.param(
            "jsonata:$eval('1 + 1')",
            {},
            "JSONata evaluation called $eval, which is not allowed",
            id="eval",
        ),
        pytest.param(
            "jsonata:($e := $eval; $e(code))",
            {"code": "1 + 1"},
            "JSONata evaluation called $eval, which is not allowed",
            id="eval-under-another-name",
        ),
        pytest.param(
            "jsonata:$match(s, /^(a|aa)+$/)",
            {"s": CATASTROPHIC},
            "JSONata evaluation exceeded 1 s",
            id="redos-in-a-jsonata-regex",
        ),
        pytest.param(
            "${$.names[?search(@, $.pattern)]}",
            {"names": [CATASTROPHIC], "pattern": "^(a|aa)+$"},
            "JSONPath evaluation exceeded 1 s",
            id="redos-via-jsonpath-search",
        ),
        pytest.param(
            "${$.names[?match(@, $.pattern)]}",
            {"names": [CATASTROPHIC], "pattern": "(a|aa)+"},
            "JSONPath evaluation exceeded 1 s",
            id="redos-via-jsonpath-match",
        ),
        pytest.param(
            "jsonata:s & s & s",
            {"s": "x" * 400_000},
            "JSONata evaluation made a string over 1 MiB",
            id="string-over-1-MiB",
        ),
        pytest.param(
            "jsonata:[items, items]",
            {"items": ["x" * 1000] * 600},
            "JSONata evaluation gave a result over 1 MiB",
            id="jsonata-result-over-1-MiB",
        ),
        pytest.param(
            "${$.items[*]}",
            {"items": ["x" * 1000] * 1100},
            "JSONPath evaluation gave a result over 1 MiB",
            id="jsonpath-result-over-1-MiB",
        ),
    ],
)
def test_an_attack_is_refused_within_the_budget_naming_the_field(
    expression: str, params: dict[str, Any], message: str | tuple[str, ...]
) -> None:
    assert refused(expression, params).message in ((message,) if isinstance(message, str) else message)


@pytest.mark.parametrize(
    ("expression", "steps", "exceeded"),
    [
        ("[1..10].($ * 2)", 100, None),
        ("[1..10].($ * 2)", 20, "exceeded 20 steps"),
        ("($f := function($n){ $n = 0 ? 0 : $f($n - 1) }; $f(1000))", 100, "exceeded 100 steps"),
    ],
)
def test_steps_are_counted(expression: str, steps: int, exceeded: str | None) -> None:
    compiled = engines.compile_jsonata(expression)
    outcome = engines.evaluate_jsonata(compiled, None, engines.Budget(steps=steps, seconds=60))
    assert outcome.exceeded == exceeded
    assert outcome.found is (exceeded is None)


def test_the_worker_survives_a_refusal_it_can_report_itself(one_worker: int) -> None:
    pid = one_worker
    refused("jsonata:($f := function($x){ $f($x) }; $f(1))", {})
    assert sandbox.worker_pids() == [pid]


def test_a_native_step_is_stopped_by_killing_the_worker_which_is_reaped_and_replaced(one_worker: int) -> None:
    threads = threading.active_count()
    pid = one_worker
    # one native step, quadratic (about 10 s): no step counter sees it, only the kill stops it
    assert refused("jsonata:$distinct([1..60000])", {}).message == "JSONata evaluation exceeded 1 s"
    with pytest.raises(ChildProcessError):  # already waited for: no zombie left
        os.waitpid(pid, os.WNOHANG)
    assert sandbox.worker_pids() == []  # a new one starts only when needed
    assert render(compile_value("jsonata:n * 2"), {"n": 21}).value == 42
    [new_pid] = sandbox.worker_pids()
    assert new_pid != pid
    assert threading.active_count() == threads  # no helper thread, then or now


def test_a_worker_has_a_bounded_address_space(one_worker: int) -> None:
    limits = Path(f"/proc/{one_worker}/limits").read_text(encoding="ascii")
    line = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    soft = line.split()[3]
    assert soft.isdigit(), line
    assert int(soft) < 2 * config.EXPRESSION_WORKER_MEMORY_BYTES + (512 << 20)


def test_singular_jsonpath_and_our_own_url_expression_start_no_worker() -> None:
    sandbox.shutdown()
    assert sandbox.worker_pids() == []
    template = get_registry().get("kms.PutKeyPolicy")
    compiled = compile_task(HttpTask.model_validate(template.to_task()))
    params = {"region": "cn-north-1", "KeyId": "k", "Policy": {"Version": "2012-10-17"}}
    assert render(compiled.url, params).value == "https://kms.cn-north-1.amazonaws.com.cn/"
    assert render(compiled.body, params).value["KeyId"] == "k"
    assert render(compile_value("arn:${$.region}:${$.KeyId}"), params).value == "arn:cn-north-1:k"
    assert sandbox.worker_pids() == []


def test_the_command_line_help_starts_no_worker() -> None:
    sandbox.shutdown()
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert sandbox.worker_pids() == []


def test_a_budget_breach_is_a_validation_error_from_the_command_line(tmp_path: Path) -> None:
    """Exit 2 with the field named; stdin and stdout are pipes, and the worker holds neither."""
    task = json.loads((ROOT / "examples" / "put-key-policy.task.json").read_text(encoding="utf-8"))
    task["httpRequest"]["headers"]["X-Region"] = "jsonata:$uppercase(region)"
    task["httpRequest"]["body"]["Policy"] = "jsonata:$pad('x', 1000000000)"
    source = write_json(tmp_path / "task.json", task)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    command = [sys.executable, "-c", "from http_task_kms.cli import run; run()", "render", "--task", source]
    started = time.monotonic()
    completed = subprocess.run(
        [*command, "--input", str(ROOT / "examples" / "put-key-policy.input.json")],
        stdin=subprocess.PIPE,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert completed.returncode == 2, completed.stderr
    document = json.loads(completed.stdout)
    assert [(p["field"], p["message"]) for p in document["error"]["problems"]] == [
        ("Policy", "JSONata evaluation exceeded its memory limit")
    ]


# -- isolation -----------------------------------------------------------------------------------


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every microsecond, so that a shared binding shows up in a few hundred renders."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _render_concurrently(
    node: Any, params_for: Any, expected_for: Any, *, threads: int, rounds: int
) -> list[Any]:
    wrong: list[Any] = []

    def work(i: int) -> None:
        for j in range(rounds):
            value = render(node, params_for(i, j)).value
            if value != expected_for(i, j):
                wrong.append((i, j, value))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return wrong


def test_concurrent_renders_of_our_own_url_expression_are_isolated(fast_switching: None) -> None:
    template = get_registry().get("kms.PutKeyPolicy")
    node = compile_value(template.url_expression())
    wrong = _render_concurrently(
        node,
        lambda i, j: {"region": f"cn-{i}-{j}" if j % 2 else f"eu-{i}-{j}"},
        lambda i, j: (
            f"https://kms.cn-{i}-{j}.amazonaws.com.cn/" if j % 2 else f"https://kms.eu-{i}-{j}.amazonaws.com/"
        ),
        threads=4,
        rounds=300,
    )
    assert wrong == []


def test_concurrent_renders_of_one_compiled_template_see_only_their_own_input(fast_switching: None) -> None:
    node = compile_value(
        {"KeyId": "${$.KeyId}", "Root": "jsonata:$$.KeyId", "Each": "jsonata:tags.($$.KeyId & '/' & $)"}
    )
    wrong = _render_concurrently(
        node,
        lambda i, j: {"KeyId": f"k{i}-{j}", "tags": ["a", "b"]},
        lambda i, j: {"KeyId": f"k{i}-{j}", "Root": f"k{i}-{j}", "Each": [f"k{i}-{j}/a", f"k{i}-{j}/b"]},
        threads=4,
        rounds=100,
    )
    assert wrong == []
