"""The cost of the expression budgets per render (README, "Budgets").

Run: ``python bench/bench_expressions.py [--rounds N] [--quick]``

Each figure is the median time (µs) of rendering a compiled task's url, headers and body over
a ~2 KB key policy:

- put_key_policy: kms.PutKeyPolicy as its template writes it (``to_task()``, compiled with
  ``compile_task``): our JSONata URL and singular ``${$.X}`` placeholders, all in process.
- jsonata_body: the same task with ``"Policy": "jsonata:Policy"``: a task's own JSONata, so
  evaluated in the budgeted worker; against ``jsonata_body_in_process``, the same body
  compiled as trusted (``own=True``: in process, no budget), the render without the machinery.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from common import policy_2kb

from http_task_kms import Client, sandbox
from http_task_kms.expressions import Node, compile_value, render
from http_task_kms.render import compile_task
from http_task_kms.task import HttpTask

ACCOUNT = "111122223333"


def _median_us(func: Callable[[], Any], rounds: int) -> float:
    for _ in range(min(50, rounds)):
        func()  # warm-up (the first sandboxed render also starts the worker)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1e6)
    return round(statistics.median(samples), 1)


def _renderer(url: Node, headers: Node, body: Node, params: dict[str, Any]) -> Callable[[], None]:
    def render_all() -> None:
        for node, where in ((url, "httpRequest.url"), (headers, "headers"), (body, "")):
            out = render(node, params, where=where)
            assert not out.problems, out.problems

    return render_all


def main() -> None:
    """Print one JSON document of medians (µs per render)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="50 rounds: a smoke test (CI)")
    args = parser.parse_args()
    rounds = 50 if args.quick else args.rounds

    task = Client().registry.get("kms.PutKeyPolicy").to_task()
    params = {
        "region": "us-east-1",
        "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "Policy": policy_2kb(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:role/KMSKeyAdmin"),
        "BypassPolicyLockoutSafetyCheck": False,
    }
    plain = compile_task(HttpTask.model_validate(task))
    task["httpRequest"]["body"]["Policy"] = "jsonata:Policy"
    with_jsonata = compile_task(HttpTask.model_validate(task))
    trusted_body = compile_value(task["httpRequest"]["body"], own=True)

    report = {
        "rounds": rounds,
        "policy_bytes": len(json.dumps(params["Policy"], separators=(",", ":"))),
        "put_key_policy_us": _median_us(_renderer(plain.url, plain.headers, plain.body, params), rounds),
        "workers_started_by_put_key_policy": len(sandbox.worker_pids()),
        "jsonata_body_us": _median_us(
            _renderer(with_jsonata.url, with_jsonata.headers, with_jsonata.body, params), rounds
        ),
        "jsonata_body_in_process_us": _median_us(
            _renderer(with_jsonata.url, with_jsonata.headers, trusted_body, params), rounds
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
