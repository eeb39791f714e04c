"""`pledge forge manifest` and the Forge settings: what Forge is told matches what Pledge serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pledge.cli import cli
from pledge.config import load_settings
from pledge.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _manifest(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    monkeypatch.chdir(ROOT)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["forge", "manifest", "examples.forge_notes.app:app"])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = yaml.safe_load(result.output)
    return document


def test_the_manifest_names_every_forge_route_trigger_and_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _manifest(monkeypatch, PLEDGE_BASE_URL="http://127.0.0.1:8000")
    modules = document["modules"]
    assert isinstance(modules, dict)
    paths = {endpoint["key"]: endpoint["route"]["path"] for endpoint in modules["endpoint"]}
    assert paths == {
        "pledge-installed": "/apps/forge-notes/forge/lifecycle/installed",
        "pledge-upgraded": "/apps/forge-notes/forge/lifecycle/upgraded",
        "events-issue-created": "/apps/forge-notes/events/issue-created",
        "notes": "/apps/forge-notes/notes",
        "issue-summary": "/apps/forge-notes/issue-summary",
        "pledge-pre-uninstall": "/apps/forge-notes/forge/lifecycle/pre-uninstall",
    }
    events = {(trigger["key"], trigger["endpoint"]): trigger["events"] for trigger in modules["trigger"]}
    assert events == {
        ("pledge-installed-trigger", "pledge-installed"): ["avi:forge:installed:app"],
        ("pledge-upgraded-trigger", "pledge-upgraded"): ["avi:forge:upgraded:app"],
        ("events-issue-created-trigger", "events-issue-created"): ["avi:jira:created:issue"],
    }
    assert modules["preUninstall"] == [{"key": "pledge-pre-uninstall-hook", "endpoint": "pledge-pre-uninstall"}]
    assert modules["migration:dataResidency"][0]["path"] == "/apps/forge-notes/forge/realm"
    (remote,) = document["remotes"]  # type: ignore[misc]
    assert remote["baseUrl"] == "http://127.0.0.1:8000"
    assert remote["storage"] == {"inScopeEUD": True}


def test_regional_deployments_become_a_base_url_map(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _manifest(
        monkeypatch,
        PLEDGE_DEV_MODE="false",
        PLEDGE_BASE_URL="https://us.example.com",
        PLEDGE_FORGE_PEERS="EU=https://eu.example.com, AU=https://au.example.com/",
    )
    (remote,) = document["remotes"]  # type: ignore[misc]
    assert remote["baseUrl"] == {
        "default": "https://us.example.com",
        "AU": "https://au.example.com",
        "EU": "https://eu.example.com",
        "US": "https://us.example.com",
    }


def test_an_app_that_is_not_forge_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["forge", "manifest", "tests.foundation.test_serving:app"])
    assert result.exit_code == 2
    assert result.output == "pledge: app 'hello' is not a Forge Remote: give it forge=ForgeConfig(app_id=...)\n"


@pytest.mark.parametrize(
    ("region", "realm"),
    [("us-east-1", "US"), ("eu-west-1", "EU"), ("eu-central-1", "EU"), ("eu-west-2", "GB"), ("ap-southeast-2", "AU")],
)
def test_the_forge_realm_is_derived_from_the_region(region: str, realm: str) -> None:
    assert load_settings(region=region).resolved_forge_region == realm


def test_an_unknown_realm_and_bad_peers_are_named() -> None:
    with pytest.raises(ConfigurationError, match="set PLEDGE_FORGE_REGION"):
        _ = load_settings(region="me-south-1").resolved_forge_region
    assert load_settings(region="me-south-1", forge_region="AE").resolved_forge_region == "AE"
    with pytest.raises(ConfigurationError, match="PLEDGE_FORGE_PEERS"):
        load_settings(forge_peers="eu=ftp://x")
