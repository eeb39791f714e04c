"""``pledge purge --tenant ID --reason TEXT``: an operator deletes a site's data now, unrecoverably (S7).

The tenant is made ``deleting`` (its requests refused from then on) with the reason, which the shred ledger keeps;
then the ``tenant-purge`` job runs at once, under its lease, and deletes it. If another instance is running that job
right now, its next run (within the hour) does.
"""

from __future__ import annotations

import click

from pledge.cli.common import command_with_settings, open_runtime, require_schema
from pledge.cli.jobs import job_runner
from pledge.config import Settings
from pledge.errors import PledgeError
from pledge.jobs import JobBusy, Outcome
from pledge.retention import PURGE_JOB, check_reason
from pledge.tenants.shred_ledger import ledger_entry
from pledge.tenants.timeline import DeletionCause


@click.command()
@click.option("--tenant", "tenant_id", required=True, help="The tenant's internal id (`pledge tenants list`).")
@click.option("--reason", required=True, help="Why, kept in the shred ledger: one line, no personal data.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@command_with_settings
def purge(settings: Settings, tenant_id: str, reason: str, yes: bool) -> None:
    """Delete a tenant's data and destroy its keys now: it cannot be undone, backups included."""
    reason = check_reason(reason)
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        tenant = runtime.tenants.get(tenant_id)
        if not yes:
            click.confirm(
                f"Delete every record of tenant {tenant.id} ({tenant.app_key}, {tenant.state.value}) and destroy its "
                "keys? This cannot be undone",
                abort=True,
                err=True,
            )
        runtime.tenants.request_deletion(tenant.id, DeletionCause.OPERATOR, reason)
        try:
            record = job_runner(runtime).run_now(PURGE_JOB)
        except JobBusy:
            click.echo(
                f"tenant {tenant.id} is deleting: the {PURGE_JOB} job running elsewhere, or its next run, purges it"
            )
            return
        if record.outcome != Outcome.SUCCEEDED:
            raise PledgeError(f"job {PURGE_JOB} {record.outcome}: see `pledge jobs history {PURGE_JOB}`")
        with runtime.engine.connect() as connection:
            entry = ledger_entry(connection, tenant.id)
    if entry is None or entry.purged_at is None:
        raise PledgeError(f"tenant {tenant.id} is not purged yet: see `pledge jobs history {PURGE_JOB}`")
    click.echo(f"tenant {tenant.id} purged at {entry.purged_at.isoformat(timespec='seconds')}")
