"""A plugin for another AWS service signs and sends through the core alone (the KMS plugin blocked).

The plugin is a real distribution on ``sys.path``, found through its ``http_task_kms``
entry point; its templates come from the OpenAPI document our own ``spec`` command
generates for Secrets Manager. The request reaches a server on 127.0.0.1, signed with
SigV4 for ``secretsmanager`` by the core's own signer.
"""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import signer_for
from faultserver import FaultServer, ok, verify_sigv4

from http_task_kms import Client, Options
from http_task_kms.openapi.generate import dump_yaml, generate_openapi
from http_task_kms.plugins.manager import Plugins, load_plugins

ACCESS_KEY, SECRET = "AKIDSECRETSPLUGIN001", "secrets-plugin-secret-secrets-plugin-00"
MODULE = "tmp_secrets_plugin"


@pytest.fixture
def secrets_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution whose entry point registers Secrets Manager's templates."""
    site = tmp_path / "site"
    site.mkdir()
    spec = site / "secretsmanager-openapi.yaml"
    spec.write_text(dump_yaml(generate_openapi("secretsmanager")), encoding="utf-8")
    source = f'''
        """Secrets Manager as HTTP task templates."""
        from http_task_kms import hookimpl, templates_from_file

        @hookimpl
        def register_templates(register):
            for template in templates_from_file({str(spec)!r}):
                register(template)
    '''
    (site / f"{MODULE}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist = site / f"{MODULE}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {MODULE}\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[http_task_kms]\nsecrets = {MODULE}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    try:
        yield MODULE
    finally:
        sys.modules.pop(MODULE, None)


def test_a_plugin_for_another_service_signs_and_sends_without_the_kms_plugin(secrets_plugin: str) -> None:
    found = {ep.name for ep in importlib.metadata.entry_points(group="http_task_kms")}
    assert {"kms", "secrets"} <= found  # both installed ...
    manager = load_plugins(blocked=["kms"])  # ... the KMS plugin blocked
    assert manager.get_plugin("kms") is None
    plugins = Plugins(manager)
    assert {t.service for t in plugins.registry} == {"secretsmanager"}
    assert set(plugins.signers()) == {"aws-sigv4"}  # the core's own signer
    answer = {"Name": "db-password", "SecretString": "not-a-secret-here"}
    with FaultServer(default=ok(answer)) as server:
        client = Client(
            Options(region="eu-west-1", endpoint_url=server.url),
            plugins=plugins,
            signer=signer_for(ACCESS_KEY, SECRET),
        )
        result = client.test_request("secretsmanager.GetSecretValue", {"SecretId": "db-password"})
        [received] = server.received
    assert result.ok, result.to_json()
    assert result.body == answer
    assert received.header("X-Amz-Target") == "secretsmanager.GetSecretValue"
    assert received.authorization["Credential"].endswith("/eu-west-1/secretsmanager/aws4_request")
    assert verify_sigv4(received, SECRET, url=server.url)


def test_its_checks_are_the_core_s_only(secrets_plugin: str) -> None:
    """Bad input is refused by the core's schema; no KMS check runs on another service."""
    client = Client(Options(region="eu-west-1"), plugins=Plugins(load_plugins(blocked=["kms"])))
    result = client.dry_run("secretsmanager.GetSecretValue", {"SecretId": ""})
    assert result.error is not None
    assert [p.field for p in result.error.problems or []] == ["SecretId"]
    prepared = client.prepare(client.compiled_template("secretsmanager.GetSecretValue"), {"SecretId": "x"})
    assert prepared.url == "https://secretsmanager.eu-west-1.amazonaws.com/"
    assert prepared.facts == {}
