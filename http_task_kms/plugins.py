"""The plugin manager and the template registry built from it.

:func:`get_plugin_manager` adds the hook specs and loads the ``http_task_kms`` entry
points: lazily (on first call) and once. The KMS support arrives through that same entry
point, like any third-party plugin.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from pathlib import Path

import pluggy

from . import hookspecs
from .errors import TemplateNotFound
from .signing import SignerFactory
from .spec import templates_from_file
from .template import TaskTemplate

__all__ = ["Registry", "get_plugin_manager", "get_registry"]


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager: hook specs plus every installed plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    return manager


class Registry:
    """Templates by id and by X-Amz-Target, as the plugins registered them."""

    def __init__(self, templates: Iterable[TaskTemplate]) -> None:
        self._by_id: dict[str, TaskTemplate] = {}
        for template in templates:
            if template.id in self._by_id:
                raise ValueError(f"template {template.id!r} registered twice")
            self._by_id[template.id] = template
        self._by_target = {t.target: t for t in self._by_id.values()}

    def __iter__(self) -> Iterator[TaskTemplate]:
        return iter(sorted(self._by_id.values(), key=lambda t: t.id))

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
        """Templates whose id, title or description contain ``text`` (case-insensitive)."""
        needle = text.lower()
        return [t for t in self if needle in f"{t.id}\n{t.title}\n{t.description}".lower()]


def _collect_templates(manager: pluggy.PluginManager) -> list[TaskTemplate]:
    found: list[TaskTemplate] = []
    manager.hook.register_templates(register=found.append)
    return found


@functools.cache
def _registry_from_plugins(manager: pluggy.PluginManager, plugins: frozenset[int]) -> Registry:
    return Registry(_collect_templates(manager))


@functools.cache
def _registry_from_spec(path: Path) -> Registry:
    return Registry(templates_from_file(path))


def get_registry(spec: str | Path | None = None, *, manager: pluggy.PluginManager | None = None) -> Registry:
    """Templates from the plugins, or (with ``spec``) from that OpenAPI document instead."""
    if spec is not None:
        return _registry_from_spec(Path(spec).resolve())
    manager = manager or get_plugin_manager()
    # Keyed by the plugin set too: registering a plugin later gives a fresh registry.
    return _registry_from_plugins(manager, frozenset(map(id, manager.get_plugins())))


def signers(manager: pluggy.PluginManager | None = None) -> dict[str, SignerFactory]:
    """Signer factories by credentials type, as the plugins registered them."""
    found: dict[str, SignerFactory] = {}
    (manager or get_plugin_manager()).hook.register_signers(register=found.__setitem__)
    return found
