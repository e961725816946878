"""The plugin manager, and what the plugins yield: a template registry and signer factories.

:func:`load_plugins` makes a manager: the hook specs, the core's own signer
(:mod:`http_task_kms.auth`) and every ``http_task_kms`` entry point (the KMS support
arrives through one, like any third-party plugin) — minus any the caller blocks.
:func:`get_plugins` is the process's, loaded lazily (on first use) and once. Loading the
plugins imports no template machinery (pydantic): the registry is built when first asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from .. import auth
from . import hookspecs

if TYPE_CHECKING:
    from ..registry import Registry
    from ..template import TaskTemplate
    from .types import SignerFactory

__all__ = ["Plugins", "get_plugin_manager", "get_plugins", "get_registry", "load_plugins", "signers"]


def load_plugins(*, blocked: Iterable[str] = ()) -> pluggy.PluginManager:
    """A new plugin manager with the core signer and the installed plugins (but ``blocked``)."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(auth, name="core-signers")
    for name in blocked:
        manager.set_blocked(name)
    manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    return manager


class Plugins:
    """A plugin manager and its registry (rebuilt when the set of plugins changes)."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self._built: tuple[list[object], Registry] | None = None

    @property
    def registry(self) -> Registry:
        """Every plugin's templates."""
        plugins = [plugin for _, plugin in self.manager.list_name_plugin()]
        if self._built is None or not _same(self._built[0], plugins):
            from ..registry import Registry  # noqa: PLC0415 - pydantic, not needed for the command line

            self._built = (plugins, Registry(_collect_templates(self.manager)))
        return self._built[1]

    def signers(self) -> dict[str, SignerFactory]:
        """Signer factories by credentials type, as the plugins registered them."""
        found: dict[str, SignerFactory] = {}
        self.manager.hook.register_signers(register=found.__setitem__)
        return found


@functools.cache
def get_plugins() -> Plugins:
    """The process's plugins, loaded on first use."""
    return Plugins(load_plugins())


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager."""
    return get_plugins().manager


def get_registry(spec: str | Path | None = None, *, manager: pluggy.PluginManager | None = None) -> Registry:
    """Templates from the plugins, or (with ``spec``) from that OpenAPI document instead."""
    if spec is not None:
        from ..openapi.load import templates_from_file  # noqa: PLC0415 - YAML, only for --spec
        from ..registry import Registry  # noqa: PLC0415

        return Registry(templates_from_file(Path(spec)))
    if manager is None or manager is get_plugin_manager():
        return get_plugins().registry
    return Plugins(manager).registry


def signers(manager: pluggy.PluginManager | None = None) -> dict[str, SignerFactory]:
    """Signer factories by credentials type, as the plugins registered them."""
    return Plugins(manager or get_plugin_manager()).signers()


def _collect_templates(manager: pluggy.PluginManager) -> list[tuple[str, TaskTemplate]]:
    """Every plugin's templates, each with the name of the plugin that registered it."""
    found: list[tuple[str, TaskTemplate]] = []
    for impl in reversed(manager.hook.register_templates.get_hookimpls()):  # pluggy's call order
        if impl.hookwrapper or impl.wrapper:
            continue
        impl.function(register=lambda template, name=impl.plugin_name: found.append((name, template)))
    return found


def _same(before: list[object], now: list[object]) -> bool:
    return len(before) == len(now) and all(a is b for a, b in zip(before, now, strict=True))
