"""``pledge keys``: rotate the key-encryption key, or one tenant's data key with re-encryption of its records (S4)."""

from __future__ import annotations

import click

from pledge.cli.common import command_with_settings, open_runtime, require_schema
from pledge.config import Settings
from pledge.store import reencrypt_tenant, rotate_tenant_key


@click.group()
def keys() -> None:
    """Key rotation."""


@keys.command("rotate-kek")
@command_with_settings
def rotate_kek(settings: Settings) -> None:
    """Make a new key-encryption key current and re-wrap every data key under it (no data is re-encrypted)."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        rewrapped = runtime.vault.rotate_kek()
    click.echo(f"re-wrapped {rewrapped} data keys under the new key-encryption key")


@keys.command("rotate")
@click.argument("tenant_id")
@click.option("--resume", is_flag=True, help="Only finish an interrupted rotation: no new key version.")
@command_with_settings
def rotate(settings: Settings, tenant_id: str, resume: bool) -> None:
    """Give TENANT_ID a new data key; re-encrypt its records and shared secret under it (resumable, interruptible).

    TENANT_ID is the internal id `pledge tenants list` shows.
    """
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        runtime.tenants.get(tenant_id)
        move = reencrypt_tenant if resume else rotate_tenant_key
        done = move(runtime.engine, runtime.vault, tenant_id)
    click.echo(f"tenant {tenant_id}: data key version {done.key_version}, re-encrypted {done.records} records")
