"""The generated manifest sections pass Atlassian's own validator (``@forge/manifest``, which the Forge CLI runs).

The validator is installed with npm from ``tests/forge/node/package-lock.json`` (into ``tests/forge/node/node_modules``,
which git ignores); without node and npm the test is skipped, except in CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from examples.forge_notes.app import APP_ID
from examples.forge_notes.app import app as forge_notes
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import require

from pledge.app import App, Auth, RequestContext
from pledge.config import Settings, load_settings
from pledge.errors import ConfigurationError
from pledge.forge import ForgeConfig
from pledge.forge.manifest import manifest_sections

NODE_PROJECT = Path(__file__).parent / "node"
_MODULE_KEY_PATTERN = r"[a-zA-Z0-9_-]+"  # ModuleKeySchema of @forge/manifest's manifest-schema.json


@pytest.fixture(scope="module")
def atlassian_validator() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    require(node is not None and npm is not None, "node and npm are needed to run Atlassian's manifest validator")
    assert npm is not None
    if not (NODE_PROJECT / "node_modules" / "@forge" / "manifest").is_dir():
        installed = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE_PROJECT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        require(installed.returncode == 0, f"npm ci of @forge/manifest failed: {installed.stderr.strip()[-300:]}")
    return NODE_PROJECT / "validate.js"


def _validate(validator: Path, manifest: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "manifest.yml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run([node, str(validator), str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    verdict: dict[str, Any] = json.loads(result.stdout)
    return verdict


def _full_manifest(app: App, settings: Settings) -> dict[str, Any]:
    """A whole manifest.yml: the app and permissions a vendor writes, around the sections Pledge generates."""
    assert app.forge is not None
    return {
        "app": {"id": app.forge.app_id, "runtime": {"name": "nodejs22.x"}},
        **manifest_sections(app, settings),
        "permissions": {"scopes": ["read:jira-work"]},
    }


@pytest.mark.parametrize(
    "environment",
    [
        {"base_url": "https://pledge.example.com", "dev_mode": False},
        {
            "base_url": "https://us.example.com",
            "dev_mode": False,
            "forge_peers": {"EU": "https://eu.example.com", "AU": "https://au.example.com"},
        },
    ],
    ids=["one-region", "regional"],
)
def test_the_generated_manifest_passes_atlassians_validator(
    atlassian_validator: Path, tmp_path: Path, environment: dict[str, Any]
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", **environment)
    verdict = _validate(atlassian_validator, _full_manifest(forge_notes, settings), tmp_path)
    assert verdict == {"success": True, "errors": []}


def test_the_validator_does_find_errors(atlassian_validator: Path, tmp_path: Path) -> None:
    """The check above means something: a duplicate key, the defect of issue #11, is reported."""
    manifest = _full_manifest(forge_notes, load_settings(data_dir=tmp_path / "data"))
    endpoint = manifest["modules"]["endpoint"][0]
    manifest["modules"]["trigger"][0]["key"] = endpoint["key"]
    verdict = _validate(atlassian_validator, manifest, tmp_path)
    assert verdict["success"] is False
    assert f"found duplicate module key '{endpoint['key']}'" in [error["message"] for error in verdict["errors"]]


async def _handler(context: RequestContext) -> None:
    return None


_SEGMENT = st.text(alphabet="abcXYZ019-_~", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    paths=st.lists(st.lists(_SEGMENT, min_size=1, max_size=3).map(lambda s: "/" + "/".join(s)), max_size=6),
    event_count=st.integers(0, 3),
)
def test_module_keys_are_unique_and_well_formed_or_the_app_is_refused(paths: list[str], event_count: int) -> None:
    unique = list(dict.fromkeys(paths))
    events = {f"avi:jira:created:thing{i}": path for i, path in enumerate(unique[:event_count])}
    app = App(key="fuzzed", name="Fuzzed", forge=ForgeConfig(app_id=APP_ID, events=events))
    for path in unique:
        app.route(path, auth=Auth.FORGE, methods=("POST",))(_handler)
    try:
        modules = manifest_sections(app, load_settings())["modules"]
    except ConfigurationError as exc:
        assert "would share the key" in str(exc)
        return
    keys = [entry["key"] for entries in modules.values() for entry in entries]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(_MODULE_KEY_PATTERN, key) and len(key) <= 63 for key in keys)
    endpoints = {entry["key"] for entry in modules["endpoint"]}
    assert all(entry["endpoint"] in endpoints for entry in modules["trigger"] + modules["preUninstall"])
