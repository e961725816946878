"""The plugin contract: hooks, entry-point discovery, the registry, and the KMS plugin itself."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest
from click.testing import CliRunner
from conftest import ACCOUNT, KEY_ID, policy_for, signer_for
from faultserver import FaultServer, ok, verify_sigv4

import http_task_kms.kms.plugin as kms_plugin
from http_task_kms import (
    Client,
    Options,
    RequestValidationError,
    TaskTemplate,
    TestRequestResult,
    hookimpl,
)
from http_task_kms.cli import main
from http_task_kms.openapi.load import templates_from_document
from http_task_kms.plugins import hookspecs
from http_task_kms.plugins.manager import get_plugin_manager, get_registry, signers
from http_task_kms.plugins.types import Check, PreparedRequest, RequestContext

CALLER = f"arn:aws:iam::{ACCOUNT}:user/x"
# Plugins registered by these tests stay referenced for the whole session: get_registry()
# caches by the id() of each registered plugin, and a freed plugin's id may be reused.
KEEP_ALIVE: list[Any] = []


def gadgets_document(service: str = "gadgets") -> dict[str, Any]:
    """The smallest document in the AWS JSON convention: one operation with one member."""
    target = f"GadgetService.{service.title()}Ping"
    return {
        "openapi": "3.0.3",
        "info": {"title": service, "version": "1", "x-serviceName": service},
        "servers": [{"url": f"https://{service}.{{region}}.amazonaws.com"}],
        "paths": {
            f"/#X-Amz-Target={target}": {
                "post": {
                    "operationId": "Ping",
                    "description": "<p>Checks that the <b>gadget</b> answers.</p>",
                    "parameters": [
                        {
                            "name": "X-Amz-Target",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "enum": [target]},
                        },
                    ],
                    "requestBody": {
                        "content": {
                            "application/x-amz-json-1.1": {
                                "schema": {"$ref": "#/components/schemas/PingRequest"}
                            }
                        }
                    },
                    "responses": {"200": {"description": "Success"}},
                }
            }
        },
        "components": {
            "schemas": {
                "PingRequest": {
                    "type": "object",
                    "required": ["Message"],
                    "properties": {"Message": {"type": "string", "maxLength": 10}},
                }
            }
        },
    }


class TemplatePlugin:
    """An inline plugin that registers the given templates."""

    def __init__(self, templates: list[TaskTemplate]) -> None:
        self.templates = templates

    @hookimpl
    def register_templates(self, register: Callable[[TaskTemplate], None]) -> None:
        for template in self.templates:
            register(template)


@pytest.fixture
def registered() -> Iterator[Callable[..., Any]]:
    """Register plugins on the process-wide manager; every one is unregistered afterwards."""
    manager = get_plugin_manager()
    added: list[Any] = []

    def register(plugin: Any, name: str | None = None) -> Any:
        manager.register(plugin, name=name)
        added.append(plugin)
        KEEP_ALIVE.append(plugin)
        return plugin

    try:
        yield register
    finally:
        for plugin in added:
            if manager.is_registered(plugin):
                manager.unregister(plugin)


@pytest.fixture
def client() -> Client:
    """A us-east-1 client on the process-wide manager (no STS call, fixed signing credentials)."""
    return Client(
        Options(region="us-east-1", plugin_options={"caller_arn": CALLER}),
        signer=signer_for("AKIDEXAMPLE", "secretvalue"),
    )


# -- register_templates -----------------------------------------------------------------------


def test_hook_register_templates() -> None:
    # An inline plugin adds a template: it appears in the registry and in `templates --json`.
    manager = get_plugin_manager()
    plugin = TemplatePlugin(templates_from_document(gadgets_document()))
    KEEP_ALIVE.append(plugin)
    before = {t.id for t in get_registry()}
    assert "gadgets.Ping" not in before
    manager.register(plugin, name="gadgets-inline")
    try:
        registry = get_registry()
        assert {t.id for t in registry} == before | {"gadgets.Ping"}
        assert registry.get("gadgets.Ping").headers == {
            "X-Amz-Target": "GadgetService.GadgetsPing",
            "Content-Type": "application/x-amz-json-1.1",
        }
        assert registry.by_target("GadgetService.GadgetsPing") is registry.get("gadgets.Ping")
        result = CliRunner().invoke(main, ["templates", "--json"])
        assert result.exit_code == 0, result.output
        listed = json.loads(result.stdout)
        assert {"id": "gadgets.Ping", "title": "Ping", "summary": "Checks that the gadget answers."} in listed
        assert len(listed) == len(before) + 1
    finally:
        manager.unregister(plugin)
    assert "gadgets.Ping" not in {t.id for t in get_registry()}


def test_registering_the_same_template_id_twice_is_an_error(registered: Callable[..., Any]) -> None:
    templates = templates_from_document(gadgets_document("twice"))
    registered(TemplatePlugin(templates), name="first-plugin")
    registered(TemplatePlugin(templates), name="second-plugin")
    with pytest.raises(ValueError, match=r"'twice\.Ping' registered twice") as caught:
        get_registry()
    # hookspecs.register_templates: "registering an id twice is an error naming both plugins"
    assert "first-plugin" in str(caught.value)
    assert "second-plugin" in str(caught.value)


def test_duplicate_of_a_kms_template_is_an_error(registered: Callable[..., Any]) -> None:
    duplicate = get_registry().get("kms.PutKeyPolicy").model_copy()
    registered(TemplatePlugin([duplicate]), name="kms-copy")
    with pytest.raises(ValueError, match=r"'kms\.PutKeyPolicy' registered twice"):
        get_registry()


# -- entry points -----------------------------------------------------------------------------


def test_kms_plugin_is_discovered_through_its_entry_point() -> None:
    found = importlib.metadata.entry_points(group="http_task_kms")
    assert ("kms", "http_task_kms.kms.plugin") in {(ep.name, ep.value) for ep in found}
    manager = get_plugin_manager()
    assert kms_plugin in manager.get_plugins()
    assert manager.get_name(kms_plugin) == "kms"
    assert manager.get_plugin("kms") is kms_plugin
    assert get_plugin_manager() is manager  # created once


PLUGIN_MODULE = '''
"""A third-party plugin, installed as its own distribution."""
import json

from http_task_kms import hookimpl, templates_from_document

DOCUMENT = json.loads({document!r})


@hookimpl
def register_templates(register):
    for template in templates_from_document(DOCUMENT):
        register(template)
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution on sys.path whose http_task_kms entry point is a module written here."""
    site = tmp_path / "site"
    site.mkdir()
    module = "tmp_sprockets_plugin"
    (site / f"{module}.py").write_text(
        textwrap.dedent(PLUGIN_MODULE).format(document=json.dumps(gadgets_document("sprockets"))),
        encoding="utf-8",
    )
    dist = site / "tmp_sprockets_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tmp-sprockets-plugin\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text(f"[http_task_kms]\nsprockets = {module}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    try:
        yield module
    finally:
        sys.modules.pop(module, None)


def test_entry_point_plugin_is_discovered(installed_plugin: str) -> None:
    names = {(ep.name, ep.value) for ep in importlib.metadata.entry_points(group="http_task_kms")}
    assert ("sprockets", installed_plugin) in names
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    loaded = manager.load_setuptools_entrypoints(hookspecs.PROJECT)
    assert loaded >= 2  # the KMS plugin and this one
    assert manager.get_plugin("sprockets") is sys.modules[installed_plugin]
    registry = get_registry(manager=manager)
    assert registry.get("sprockets.Ping").service == "sprockets"
    assert registry.get("kms.PutKeyPolicy").operation == "PutKeyPolicy"
    # the process-wide manager was loaded before: it does not pick the new plugin up
    assert "sprockets.Ping" not in {t.id for t in get_registry()}


# -- check_request ----------------------------------------------------------------------------


class PolicyGuard:
    """A check_request plugin: refuses one key, warns about another."""

    def __init__(self) -> None:
        self.seen: list[RequestContext] = []

    @hookimpl
    def check_request(self, context: RequestContext) -> list[Check] | None:
        self.seen.append(context)
        if context.facts is not None or context.target != "TrentService.PutKeyPolicy":
            return None  # a check of what the request says: the first pass
        key_id = context.body.get("KeyId") if isinstance(context.body, Mapping) else None
        if key_id == KEY_ID:
            return [Check(severity="ERROR", code="FROZEN_KEY", field="KeyId", message="this key is frozen")]
        return [
            Check(
                severity="WARNING",
                code="CHANGE_WINDOW",
                field="Policy",
                message="outside the change window",
                path="$.Statement[0]",
            )
        ]


def test_hook_check_request(registered: Callable[..., Any], client: Client) -> None:
    guard = registered(PolicyGuard(), name="policy-guard")
    compiled = client.compiled_template("kms.PutKeyPolicy")
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(compiled, {"KeyId": KEY_ID, "Policy": policy_for(CALLER)})
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("KeyId", "this key is frozen [FROZEN_KEY]")
    ]
    context = guard.seen[-1]
    assert context.template is not None
    assert context.template.id == "kms.PutKeyPolicy"
    assert (context.signing_name, context.target) == ("kms", "TrentService.PutKeyPolicy")
    assert context.body["PolicyName"] == "default"
    assert isinstance(context.body["Policy"], str)  # the rendered, completed body
    assert context.endpoint is not None
    assert context.endpoint.region == "us-east-1"
    assert context.options == {"caller_arn": CALLER}
    assert context.facts is None  # the first pass: only what the request says

    other_key = "0987dcba-09ab-87cd-65ef-0987654321ab"
    prepared = client.prepare(compiled, {"KeyId": other_key, "Policy": policy_for(CALLER)})
    result = client.render(prepared)
    assert result.ok is True
    assert result.warnings == [
        {
            "severity": "WARNING",
            "code": "CHANGE_WINDOW",
            "field": "Policy",
            "message": "outside the change window",
            "path": "$.Statement[0]",
        }
    ]
    assert result.to_json()["warnings"] == result.warnings


class FactFinder:
    """A preflight plugin: fetches a fact, and refuses in the second pass when it says so."""

    def __init__(self, frozen: bool) -> None:
        self.frozen = frozen
        self.contexts: list[RequestContext] = []
        self.sessions: list[Any] = []

    @hookimpl
    def preflight(self, request: PreparedRequest, session: Any) -> Mapping[str, Any] | None:
        self.sessions.append(session)
        return {"finder.frozen": self.frozen, "finder.dry_run": session.dry_run}

    @hookimpl
    def check_request(self, context: RequestContext) -> list[Check] | None:
        self.contexts.append(context)
        if context.facts is None or not context.facts.get("finder.frozen"):
            return None
        return [Check(severity="ERROR", code="KEY_FROZEN", field="KeyId", message="frozen by a fact")]


def test_hook_preflight(registered: Callable[..., Any], client: Client) -> None:
    finder = registered(FactFinder(frozen=True), name="fact-finder")
    compiled = client.compiled_template("kms.PutKeyPolicy")
    with pytest.raises(RequestValidationError) as caught:
        client.prepare(compiled, {"KeyId": KEY_ID, "Policy": policy_for(CALLER)})
    assert [p.message for p in caught.value.problems] == ["frozen by a fact [KEY_FROZEN]"]
    first, second = finder.contexts[-2:]
    assert first.facts is None
    assert second.facts is not None
    assert second.facts["finder.frozen"] is True
    assert second.facts["kms.caller"] == CALLER  # the KMS plugin's fact, from --caller-arn
    [session] = finder.sessions
    assert session.dry_run is False
    assert session.options == {"caller_arn": CALLER}


def test_preflight_runs_only_for_a_request_without_errors(
    registered: Callable[..., Any], client: Client
) -> None:
    finder = registered(FactFinder(frozen=False), name="fact-finder")
    with pytest.raises(RequestValidationError):
        client.prepare(
            client.compiled_template("kms.PutKeyPolicy"),
            {"KeyId": KEY_ID, "Policy": policy_for(CALLER), "BypassPolicyLockoutSafetyCheck": "false"},
        )
    assert finder.sessions == []  # nothing may be sent for bad input
    assert [c.facts for c in finder.contexts] == [None]


def test_a_dry_run_session_refuses_to_send(registered: Callable[..., Any], client: Client) -> None:
    from http_task_kms.session import DryRunRefused

    finder = registered(FactFinder(frozen=False), name="fact-finder")
    prepared = client.prepare(
        client.compiled_template("kms.PutKeyPolicy"),
        {"KeyId": KEY_ID, "Policy": policy_for(CALLER)},
        dry_run=True,
    )
    assert prepared.facts["finder.dry_run"] is True
    [session] = finder.sessions
    with pytest.raises(DryRunRefused):
        session.send(prepared)
    with pytest.raises(DryRunRefused):
        session.caller_identity()


def test_check_request_error_through_the_cli(registered: Callable[..., Any], tmp_path: Path) -> None:
    registered(PolicyGuard(), name="policy-guard")
    source = tmp_path / "input.json"
    source.write_text(json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}))
    result = CliRunner().invoke(
        main, ["render", "kms.PutKeyPolicy", "--input", str(source), "--caller-arn", CALLER]
    )
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["error"]["problems"] == [
        {"field": "KeyId", "message": "this key is frozen [FROZEN_KEY]"}
    ]


# -- register_signers -------------------------------------------------------------------------


class RecordingSigner:
    """A signer that adds a fixed header and remembers what it signed."""

    def __init__(self, profile: str | None) -> None:
        self.profile = profile
        self.calls: list[tuple[str, str, str]] = []

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        service: str,
        region: str,
        clock_offset: float = 0.0,
    ) -> dict[str, str]:
        self.calls.append((url, service, region))
        return {**headers, "X-Test-Signature": f"{service}/{region}"}


class SignerPlugin:
    """Registers the 'test-token' credentials type (and remembers the signers it made)."""

    def __init__(self) -> None:
        self.made: list[RecordingSigner] = []

    @hookimpl
    def register_signers(self, register: Callable[[str, Any], None]) -> None:
        def factory(*, profile: str | None) -> RecordingSigner:
            self.made.append(RecordingSigner(profile))
            return self.made[-1]

        register("test-token", factory)


def test_hook_register_signers(registered: Callable[..., Any]) -> None:
    """A template declaring the plugin's credentials type is really signed by that signer."""
    plugin = registered(SignerPlugin(), name="signer-plugin")
    assert set(signers()) >= {"aws-sigv4", "test-token"}
    [ping] = templates_from_document(gadgets_document("tokens"))
    registered(TemplatePlugin([ping.model_copy(update={"credentials_type": "test-token"})]), name="tokens")
    with FaultServer(default=ok({"Pong": True})) as server:
        client = Client(Options(region="us-east-1", endpoint_url=server.url, profile="ops"))
        result = client.test_request("tokens.Ping", {"Message": "hi"})
        [received] = server.received
    assert result.ok, result.to_json()
    assert received.header("X-Test-Signature") == "tokens/us-east-1"  # what the registered signer adds
    assert received.header("Authorization") is None  # not signed with SigV4
    assert json.loads(received.body) == {"Message": "hi"}
    [signer] = plugin.made
    assert signer.profile == "ops"  # the factory got the operator's profile
    assert signer.calls == [(server.url, "tokens", "us-east-1")]


def test_the_core_registers_sigv4_itself_and_the_kms_plugin_none() -> None:
    from http_task_kms.plugins.manager import load_plugins

    only_kms = pluggy.PluginManager(hookspecs.PROJECT)
    only_kms.add_hookspecs(hookspecs)
    only_kms.register(kms_plugin, name="kms")
    assert signers(only_kms) == {}
    assert "aws-sigv4" in signers(load_plugins(blocked=["kms"]))
    assert set(signers(load_plugins())) == {"aws-sigv4"}


# -- send_request -----------------------------------------------------------------------------


class TakeOver:
    """Takes over sending kms.ListAliases: answers itself, or sends through the session it is given."""

    def __init__(self, *, through_session: bool) -> None:
        self.through_session = through_session
        self.requests: list[PreparedRequest] = []

    @hookimpl(tryfirst=True)
    def send_request(
        self, request: PreparedRequest, session: Any, facts: Mapping[str, Any]
    ) -> TestRequestResult | None:
        if request.target != "TrentService.ListAliases":
            return None
        self.requests.append(request)
        if self.through_session:
            result = session.send(request)
        else:
            result = TestRequestResult(ok=True, statusCode=200, reasonPhrase="OK", body={"Aliases": []})
        result.extra["takeover.handledBy"] = "take-over"
        return result


def _loopback_client(server: FaultServer) -> Client:
    options = Options(region="us-east-1", endpoint_url=server.url, plugin_options={"caller_arn": CALLER})
    return Client(options, signer=signer_for("AKIDEXAMPLE", TAKEOVER_SECRET))


TAKEOVER_SECRET = "takeover-secret-takeover-secret-0000"


def test_hook_send_request(registered: Callable[..., Any]) -> None:
    """A plugin that answers itself: the host sends nothing, and the plugin's field reaches the output."""
    taker = registered(TakeOver(through_session=False), name="take-over")
    with FaultServer(default=ok({"Aliases": [{"AliasName": "alias/from-the-server"}]})) as server:
        result = _loopback_client(server).test_request("kms.ListAliases", {"Limit": 5})
        assert server.count == 0  # the host did not send its own request
    document = result.to_json()
    assert document["takeover.handledBy"] == "take-over"
    assert document["body"] == {"Aliases": []}
    [request] = taker.requests
    assert request.url == server.url
    assert request.body == {"Limit": 5}
    assert request.headers["X-Amz-Target"] == "TrentService.ListAliases"
    from http_task_kms import schemas
    from http_task_kms.kms import schemas as kms_schemas

    schemas.validator(f"{kms_schemas.OUTPUT_ID}#/$defs/test-request", kms_schemas.document()).validate(
        document
    )


def test_the_session_a_send_request_hook_gets_signs_and_sends_once(registered: Callable[..., Any]) -> None:
    registered(TakeOver(through_session=True), name="take-over")
    answer = {"Aliases": [{"AliasName": "alias/from-the-server"}]}
    with FaultServer(default=ok(answer)) as server:
        result = _loopback_client(server).test_request("kms.ListAliases", {"Limit": 5})
        [received] = server.received  # sent once: by the plugin, through the session, not again by the host
    assert result.ok, result.to_json()
    assert result.body == answer  # the server's answer, not one the plugin made up
    assert result.to_json()["takeover.handledBy"] == "take-over"
    assert received.header("X-Amz-Target") == "TrentService.ListAliases"
    assert json.loads(received.body) == {"Limit": 5}
    assert verify_sigv4(received, TAKEOVER_SECRET, url=server.url)  # signed by the host's signer


def test_send_request_is_not_called_for_invalid_input(registered: Callable[..., Any]) -> None:
    taker = registered(TakeOver(through_session=True), name="take-over")
    with FaultServer() as server:
        result = _loopback_client(server).test_request("kms.ListAliases", {"Limit": "five"})
        assert server.count == 0
    assert result.ok is False
    assert result.error is not None
    assert result.error.code == "ValidationError"
    assert taker.requests == []


# -- the contract itself ----------------------------------------------------------------------


def hook_names() -> list[str]:
    return sorted(
        name
        for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(func, f"{hookspecs.PROJECT}_spec")
    )


def test_hook_names_are_the_documented_ones() -> None:
    assert hook_names() == [
        "build_workflow",
        "check_request",
        "preflight",
        "register_commands",
        "register_overlays",
        "register_signers",
        "register_templates",
        "send_request",
    ]


@pytest.mark.parametrize("name", hook_names())
def test_every_hook_has_a_docstring_and_a_test(name: str) -> None:
    func = getattr(hookspecs, name)
    assert inspect.getdoc(func), f"hook {name} has no docstring"
    assert len(inspect.getdoc(func) or "") > 40
    assert callable(globals().get(f"test_hook_{name}")), f"no test_hook_{name} in {__name__}"


def test_kms_plugin_implements_every_hook_but_signing() -> None:
    implemented = {
        name
        for name, func in inspect.getmembers(kms_plugin, inspect.isfunction)
        if hasattr(func, f"{hookspecs.PROJECT}_impl")
    }
    assert implemented == set(hook_names()) - {"register_signers"}  # signing is the core's


COMMAND_PLUGIN = '''
"""A third-party plugin adding a command, and an option to `render` that reaches its check."""
import click
from http_task_kms import hookimpl
from http_task_kms.plugins.types import Check


@hookimpl
def register_commands(cli):
    @cli.command()
    def hello():
        """Say hello."""
        click.echo('{"hello": "from a plugin command"}')

    cli.commands["render"].params.append(click.Option(["--greeting"]))


@hookimpl
def check_request(context):
    greeting = context.options.get("greeting")
    if context.facts is None and greeting:
        return [Check(severity="SUGGESTION", code="GREETING", field="greeting", message=greeting)]
    return None
'''


@pytest.fixture
def command_plugin_site(tmp_path: Path) -> Path:
    """A distribution (a module and its entry point) in a directory, for a fresh process's sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "tmp_hello_plugin.py").write_text(textwrap.dedent(COMMAND_PLUGIN), encoding="utf-8")
    dist = site / "tmp_hello_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tmp-hello-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[http_task_kms]\nhello = tmp_hello_plugin\n", encoding="utf-8")
    return site


def test_hook_register_commands(command_plugin_site: Path, tmp_path: Path) -> None:
    """An installed plugin's command and option are in the real command line of a fresh process."""
    import os
    import subprocess

    params = tmp_path / "in.json"
    params.write_text(json.dumps({"region": "us-east-1", "KeyId": KEY_ID, "Policy": policy_for(CALLER)}))
    script = (
        "import sys\n"
        "from http_task_kms.cli import main, run\n"
        "print(' '.join(sorted(main.commands)), file=sys.stderr)\n"
        "run()"
    )
    env = {**os.environ, "PYTHONPATH": str(command_plugin_site), "HOME": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    hello = cli("hello")
    assert hello.returncode == 0, hello.stderr
    assert json.loads(hello.stdout) == {"hello": "from a plugin command"}
    assert {"hello", "lint-policy", "rollback", "demo", "render"} <= set(hello.stderr.split("\n")[0].split())
    render = cli(
        "render", "kms.PutKeyPolicy", "--input", str(params), "--caller-arn", CALLER, "--greeting", "hola"
    )
    assert render.returncode == 0, render.stderr
    warnings = json.loads(render.stdout)["warnings"]
    assert {
        "severity": "SUGGESTION",
        "code": "GREETING",
        "field": "greeting",
        "message": "hola",
        "path": "$",
    } in (warnings)
    # in this process too: the KMS plugin's commands and options are on the real command line
    assert {"lint-policy", "rollback", "demo"} <= set(main.commands)
    assert {"force", "backup_dir", "principal_wait", "caller_arn"} <= {
        p.name for p in main.commands["test-request"].params
    }


def test_hook_register_overlays(tmp_path: Path) -> None:
    """The KMS plugin's overlays reach the generated document through the hook; without it, none."""
    from http_task_kms.openapi.generate import generate_openapi

    collected: dict[str, Any] = {}
    get_plugin_manager().hook.register_overlays(register=collected.__setitem__)
    assert collected["kms"]["PolicyType"]["schema"]["x-maxBytes"] == 32768
    policy = generate_openapi("kms", overlays=collected["kms"])["components"]["schemas"]["PolicyType"]
    assert policy["x-maxBytes"] == 32768
    assert "x-maxBytes" not in generate_openapi("kms")["components"]["schemas"]["PolicyType"]
    result = CliRunner().invoke(main, ["spec", "kms", "--output", str(tmp_path / "kms.yaml")])
    assert result.exit_code == 0, result.output
    assert "x-maxBytes: 32768" in (tmp_path / "kms.yaml").read_text()


class WorkflowPlugin:
    """Makes its own definition for one template when asked with its option."""

    @hookimpl
    def build_workflow(self, template: TaskTemplate, name: str | None, options: Mapping[str, Any]) -> Any:
        if not options.get("audited") or template.id != "kms.ListKeys":
            return None
        return {
            "name": name or "audited",
            "startTask": "List",
            "tasks": {"List": {"type": "Simple", "end": True}},
        }


def test_hook_build_workflow(registered: Callable[..., Any]) -> None:
    """The first plugin that builds a definition wins; otherwise the host's one-task definition."""
    from http_task_kms.workflow_build import single_task_workflow

    registered(WorkflowPlugin(), name="workflow-plugin")
    hook = get_plugin_manager().hook.build_workflow
    template = get_registry().get("kms.ListKeys")
    assert hook(template=template, name="x", options={"audited": True})["name"] == "x"
    assert hook(template=template, name=None, options={}) is None  # the host then makes its own
    assert single_task_workflow(template)["tasks"]["ListKeys"]["httpRequest"]["headers"]["X-Amz-Target"] == (
        "TrentService.ListKeys"
    )
    safe = hook(template=get_registry().get("kms.PutKeyPolicy"), name=None, options={"safe": True})
    assert list(safe["tasks"]) == ["Back up key policy", "Put key policy", "Read key policy back"]
