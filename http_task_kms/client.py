"""The Python API behind the CLI: prepare, render (dry run) and send Test requests.

>>> client = Client(Options(region="us-east-1"))
>>> result = client.test_request("kms.PutKeyPolicy", {"KeyId": "…", "Policy": {...}})

A :class:`Client` resolves credentials once, keeps one HTTP session, and compiles each
template once; use one for many requests.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import pluggy

from . import endpoints, redact
from .endpoints import Endpoint
from .errors import CredentialsError, CredentialsNotFound, Problem, RequestValidationError
from .identity import CallerIdentity
from .plugins import Registry, get_plugin_manager, get_registry, signers
from .prepare import CompiledTask, Options, PreparedRequest, compile_task, compiled_for, prepare
from .result import TestRequestResult, shown_request, validation_failure
from .signing import AwsCredentials, Signer
from .task import HttpTask
from .transport import AttemptPolicy, Outgoing, Transport

__all__ = ["Client"]


class Client:
    """Prepares, signs and sends Test requests; one per process is plenty."""

    def __init__(
        self,
        options: Options | None = None,
        *,
        spec: str | None = None,
        manager: pluggy.PluginManager | None = None,
        transport: Transport | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.options = options or Options()
        self.manager = manager or get_plugin_manager()
        self.registry: Registry = get_registry(spec, manager=self.manager)
        self.transport = transport or Transport()
        self._signer = signer
        self._credentials = AwsCredentials(profile=self.options.profile)
        self.identity = CallerIdentity(self.options, self.transport, lambda: self.signer)
        redact.install_log_filter()  # botocore logs the canonical request (with the token) at DEBUG
        sts_url = self.options.plugin_options.get("sts_endpoint_url")
        if sts_url:
            problems = endpoints.check_endpoint_url(
                str(sts_url), allow_insecure=self.options.allow_insecure_endpoint, field="sts-endpoint-url"
            )
            if problems:
                raise RequestValidationError(problems)

    @property
    def signer(self) -> Signer:
        """The ``aws-sigv4`` signer (created on first use)."""
        if self._signer is None:
            self._signer = signers(self.manager)["aws-sigv4"](profile=self.options.profile)
        return self._signer

    def _default_region(self) -> str | None:
        try:
            return self._credentials.region()
        except CredentialsError:
            return None

    # -- preparing -------------------------------------------------------------------------
    def prepare(self, compiled: CompiledTask, params: Any, *, dry_run: bool = False) -> PreparedRequest:
        """Render and check; raises :class:`RequestValidationError` listing every problem.

        ``dry_run`` (``render``): nothing is sent, not even ``sts:GetCallerIdentity``; the
        lockout check then runs only with the ``caller_arn`` option.
        """
        return prepare(
            compiled,
            params,
            options=self.options,
            manager=self.manager,
            template_for=self.registry.by_target,
            default_region=self._default_region,
            caller_arn=functools.partial(self.caller_arn, look_up=not dry_run),
            dry_run=dry_run,
            caller_problem=lambda: self.identity.last_error,
        )

    def compiled_template(self, template_id: str) -> CompiledTask:
        """The template's task, compiled once."""
        return compiled_for(self.registry.get(template_id))

    # -- running ---------------------------------------------------------------------------
    def policy(self, task: HttpTask) -> AttemptPolicy:
        """Attempts and timeouts: the task's settings, overridden by the options."""
        retry = task.retry
        return AttemptPolicy(
            max_attempts=self.options.max_attempts or (retry.maxAttempts if retry else 3),
            interval_seconds=retry.intervalSeconds if retry else 1.0,
            backoff_rate=retry.backoffRate if retry else 2.0,
            connect_timeout=self.options.connect_timeout or task.connectionTimeoutSeconds,
            read_timeout=self.options.read_timeout or task.readTimeoutSeconds,
        )

    @staticmethod
    def outgoing(prepared: PreparedRequest) -> Outgoing:
        """What the transport sends for a prepared request."""
        template = prepared.template
        retryable = frozenset(e.code for e in template.errors if e.retryable) if template else frozenset()
        return Outgoing(
            method=prepared.method,
            url=prepared.url,
            headers=prepared.headers,
            body=prepared.body_bytes,
            shown_body=prepared.body,
            service=prepared.signing_name,
            region=prepared.endpoint.region,
            retryable_codes=retryable,
        )

    def render(self, prepared: PreparedRequest) -> TestRequestResult:
        """A dry run: the request signed as it would be sent, secrets redacted; nothing is sent.

        Without any credentials configured the request is shown unsigned; credentials that
        are configured but fail (a credential_process printing junk, a failed refresh) raise
        :class:`CredentialsError`, as sending would.
        """
        out = self.outgoing(prepared)
        try:
            headers = self.signer.sign(
                out.method, out.url, out.headers, out.body, service=out.service, region=out.region
            )
            signed = True
        except CredentialsNotFound:
            headers, signed = dict(out.headers), False
        result = TestRequestResult(
            ok=True,
            attempts=0,
            request=shown_request(out.method, out.url, headers, out.shown_body, signed=signed),
        )
        result.warnings = [w.model_dump() for w in prepared.warnings]
        return result

    def send(self, prepared: PreparedRequest) -> TestRequestResult:
        """Sign and send with the task's retries and timeouts."""
        result = self.transport.send(self.outgoing(prepared), self.signer, self.policy(prepared.task))
        result.warnings = [w.model_dump() for w in prepared.warnings]
        return result

    def test_request(self, template_id: str, params: Any) -> TestRequestResult:
        """Prepare and send one request from a template (a ValidationError result if refused)."""
        return self.test_compiled(self.compiled_template(template_id), params)

    def test_task(self, task: HttpTask, params: Any) -> TestRequestResult:
        """Prepare and send a builder Http task exactly as configured."""
        return self.test_compiled(compile_task(task), params)

    def test_compiled(self, compiled: CompiledTask, params: Any) -> TestRequestResult:
        """Prepare and send a compiled task (a ValidationError result if refused)."""
        try:
            prepared = self.prepare(compiled, params)
        except RequestValidationError as exc:
            return validation_failure(exc.problems)
        taken: TestRequestResult | None = self.manager.hook.send_request(request=prepared, client=self)
        return taken if taken is not None else self.send(prepared)

    def call(self, template_id: str, body: Mapping[str, Any], *, like: PreparedRequest) -> TestRequestResult:
        """Send another operation of the same service to the same endpoint (e.g. GetKeyPolicy).

        Used by plugins before the main request; the body is validated by its template.
        """
        template = self.registry.get(template_id)
        compiled = compiled_for(template)
        params = {**body, "region": like.endpoint.region}
        options = self.options.model_copy(
            update={"endpoint_url": like.endpoint.url if like.endpoint.custom else None}
        )
        prepared = prepare(
            compiled, params, options=options, manager=self.manager, template_for=self.registry.by_target
        )
        return self.send(prepared)

    # -- identity --------------------------------------------------------------------------
    def caller_arn(self, endpoint: Endpoint | None = None, *, look_up: bool = True) -> str | None:
        """The caller's ARN: the ``caller_arn`` option, else ``sts:GetCallerIdentity``.

        ``endpoint`` chooses the STS endpoint (the request's Region and partition); without
        it, the client's Region is used. ``look_up=False`` (a dry run) sends nothing.
        """
        given = self.options.plugin_options.get("caller_arn")
        if given or not look_up:
            return str(given) if given else None
        if endpoint is None:
            region = self.options.region or self._default_region() or "us-east-1"
            found = (
                endpoints.custom_endpoint(self.options.endpoint_url, region)
                if self.options.endpoint_url
                else endpoints.resolve_endpoint("sts", region, service="sts")
            )
            if isinstance(found, Problem):
                return None
            endpoint = found
        return self.identity.arn(endpoint)
