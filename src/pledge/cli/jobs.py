"""``pledge jobs``: the scheduled jobs of this deployment, their history, and running one now under its lease."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import click

from pledge.app import App
from pledge.backup.schedule import backup_jobs
from pledge.backup.tombstones import Gone
from pledge.cli.common import command_with_settings, load_apps, open_runtime, require_schema
from pledge.config import Settings
from pledge.errors import PledgeError
from pledge.jobs import Job, JobRunner, JobStatus, Outcome, RunRecord, builtin_jobs
from pledge.reporting import reporting_job
from pledge.retention import Purger, record_retention_job
from pledge.runtime import Runtime
from pledge.serving import backups_for
from pledge.tenants import Tenant
from pledge.trust.fit_uses import FORGE_TOKEN_USES_SWEEP

_LIST_COLUMNS = ("NAME", "PERIOD", "DEADLINE", "NEXT DUE", "LAST SUCCESS", "LAST FAILURE", "OVERDUE", "RETRY")
_HISTORY_COLUMNS = ("NAME", "STARTED", "FINISHED", "OUTCOME", "DURATION", "INSTANCE")


def declared_jobs(runtime: Runtime, apps: Sequence[App]) -> tuple[Job, ...]:
    """Every job of this deployment serving ``apps``: what `pledge serve` runs and `pledge jobs` shows."""
    period = timedelta(hours=runtime.settings.backup_period_hours)
    return (
        *builtin_jobs(),
        FORGE_TOKEN_USES_SWEEP,
        *backup_jobs(backups_for(runtime), period),
        purger(runtime).job(),
        record_retention_job(apps),
        reporting_job(runtime, apps),
    )


def purger(runtime: Runtime) -> Purger:
    """The purge as this runtime does it: through its tenant data, its vault, its backup target, and dropping its
    cached tenants."""

    def forget(tenant: Tenant) -> None:
        if tenant.client_key is not None:
            runtime.connect_tenants.forget(tenant.app_key, tenant.client_key)

    grace = timedelta(days=runtime.settings.deletion_grace_days)
    backups = backups_for(runtime)

    def bury(tenant_id: str) -> None:
        backups.bury(tenant_id, Gone.SHREDDED)

    return Purger(runtime.tenants, runtime.vault, runtime.tenant_data, grace, bury, forget)


def job_runner(runtime: Runtime, apps: Sequence[App] | None = None) -> JobRunner:
    """The runner of the declared jobs; ``apps`` by default those of ``PLEDGE_APPS``."""
    served = load_apps(runtime.settings.apps) if apps is None else apps
    return JobRunner(runtime.engine, runtime.clock, declared_jobs(runtime, served))


@click.group()
def jobs() -> None:
    """Scheduled jobs: each runs once per period across every instance (docs/jobs.md)."""


@jobs.command("list")
@command_with_settings
def list_jobs(settings: Settings) -> None:
    """Every declared job: period, deadline, when it is next due, its last success and failure, how overdue."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        statuses = job_runner(runtime, load_apps(settings.apps)).status()
    _table(
        _LIST_COLUMNS,
        [
            (
                status.job.name,
                _span(status.job.period),
                _span(status.job.deadline),
                _when(status.next_due),
                _when(status.last_success),
                _when(status.last_failure),
                f"{status.overdue_seconds:.0f}s" + (" LATE" if status.is_late else ""),
                _retry(status),
            )
            for status in statuses
        ],
    )


def _retry(status: JobStatus) -> str:
    if not status.failures_in_a_row:
        return ""
    return f"{status.failures_in_a_row} failed, next {_when(status.next_attempt)}"


@jobs.command("run")
@click.argument("name")
@command_with_settings
def run_job(settings: Settings, name: str) -> None:
    """Run NAME now, due or not, under its lease: refused while another instance runs it."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        record = job_runner(runtime, load_apps(settings.apps)).run_now(name)
    _table(_HISTORY_COLUMNS, [_history_row(record)])
    if record.outcome != Outcome.SUCCEEDED:
        raise PledgeError(f"job {name} {record.outcome}" + (f": {record.error}" if record.error else ""))


@jobs.command("history")
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="How many runs.")
@command_with_settings
def history(settings: Settings, name: str | None, limit: int) -> None:
    """The latest runs, newest first, one line each (of NAME only, if given)."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        records = job_runner(runtime, load_apps(settings.apps)).history(name, limit=limit)
    _table(_HISTORY_COLUMNS, [_history_row(record) for record in records])


def _history_row(record: RunRecord) -> tuple[str, ...]:
    duration = record.duration_seconds
    return (
        record.name,
        _when(record.started_at),
        _when(record.finished_at),
        str(record.outcome) + (f" ({record.error})" if record.error else ""),
        "-" if duration is None else f"{duration:.3f}s",
        record.instance,
    )


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    lines = [columns, *rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(columns))]
    for line in lines:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _span(span: timedelta) -> str:
    return f"{span.total_seconds():.0f}s"
