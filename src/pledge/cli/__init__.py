"""The ``pledge`` command. Every error ends as one line saying what is wrong and how to fix it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pledge.cli.backup import backup
from pledge.cli.common import PledgeGroup, pass_settings_loader
from pledge.cli.config_command import config
from pledge.cli.db_command import db
from pledge.cli.doctor_command import doctor
from pledge.cli.forge_command import forge
from pledge.cli.jobs import jobs
from pledge.cli.keys import keys
from pledge.cli.legal import legal
from pledge.cli.purge_command import purge
from pledge.cli.serve import serve
from pledge.cli.sim import sim
from pledge.cli.statement import statement
from pledge.cli.tenants import tenants
from pledge.cli.token import token


@click.group(cls=PledgeGroup)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="PLEDGE_CONFIG",
    help="TOML settings file (environment variables PLEDGE_* take precedence).",
)
@click.version_option(package_name="pledge")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """Pledge: an Atlassian Cloud app backend that keeps its privacy statement true."""
    ctx.obj = pass_settings_loader(config_file)


cli.add_command(serve)
cli.add_command(db)
cli.add_command(config)
cli.add_command(statement)
cli.add_command(sim)
cli.add_command(token)
cli.add_command(keys)
cli.add_command(forge)
cli.add_command(tenants)
cli.add_command(jobs)
cli.add_command(backup)
cli.add_command(purge)
cli.add_command(doctor)
cli.add_command(legal)


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="pledge")
