"""The host contract: the hooks a plugin may implement.

A plugin is a module or object with functions marked ``@hookimpl`` (from
:mod:`http_task_kms`), registered through the ``http_task_kms`` entry-point group. The
KMS support itself is such a plugin (:mod:`http_task_kms.kms.plugin`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..auth.sigv4 import SignerFactory
    from ..client import Client
    from ..prepare import PreparedRequest
    from ..result import TestRequestResult
    from ..template import TaskTemplate
    from .types import Check, RequestContext

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "http_task_kms"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_templates(register: Callable[[TaskTemplate], None]) -> None:
    """Add task templates: call ``register(template)`` once for each.

    Ids must be unique; registering an id twice is an error naming both plugins.
    """


@hookspec
def register_signers(register: Callable[[str, SignerFactory], None]) -> None:
    """Add request signers: call ``register(credentials_type, factory)``, e.g. ``"aws-sigv4"``.

    ``factory(profile=...)`` is called when a request first needs that credentials type.
    """


@hookspec
def check_request(context: RequestContext) -> list[Check] | None:
    """Inspect a rendered request before it is signed and sent.

    Return findings (or None). A finding of severity ``ERROR`` stops the request: nothing
    is sent and the result lists it among ``error.problems``; other severities are
    reported in the result's ``warnings``. ``context.template`` is the template the
    request was matched to (by its ``X-Amz-Target``), or None.
    """


@hookspec(firstresult=True)
def send_request(request: PreparedRequest, client: Client) -> TestRequestResult | None:
    """Take over sending a checked request, or return None to let the host send it.

    The first plugin that returns a result wins. A plugin uses ``client.send(request)`` to
    send it and ``client.call(template_id, body, like=request)`` for any other operation of
    the same service at the same endpoint (the KMS plugin reads and backs up the current
    key policy this way before PutKeyPolicy). Extra result fields go in ``result.extra``.
    """
