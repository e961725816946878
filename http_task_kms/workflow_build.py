"""Workflow definitions made from templates: a task wired to the workflow's input.

:func:`wired_task` is a template's builder Http task whose ``inputParameters`` take each
member (and ``region``) from the workflow input (``${$.<member>}``): the task's own url,
headers and body then read its input parameters, exactly as :meth:`TaskTemplate.to_task`
writes them. :func:`single_task_workflow` is the definition ``http-task-kms workflow ID``
prints; a plugin may offer others (the ``build_workflow`` hook). Pure.
"""

from __future__ import annotations

from typing import Any

from .template import TaskTemplate

__all__ = ["CREDENTIALS_PLACEHOLDER", "single_task_workflow", "wired_task"]

#: Where the builder's saved-credentials id goes (it is shown in results, never used to pick keys).
CREDENTIALS_PLACEHOLDER = "<your saved AWS credentials id>"


def wired_task(
    template: TaskTemplate, *, inputs: dict[str, Any] | None = None, description: str | None = None
) -> dict[str, Any]:
    """The template's Http task, its input parameters taken from the workflow input.

    ``inputs`` replaces the wiring of some members (a literal such as ``"default"``, or an
    expression of its own).
    """
    task = template.to_task()
    wiring: dict[str, Any] = {"region": "${$.region}"}
    wiring |= {member: "${$." + member + "}" for member in template.members}
    task["inputParameters"] = {**wiring, **(inputs or {})}
    task["credentials"] = CREDENTIALS_PLACEHOLDER
    task["description"] = description or template.description.split("\n\n", 1)[0]  # its first paragraph
    return task


def single_task_workflow(template: TaskTemplate, *, name: str | None = None) -> dict[str, Any]:
    """A definition with the template's one Http task, wired to the workflow input."""
    task_name = template.operation
    task = wired_task(template)
    return {
        "name": name or template.title,
        "description": f"{template.title}, its input parameters taken from the workflow input "
        f"(region and the members of {template.id}).",
        "startTask": task_name,
        "timeoutSeconds": 0,
        "tasks": {task_name: task},
    }
