"""``pledge forge``: what a Forge Remote app declares to Forge, generated from what Pledge serves (S11, S14)."""

from __future__ import annotations

import os
import sys

import click
import yaml

from pledge.app import App
from pledge.cli.common import command_with_settings, load_apps
from pledge.config import Settings
from pledge.errors import ConfigurationError
from pledge.forge.manifest import manifest_sections


@click.group()
def forge() -> None:
    """Forge Remote apps."""


@forge.command()
@click.argument("app_path", metavar="APP")
@command_with_settings
def manifest(settings: Settings, app_path: str) -> None:
    """Print the remotes, endpoint and trigger sections of manifest.yml for APP (module:attribute)."""
    if ":" not in app_path:
        raise ConfigurationError(f"APP {app_path!r} must be a module:attribute import path, e.g. examples.notes:app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like uvicorn: an app in the current directory can be named
    (app,) = load_apps((app_path,))

    if not isinstance(app, App):
        raise ConfigurationError(f"{app_path} is not a pledge.app.App")
    click.echo(yaml.safe_dump(manifest_sections(app, settings), sort_keys=False), nl=False)
