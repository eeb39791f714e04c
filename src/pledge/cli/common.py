"""What every ``pledge`` subcommand shares: settings loading and the one-line error contract."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pledge import schema
from pledge.app import App
from pledge.config import ENV_PREFIX, Settings, import_object, load_settings, one_line
from pledge.errors import ConfigurationError, PledgeError
from pledge.runtime import Runtime

EXIT_FAILURE = 1
EXIT_CONFIGURATION = 2


class PledgeGroup(click.Group):
    """Turns every PledgeError into ``pledge: <one line>`` on stderr and a non-zero exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            click.echo(f"pledge: {one_line(str(exc))}", err=True)
            ctx.exit(EXIT_CONFIGURATION)
        except PledgeError as exc:
            click.echo(f"pledge: {one_line(str(exc))}", err=True)
            ctx.exit(EXIT_FAILURE)


@dataclass(frozen=True)
class SettingsLoader:
    config_file: Path | None

    def __call__(self, **overrides: Any) -> Settings:
        return load_settings(self.config_file, **overrides)


def pass_settings_loader(config_file: Path | None) -> SettingsLoader:
    return SettingsLoader(config_file)


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    loader: SettingsLoader = ctx.find_root().obj
    return loader(**{key: value for key, value in overrides.items() if value is not None})


@contextmanager
def open_runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.open(settings)
    try:
        yield runtime
    finally:
        runtime.close()


def require_schema(runtime: Runtime) -> None:
    """Refuse, in one line, to work on a database whose schema is not current (`pledge db upgrade` first)."""
    current = schema.status(runtime.engine)
    if not current.is_current:
        raise PledgeError(current.describe())


def command_with_settings(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: call ``function(settings, **params)`` with the loaded settings."""

    @click.pass_context
    def wrapper(ctx: click.Context, /, **params: Any) -> Any:
        return function(settings_from(ctx), **params)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def load_apps(paths: tuple[str, ...]) -> list[App]:
    return [import_object(path, f"{ENV_PREFIX}APPS") for path in paths]
