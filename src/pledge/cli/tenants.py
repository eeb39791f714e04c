"""``pledge tenants``: the sites an app is installed on, by the internal id other commands take (``pledge keys
rotate ID``).

What is shown is what the registry holds and nothing secret: ids, product, state, external ids and dates. The list
shows a site by its host only; ``show`` gives its full base URL, which identifies the site as much as its ids do.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import click

from pledge.cli.common import command_with_settings, open_runtime, require_schema
from pledge.config import Settings
from pledge.tenants import Tenant, TenantNotFound, TenantState
from pledge.tenants.shred_ledger import ledger_entry
from pledge.tenants.timeline import scheduled_deletion

_COLUMNS = ("ID", "APP", "PRODUCT", "STATE", "HOST", "CLIENT KEY", "INSTALLATION ID", "CREATED", "STATE CHANGED")
_ROW_FIELDS = (
    "id",
    "app_key",
    "product",
    "state",
    "host",
    "client_key",
    "installation_id",
    "created_at",
    "state_changed_at",
)


@click.group()
def tenants() -> None:
    """Installed sites (tenants)."""


@tenants.command("list")
@click.option("--app", "app_key", help="Only the tenants of this app key.")
@click.option(
    "--state", "states", multiple=True, type=click.Choice([state.value for state in TenantState]), help="Only these."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@command_with_settings
def list_tenants(settings: Settings, app_key: str | None, states: tuple[str, ...], as_json: bool) -> None:
    """Every tenant, oldest first: internal id, app, product, state, host, external ids and dates."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        found = runtime.tenants.list(app_key=app_key, states=[TenantState(state) for state in states] or None)
    if as_json:
        for tenant in found:
            click.echo(json.dumps(_summary(tenant)))
        return
    rows = [_COLUMNS, *(_row(tenant) for tenant in found)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@tenants.command("show")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines of text.")
@command_with_settings
def show(settings: Settings, tenant_id: str, as_json: bool) -> None:
    """One tenant with its full base URL and its timeline: every lifecycle step, and when its data is deleted.

    A purged tenant is shown as the shred ledger keeps it: its id, why and when it was deleted."""
    grace = timedelta(days=settings.deletion_grace_days)
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        with runtime.engine.connect() as connection:
            entry = ledger_entry(connection, tenant_id)
            deletion = scheduled_deletion(connection, tenant_id, grace)
        try:
            tenant: Tenant | None = runtime.tenants.get(tenant_id)
        except TenantNotFound:
            if entry is None:
                raise
            tenant = None
        events = runtime.tenants.timeline(tenant_id) if tenant is not None else []
    details = {} if tenant is None else _summary(tenant) | {"base_url": tenant.base_url}
    steps = [(event.event.value, event.at) for event in events]
    if deletion is not None and entry is None:
        steps.append(("deletion_due", deletion.due_at))
    if entry is not None:
        details = {"id": tenant_id, "state": "purged" if entry.purged_at else "purging", "cause": entry.cause.value}
        details |= {"reason": entry.reason} if entry.reason else {}
        steps += [("purge_due", entry.due_at)] if not events else []
        steps += [("purged", entry.purged_at)] if entry.purged_at else []
    timeline = [{"event": name, "at": _when(at)} for name, at in steps]
    if as_json:
        click.echo(json.dumps(details | {"timeline": timeline}))
        return
    width = max(len(name) for name in details)
    for name, value in details.items():
        click.echo(f"{name.ljust(width)}  {'-' if value is None else value}")
    click.echo("timeline:")
    for step in timeline:
        click.echo(f"  {step['at']}  {step['event']}")


def _summary(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "app_key": tenant.app_key,
        "product": tenant.product_type,
        "state": tenant.state.value,
        "host": _host(tenant.base_url),
        "client_key": tenant.client_key,
        "installation_id": tenant.installation_id,
        "cloud_id": tenant.cloud_id,
        "region": tenant.region,
        "created_at": _when(tenant.created_at),
        "updated_at": _when(tenant.updated_at),
        "state_changed_at": _when(tenant.state_changed_at),
    }


def _row(tenant: Tenant) -> tuple[str, ...]:
    summary = _summary(tenant)
    return tuple(str(summary[name] or "-") for name in _ROW_FIELDS)


def _host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "-"


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
