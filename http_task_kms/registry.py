"""The templates a run can use, by id — and each one's compiled form, built once.

A :class:`Registry` owns the compiled task (expressions) and the compiled body validator of
its templates: they live as long as the registry, not in module-level caches. Templates a
plugin passes that are not registered (its own, while a ``--spec`` document replaces the
registry) are compiled once per registry too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .errors import TemplateNotFound
from .template import TaskTemplate

if TYPE_CHECKING:
    from .render import CompiledTask
    from .validation import BodyValidator

__all__ = ["Registry"]


def _catalog_order(template: TaskTemplate) -> tuple[str, bool, str]:
    return template.service, not template.featured, template.id


class Registry:
    """Templates by id and by X-Amz-Target, as the plugins (or a ``--spec`` document) gave them."""

    def __init__(self, templates: Iterable[TaskTemplate | tuple[str, TaskTemplate]]) -> None:
        self._by_id: dict[str, TaskTemplate] = {}
        origin: dict[str, str] = {}
        for item in templates:
            source, template = item if isinstance(item, tuple) else ("the document", item)
            if template.id in self._by_id:
                raise ValueError(
                    f"template {template.id!r} registered twice: by {origin[template.id]} and by {source}"
                )
            self._by_id[template.id] = template
            origin[template.id] = source
        self._by_target = {t.target: t for t in self._by_id.values()}
        # template object → (the template, its compiled task, its validator); the template is
        # held, so its identity is never reused while the entry exists.
        self._compiled: dict[int, tuple[TaskTemplate, CompiledTask, BodyValidator]] = {}

    def __iter__(self) -> Iterator[TaskTemplate]:
        """The templates by service, each service's featured ones first, then by id."""
        return iter(sorted(self._by_id.values(), key=_catalog_order))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, template_id: str) -> TaskTemplate:
        """The template with this id; the error suggests close matches."""
        try:
            return self._by_id[template_id]
        except KeyError:
            lowered = template_id.lower()
            close = [t for t in self._by_id if lowered in t.lower() or t.lower() in lowered][:5]
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `http-task-kms templates`"
            raise TemplateNotFound(f"no template {template_id!r}{hint}") from None

    def by_target(self, target: str) -> TaskTemplate | None:
        """The template whose X-Amz-Target is ``target``."""
        return self._by_target.get(target)

    def search(self, text: str) -> list[TaskTemplate]:
        """Templates whose id, title or description contain ``text`` (case-insensitive).

        In catalog order, except that within a service the featured ones come first, then
        those whose id or title matches, then those only whose description does.
        """
        needle = text.lower()
        ranked = [
            (t, 0 if needle in f"{t.id}\n{t.title}".lower() else 1)
            for t in self
            if needle in f"{t.id}\n{t.title}\n{t.description}".lower()
        ]
        ranked.sort(key=lambda pair: (pair[0].service, not pair[0].featured, pair[1]))  # stable
        return [t for t, _ in ranked]

    def compiled(self, template: TaskTemplate) -> CompiledTask:
        """The template's own task with its expressions compiled (once per registry)."""
        return self._compile(template)[1]

    def validator(self, template: TaskTemplate) -> BodyValidator:
        """The template's body schema, compiled (once per registry)."""
        return self._compile(template)[2]

    def _compile(self, template: TaskTemplate) -> tuple[TaskTemplate, CompiledTask, BodyValidator]:
        entry = self._compiled.get(id(template))
        if entry is None:
            from .render import compile_task  # noqa: PLC0415 - the renderer, only when first needed
            from .task import HttpTask  # noqa: PLC0415
            from .validation import BodyValidator  # noqa: PLC0415

            task = HttpTask.model_validate(template.to_task())
            entry = (template, compile_task(task, template), BodyValidator(template.body_schema))
            self._compiled[id(template)] = entry
        return entry
