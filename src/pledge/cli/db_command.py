"""``pledge db``: apply migrations and report the schema's state."""

from __future__ import annotations

import click

from pledge import schema
from pledge.cli.common import command_with_settings, open_runtime
from pledge.config import Settings
from pledge.errors import PledgeError


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@command_with_settings
def upgrade(settings: Settings) -> None:
    """Apply pending migrations (safe to run from several instances at once)."""
    with open_runtime(settings) as runtime:
        click.echo(schema.upgrade(runtime.engine).describe())


@db.command()
@command_with_settings
def status(settings: Settings) -> None:
    """Say whether the schema is current; exit 1 when it is not."""
    with open_runtime(settings) as runtime:
        current = schema.status(runtime.engine)
    if not current.is_current:
        raise PledgeError(current.describe())
    click.echo(current.describe())
