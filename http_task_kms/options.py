"""The operator's choices for a run (command-line flags, or the host API's arguments)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Options"]


class Options(BaseModel):
    """Command-line choices that shape a request (all optional; trusted: they are the operator's).

    ``plugin_options`` holds the values of options that plugins add (``register_commands``),
    by parameter name; plugins read them from their hooks' context and session.
    """

    model_config = ConfigDict(frozen=True)

    region: str | None = None
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    fips: bool = False
    dual_stack: bool = False
    profile: str | None = None
    allow_insecure_endpoint: bool = False
    allow_unknown_operation: bool = False
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_attempts: int | None = None
    plugin_options: dict[str, Any] = {}
