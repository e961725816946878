"""The Python API behind the CLI: prepare, render (dry run) and send Test requests.

>>> client = Client(Options(region="us-east-1"))
>>> result = client.test_request("kms.PutKeyPolicy", {"KeyId": "…", "Policy": {...}})

A :class:`Client` resolves credentials once, keeps one HTTP session, and compiles each
template once; use one for many requests. Keys come only from the operator (``--profile``
or the environment); every signature is made for a destination the operator allows
(:mod:`http_task_kms.destinations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

from . import endpoints, redact
from .auth.sigv4 import AwsCredentials, Signer
from .destinations import GuardedSigner, OperatorEndpoints
from .endpoints import Endpoint
from .errors import CredentialsError, CredentialsNotFound, PreflightFailed, Problem, RequestValidationError
from .identity import CallerIdentity
from .plugins.manager import Registry, get_plugin_manager, get_registry, signers
from .prepare import CompiledTask, Host, Options, PreparedRequest, compile_task, compiled_for, prepare
from .result import TestRequestResult, preflight_failure, shown_request, validation_failure
from .task import HttpTask
from .template import TaskTemplate
from .transport import AttemptPolicy, Outgoing, Transport
from .wire import Operations

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
        # Operations are matched by what goes on the wire: the plugins' and the --spec document's.
        plugins = self.registry if spec is None else get_registry(manager=self.manager)
        self.operations = Operations(plugins, preferred=self.registry if spec is not None else ())
        self.transport = transport or Transport()
        self._credentials = AwsCredentials(profile=self.options.profile)
        self._signers: dict[str, Signer] = {}
        if signer is not None:
            self._signers["aws-sigv4"] = signer
        self.endpoints = OperatorEndpoints(
            endpoint_url=self.options.endpoint_url,
            sts_endpoint_url=self.options.plugin_options.get("sts_endpoint_url"),
            fips=self.options.fips,
            dual_stack=self.options.dual_stack,
            session=self._session,
        )
        self.identity = CallerIdentity(self.endpoints, self.transport, lambda: self.signer)
        redact.install_log_filter()  # botocore logs the canonical request (with the token) at DEBUG
        sts_url = self.options.plugin_options.get("sts_endpoint_url")
        if sts_url:
            problems = endpoints.check_endpoint_url(
                str(sts_url), allow_insecure=self.options.allow_insecure_endpoint, field="sts-endpoint-url"
            )
            if problems:
                raise RequestValidationError(problems)

    def _session(self) -> Any:
        try:
            return self._credentials.session
        except CredentialsError:
            return None

    def signer_for(self, credentials_type: str) -> Signer:
        """The signer of a credentials type (created on first use), guarded by the operator's endpoints."""
        if credentials_type not in self._signers:
            factories = signers(self.manager)
            if credentials_type not in factories:
                known = ", ".join(sorted(factories)) or "none"
                raise RequestValidationError(
                    [
                        Problem(
                            field="credentials",
                            message=f"no signer for type {credentials_type!r} (registered: {known})",
                        )
                    ]
                )
            self._signers[credentials_type] = factories[credentials_type](profile=self.options.profile)
        return GuardedSigner(self._signers[credentials_type], self.endpoints)

    @property
    def signer(self) -> Signer:
        """The ``aws-sigv4`` signer (created on first use)."""
        return self.signer_for("aws-sigv4")

    def _default_region(self) -> str | None:
        try:
            return self._credentials.region()
        except CredentialsError:
            return None

    # -- preparing -------------------------------------------------------------------------
    def host(self, *, dry_run: bool = False) -> Host:
        """What :func:`~http_task_kms.prepare.prepare` needs from this client."""
        look_up = not dry_run
        return Host(
            manager=self.manager,
            operations=self.operations,
            operator=self.endpoints,
            default_region=self._default_region,
            caller_arn=lambda endpoint: self.caller_arn(endpoint, look_up=look_up),
            caller_problem=lambda: self.identity.last_error,
        )

    def prepare(self, compiled: CompiledTask, params: Any, *, dry_run: bool = False) -> PreparedRequest:
        """Render and check; raises :class:`RequestValidationError` listing every problem.

        ``dry_run`` (``render``): nothing is sent, not even ``sts:GetCallerIdentity``; the
        lockout check then runs only with the ``caller_arn`` option. Otherwise a failed caller
        lookup raises :class:`~http_task_kms.errors.PreflightFailed`.
        """
        return prepare(
            compiled, params, options=self.options, host=self.host(dry_run=dry_run), dry_run=dry_run
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
            headers = self.signer_for(prepared.credentials_type).sign(
                out.method, out.url, out.headers, out.body, service=out.service, region=out.region
            )
            signed = True
        except CredentialsNotFound:
            headers, signed = dict(out.headers), False
        shown = shown_request(
            out.method, out.url, headers, out.shown_body, signed=signed, credentials=prepared.credentials
        )
        result = TestRequestResult(ok=True, attempts=0, request=shown)
        result.warnings = [w.model_dump() for w in prepared.warnings]
        return result

    def send(self, prepared: PreparedRequest) -> TestRequestResult:
        """Sign and send with the task's retries and timeouts."""
        signer = self.signer_for(prepared.credentials_type)
        result = self.transport.send(self.outgoing(prepared), signer, self.policy(prepared.task))
        result.warnings = [w.model_dump() for w in prepared.warnings]
        if result.request is not None:
            result.request.credentials = prepared.credentials
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
            taken: TestRequestResult | None = self.manager.hook.send_request(request=prepared, client=self)
            return taken if taken is not None else self.send(prepared)
        except RequestValidationError as exc:
            return validation_failure(exc.problems)
        except PreflightFailed as exc:
            return preflight_failure(exc)

    def call(
        self, template: TaskTemplate | str, body: Mapping[str, Any], *, like: PreparedRequest
    ) -> TestRequestResult:
        """Send another operation of the same service to the same endpoint (e.g. GetKeyPolicy).

        ``template`` is a :class:`~http_task_kms.template.TaskTemplate` (a plugin passes its
        own, never one looked up by id in a ``--spec`` registry) or a template id. Used by
        plugins before the main request; the body is validated by that template.
        """
        chosen = self.registry.get(template) if isinstance(template, str) else template
        params = {**body, "region": like.endpoint.region}
        at = like.endpoint if like.endpoint.custom else None
        prepared = prepare(compiled_for(chosen), params, options=self.options, host=self.host(), at=at)
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
            found = endpoints.resolve_endpoint("sts", region, service="sts")
            if isinstance(found, Problem):
                return None
            endpoint = found
        return self.identity.arn(endpoint)
