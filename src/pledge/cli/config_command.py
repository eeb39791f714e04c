"""``pledge config``: every setting, its value now, where that value came from and the variable that sets it.

Operators check here what the statement's promises rest on (S1 region, S5/S7 retention, S12 transport). No setting
holds a secret, but a database or backup URL may carry a password: it is masked. The list is shown even when the
settings do not load, so the one-line error pointing here ("see `pledge config`") always leads somewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr

from pledge.cli.common import EXIT_CONFIGURATION, SettingsLoader
from pledge.config import ENV_PREFIX, Settings, mask_passwords, one_line, read_config_file, unknown_variables
from pledge.errors import ConfigurationError


@dataclass(frozen=True)
class SettingView:
    variable: str
    value: Any
    source: str
    description: str


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a table.")
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Show every setting: its value, where it came from, and the environment variable that sets it."""
    loader: SettingsLoader = ctx.find_root().obj
    try:
        settings: Settings | None = loader()
        error = None
    except ConfigurationError as exc:
        settings, error = None, exc
    views = describe(settings, loader.config_file, os.environ)
    unknown = unknown_settings(os.environ, loader.config_file)
    if as_json:
        document = {
            "settings": [asdict(view) for view in views],
            "unknown": unknown,
            "error": str(error) if error else None,
        }
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        click.echo(_table(views))
        for name in unknown:
            click.echo(f"{name} is not a setting (a typo?)", err=True)
    if error is not None:
        click.echo(f"pledge: {error}", err=True)
        ctx.exit(EXIT_CONFIGURATION)


def describe(settings: Settings | None, config_file: Path | None, environ: Mapping[str, str]) -> list[SettingView]:
    """One view per setting. Values are the effective ones (defaults resolved) when ``settings`` loaded, else raw."""
    environment = {name.upper(): value for name, value in environ.items()}
    from_file = _read_toml(config_file)
    effective = _effective_values(settings) if settings is not None else {}
    views = []
    for name, field in Settings.model_fields.items():
        variable = ENV_PREFIX + name.upper()
        if variable in environment:
            source, raw = "environment", environment[variable]
        elif name in from_file:
            source, raw = f"config file {config_file}", from_file[name]
        else:
            source, raw = "default", field.get_default(call_default_factory=True)
        value = effective[name] if settings is not None else raw
        if field.annotation in (SecretStr, SecretStr | None) and value is not None:
            value = "**********"  # as pydantic shows a SecretStr; a raw one (settings not loaded) must not show
        views.append(SettingView(variable, _mask_passwords(value), source, field.description or ""))
    return views


def unknown_settings(environ: Mapping[str, str], config_file: Path | None) -> list[str]:
    """``PLEDGE_*`` variables that set nothing (the environment ignores them), then unknown keys of the file."""
    variables = unknown_variables(environ)
    keys = sorted(f"{key} (in {config_file})" for key in _read_toml(config_file) if key not in Settings.model_fields)
    return variables + keys


def _effective_values(settings: Settings) -> dict[str, Any]:
    values: dict[str, Any] = settings.model_dump(mode="json")
    values |= {
        "database_url": settings.resolved_database_url,
        "base_url": settings.public_url,
        "keyring_path": str(settings.resolved_keyring_path),
    }
    return values


def _read_toml(config_file: Path | None) -> dict[str, Any]:
    if config_file is None:
        return {}
    try:
        return read_config_file(config_file)
    except ConfigurationError:
        return {}  # the load error itself says what is wrong with the file


def _mask_passwords(value: Any) -> Any:
    if isinstance(value, str):
        return mask_passwords(value)
    if isinstance(value, list | tuple):
        return [_mask_passwords(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_passwords(item) for key, item in value.items()}
    return value


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return one_line(",".join(str(item) for item in value)) or "-"
    if isinstance(value, dict):
        return one_line(",".join(f"{key}={item}" for key, item in value.items())) or "-"
    if isinstance(value, bool):
        return str(value).lower()
    return one_line(str(value))


def _table(views: list[SettingView]) -> str:
    rows = [("SETTING", "VALUE", "SOURCE", "MEANING")]
    rows += [(view.variable, _shown(view.value), view.source, view.description) for view in views]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    )
