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

from ..auth.sigv4 import SignerFactory
from ..errors import TemplateNotFound
from ..openapi.load import templates_from_file
from ..template import TaskTemplate
from . import hookspecs

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


def _collect_templates(manager: pluggy.PluginManager) -> list[tuple[str, TaskTemplate]]:
    """Every plugin's templates, each with the name of the plugin that registered it."""
    found: list[tuple[str, TaskTemplate]] = []
    for impl in reversed(manager.hook.register_templates.get_hookimpls()):  # pluggy's call order
        if impl.hookwrapper or impl.wrapper:
            continue
        impl.function(register=lambda template, name=impl.plugin_name: found.append((name, template)))
    return found


# manager → (the plugins it had, the registry built from them); holding the plugins keeps
# their identities valid, so a later plugin set never matches a stale entry.
_REGISTRIES: dict[int, tuple[pluggy.PluginManager, list[object], Registry]] = {}


@functools.cache
def _registry_from_spec(path: Path) -> Registry:
    return Registry(templates_from_file(path))


def get_registry(spec: str | Path | None = None, *, manager: pluggy.PluginManager | None = None) -> Registry:
    """Templates from the plugins, or (with ``spec``) from that OpenAPI document instead."""
    if spec is not None:
        return _registry_from_spec(Path(spec).resolve())
    manager = manager or get_plugin_manager()
    plugins = [plugin for _, plugin in manager.list_name_plugin()]
    cached = _REGISTRIES.get(id(manager))
    if cached is None or cached[0] is not manager or not _same(cached[1], plugins):
        cached = (manager, plugins, Registry(_collect_templates(manager)))
        _REGISTRIES[id(manager)] = cached
    return cached[2]


def _same(before: list[object], now: list[object]) -> bool:
    return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=True))


def signers(manager: pluggy.PluginManager | None = None) -> dict[str, SignerFactory]:
    """Signer factories by credentials type, as the plugins registered them."""
    found: dict[str, SignerFactory] = {}
    (manager or get_plugin_manager()).hook.register_signers(register=found.__setitem__)
    return found
