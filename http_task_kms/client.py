"""The Python API behind the CLI: dry runs and Test requests, one flow for both.

>>> client = Client(Options(region="us-east-1"))
>>> result = client.test_request("<service>.<Operation>", {"Member": "…"})

One request flows one way: prepare (render and check, pure) → preflight (the plugins fetch
the facts their checks need, through a narrow session: the only I/O before sending) →
check again with those facts → sign → send (or a plugin takes the send over) → result.
A :class:`Client` resolves credentials once, keeps one HTTP session and one caller-identity
cache, and its registry compiles each template once; use one for many requests. Keys come
only from the operator (``--profile`` or the environment); every signature is made for a
destination the operator allows (:mod:`http_task_kms.destinations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import endpoints
from .auth import AWS_SIGV4, sigv4_signer
from .auth.sigv4 import AwsCredentials, SigV4Signer
from .destinations import GuardedSigner, OperatorEndpoints
from .endpoints import Endpoint
from .errors import CredentialsError, CredentialsNotFound, PreflightFailed, Problem, RequestValidationError
from .identity import CallerIdentity
from .options import Options
from .plugins.manager import Plugins, get_plugins, get_registry
from .plugins.types import PreparedRequest, Signer
from .prepare import Host, prepare, recheck
from .registry import Registry
from .render import CompiledTask, compile_task
from .result import TestRequestResult, preflight_failure, shown_request, validation_failure
from .session import RequestSession
from .task import HttpTask
from .template import TaskTemplate
from .transport import Attempts, Outgoing, Transport
from .wire import Operations

__all__ = ["Client"]


class Client:
    """Prepares, signs and sends Test requests; one per process is plenty."""

    def __init__(
        self,
        options: Options | None = None,
        *,
        spec: str | None = None,
        plugins: Plugins | None = None,
        transport: Transport | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.options = options or Options()
        self.plugins = plugins or get_plugins()
        self.manager = self.plugins.manager
        plugin_registry = self.plugins.registry
        self.registry: Registry = plugin_registry if spec is None else get_registry(spec)
        # Operations are matched by what goes on the wire: the plugins' and the --spec document's.
        preferred = self.registry if spec is not None else ()
        self.operations = Operations(plugin_registry, preferred=preferred)
        self.transport = transport or Transport()
        self._credentials = AwsCredentials(profile=self.options.profile)
        self._signers: dict[str, Signer] = {} if signer is None else {AWS_SIGV4: signer}
        self.endpoints = OperatorEndpoints(
            endpoint_url=self.options.endpoint_url,
            sts_endpoint_url=self.options.sts_endpoint_url,
            fips=self.options.fips,
            dual_stack=self.options.dual_stack,
            session=self._session,
        )
        self.identity = CallerIdentity(self.endpoints, self.transport, lambda: self.signer)
        self._check_sts_endpoint()

    def _check_sts_endpoint(self) -> None:
        if self.options.sts_endpoint_url:
            problems = endpoints.check_endpoint_url(
                self.options.sts_endpoint_url,
                allow_insecure=self.options.allow_insecure_endpoint,
                field="sts-endpoint-url",
            )
            if problems:
                raise RequestValidationError(problems)

    def _session(self) -> Any:
        try:
            return self._credentials.session
        except CredentialsError:
            return None

    def _default_region(self) -> str | None:
        try:
            return self._credentials.region()
        except CredentialsError:
            return None

    # -- signers ---------------------------------------------------------------------------
    def signer_for(self, credentials_type: str) -> Signer:
        """The signer of a credentials type (created on first use), guarded by the operator's endpoints."""
        if credentials_type not in self._signers:
            factories = self.plugins.signers()
            if credentials_type not in factories:
                known = ", ".join(sorted(factories)) or "none"
                message = f"no signer for type {credentials_type!r} (registered: {known})"
                raise RequestValidationError([Problem(field="credentials", message=message)])
            factory = factories[credentials_type]
            if factory is sigv4_signer:  # the core's own: one credential chain and botocore session
                self._signers[credentials_type] = SigV4Signer(self._credentials)
            else:
                self._signers[credentials_type] = factory(profile=self.options.profile)
        return GuardedSigner(self._signers[credentials_type], self.endpoints)

    @property
    def signer(self) -> Signer:
        """The ``aws-sigv4`` signer (created on first use)."""
        return self.signer_for(AWS_SIGV4)

    # -- preparing -------------------------------------------------------------------------
    @property
    def host(self) -> Host:
        """What :func:`~http_task_kms.prepare.prepare` needs from this client."""
        return Host(
            manager=self.manager,
            registry=self.registry,
            operations=self.operations,
            operator=self.endpoints,
            default_region=self._default_region,
        )

    def compiled_template(self, template_id: str) -> CompiledTask:
        """The template's task, compiled once."""
        return self.registry.compiled(self.registry.get(template_id))

    def prepare(self, compiled: CompiledTask, params: Any, *, dry_run: bool = False) -> PreparedRequest:
        """Everything before signing: render and check, preflight, check again with its facts.

        Raises :class:`RequestValidationError` listing every problem, or
        :class:`~http_task_kms.errors.PreflightFailed` when a call the preflight made failed.
        ``dry_run`` (``render``): the preflight sends nothing.
        """
        prepared = prepare(compiled, params, options=self.options, host=self.host, dry_run=dry_run)
        prepared.facts = self.preflight(prepared, self.session_for(prepared, dry_run=dry_run))
        return prepared

    def session_for(self, request: PreparedRequest, *, dry_run: bool = False) -> RequestSession:
        """The narrow session the plugins get for ``request``."""
        return RequestSession(
            request,
            options=self.options.plugin_options,
            dry_run=dry_run,
            send=self.send,
            prepare=self._prepare_call,
            identity=self.identity.arn,
        )

    def _prepare_call(self, template: TaskTemplate, body: Mapping[str, Any], at: Endpoint) -> PreparedRequest:
        params = {**body, "region": at.region}
        where = at if at.custom else None
        return prepare(
            self.registry.compiled(template), params, options=self.options, host=self.host, at=where
        )

    def preflight(self, request: PreparedRequest, session: RequestSession) -> dict[str, Any]:
        """The plugins' preflight, then their checks again with the facts it found."""
        facts: dict[str, Any] = {}
        for found in self.manager.hook.preflight(request=request, session=session):
            facts.update(found or {})
        recheck(request, facts, options=self.options, manager=self.manager, dry_run=session.dry_run)
        return facts

    # -- running ---------------------------------------------------------------------------
    def attempts_for(self, task: HttpTask) -> Attempts:
        """Attempts and timeouts: the task's settings, overridden by the options."""
        retry, defaults = task.retry, Attempts()
        return Attempts(
            max_attempts=self.options.max_attempts or (retry.maxAttempts if retry else defaults.max_attempts),
            interval_seconds=retry.intervalSeconds if retry else defaults.interval_seconds,
            backoff_rate=retry.backoffRate if retry else defaults.backoff_rate,
            connect_timeout=self.options.connect_timeout or task.connectionTimeoutSeconds,
            read_timeout=self.options.read_timeout or task.readTimeoutSeconds,
        )

    @staticmethod
    def outgoing(prepared: PreparedRequest) -> Outgoing:
        """What the transport sends for a prepared request."""
        template = prepared.template
        retryable = template.retryable_codes if template else frozenset()
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
        """The request signed as it would be sent, secrets redacted; nothing is sent."""
        out = self.outgoing(prepared)
        try:
            headers = self.signer_for(prepared.credentials_type).sign(
                out.method, out.url, out.headers, out.body, service=out.service, region=out.region
            )
            signed = True
        except CredentialsNotFound:  # none configured: show it unsigned (a broken helper is an error)
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
        result = self.transport.send(self.outgoing(prepared), signer, self.attempts_for(prepared.task))
        result.warnings = [w.model_dump() for w in prepared.warnings]
        if result.request is not None:
            result.request.credentials = prepared.credentials
        return result

    def compile(self, template_or_task: str | TaskTemplate | HttpTask) -> CompiledTask:
        """A template (by id or object) or a builder Http task, compiled."""
        if isinstance(template_or_task, HttpTask):
            return compile_task(template_or_task)
        if isinstance(template_or_task, TaskTemplate):
            return self.registry.compiled(template_or_task)
        return self.compiled_template(template_or_task)

    def dry_run(
        self, template_or_task: str | TaskTemplate | HttpTask | CompiledTask, params: Any
    ) -> TestRequestResult:
        """``render``: every check, the request signed as it would be sent; nothing is sent."""
        compiled = (
            template_or_task if isinstance(template_or_task, CompiledTask) else self.compile(template_or_task)
        )
        try:
            return self.render(self.prepare(compiled, params, dry_run=True))
        except RequestValidationError as exc:
            return validation_failure(exc.problems, warnings=exc.warnings)

    def test_request(
        self, template_or_task: str | TaskTemplate | HttpTask | CompiledTask, params: Any
    ) -> TestRequestResult:
        """Prepare, preflight, check and send one request (a ValidationError result if refused)."""
        compiled = (
            template_or_task if isinstance(template_or_task, CompiledTask) else self.compile(template_or_task)
        )
        try:
            prepared = self.prepare(compiled, params)
            session = self.session_for(prepared)
            taken = self.manager.hook.send_request(request=prepared, session=session, facts=prepared.facts)
            return taken if taken is not None else self.send(prepared)
        except RequestValidationError as exc:
            return validation_failure(exc.problems, warnings=exc.warnings)
        except PreflightFailed as exc:
            return preflight_failure(exc)

    def test_task(self, task: HttpTask, params: Any) -> TestRequestResult:
        """Prepare and send a builder Http task exactly as configured."""
        return self.test_request(task, params)

    def test_compiled(self, compiled: CompiledTask, params: Any) -> TestRequestResult:
        """Prepare and send a compiled task (a ValidationError result if refused)."""
        return self.test_request(compiled, params)

    # -- identity --------------------------------------------------------------------------
    def caller_arn(self, endpoint: Endpoint | None = None) -> str:
        """The caller's ARN (``sts:GetCallerIdentity`` for ``endpoint``'s Region and partition).

        Raises :class:`~http_task_kms.errors.CredentialsError` without credentials and
        :class:`~http_task_kms.errors.PreflightFailed` when STS fails.
        """
        if endpoint is None:
            region = self.options.region or self._default_region() or "us-east-1"
            found = endpoints.resolve_endpoint("sts", region, service="sts")
            if isinstance(found, Problem):
                raise PreflightFailed(step="GetCallerIdentity", code="NoEndpoint", message=found.message)
            endpoint = found
        return self.identity.arn(endpoint)
