"""``pledge backup run | list | verify | restore | prune``: encrypted backups in the target PLEDGE_BACKUP_TARGET
names (docs/backup-format.md). Progress goes to stderr, one summary line to stdout; errors are one line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pledge.backup.backup_format import BackupCorrupt, Manifest
from pledge.backup.backups import Backups
from pledge.backup.integrity import verify_backup
from pledge.backup.pruning import prune
from pledge.backup.restore import restore_all, restore_tenant
from pledge.backup.writer import run_backup
from pledge.cli.common import command_with_settings, open_runtime, require_schema
from pledge.config import Settings
from pledge.errors import PledgeError
from pledge.serving import backups_for
from pledge.vault import KeyringError

_SHARE = re.compile(r"(100|[1-9][0-9]?)(\.[0-9]{1,2})?%")


@click.group()
def backup() -> None:
    """Encrypted backups: make, list, verify, restore and prune them (docs/backup-format.md)."""


@backup.command("run")
@command_with_settings
def run(settings: Settings) -> None:
    """Make a backup now: every tenant sealed under its own data key, the manifest written last."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        backups = backups_for(runtime)
        with _progress("backing up") as advance:
            manifest = run_backup(backups, progress=advance)
    click.echo(
        f"backup {manifest.backup_id}: {len(manifest.tenants)} tenants, {len(manifest.segments)} segments, "
        f"{manifest.size:,} bytes in {backups.target.description}"
    )


@backup.command("list")
@command_with_settings
def list_backups(settings: Settings) -> None:
    """Every complete backup, oldest first: id, time, schema revision, tenants, size."""
    with open_runtime(settings) as runtime:
        backups = backups_for(runtime)
        ids = backups.complete_ids()
        for backup_id in ids:
            try:
                manifest = backups.manifest(backup_id)
            except (BackupCorrupt, KeyringError) as exc:
                click.echo(f"{backup_id}  UNREADABLE: {exc}")
                continue
            click.echo(
                f"{backup_id}  {_when(manifest.created_at)}  revision {manifest.schema_revision}  "
                f"{len(manifest.tenants)} tenants  {manifest.size:,} bytes"
            )
    click.echo(f"{len(ids)} complete backups in {backups.target.description}")


@backup.command("verify")
@click.argument("backup_id", required=False)
@click.option("--sample", "sample", metavar="N%", help="Read and authenticate this share of the segments, e.g. 10%.")
@click.option("--full", is_flag=True, help="Read and authenticate every segment.")
@command_with_settings
def verify(settings: Settings, backup_id: str | None, sample: str | None, full: bool) -> None:
    """Check a backup (default: the newest): its manifest authenticates, and each segment read is the one it lists
    and opens under its key. Exit 1 if anything does not hold."""
    share = _share(sample, full)
    with open_runtime(settings) as runtime:
        backups = backups_for(runtime)
        manifest = _chosen(backups, backup_id, None)
        with _progress("verifying") as advance:
            result = verify_backup(backups, manifest, share=share, progress=advance)
    for failure in result.failures:
        click.echo(f"FAILED {failure}", err=True)
    shredded = f", {len(result.shredded)} of shredded tenants (unreadable by design)" if result.shredded else ""
    click.echo(
        f"backup {result.backup_id}: {result.checked} of {result.total} segments read{shredded}, "
        f"{len(result.failures)} failed"
    )
    if not result.passed:
        raise PledgeError(f"backup {result.backup_id} does not verify: {result.failures[0]}")


@backup.command("restore")
@click.argument("backup_id", required=False)
@click.option("--tenant", "tenant_id", help="Restore this tenant only, into the live database (others untouched).")
@click.option("--to", "to", metavar="TIME", help="The newest backup made at or before TIME (ISO 8601, UTC if no zone).")
@command_with_settings
def restore(settings: Settings, backup_id: str | None, tenant_id: str | None, to: str | None) -> None:
    """Restore a backup (default: the newest): the whole system into an empty database, or one tenant."""
    with open_runtime(settings) as runtime:
        backups = backups_for(runtime)
        manifest = _chosen(backups, backup_id, _time(to))
        if tenant_id is not None:
            require_schema(runtime)
            report = restore_tenant(backups, manifest, tenant_id)
        else:
            with _progress("restoring") as advance:
                report = restore_all(backups, manifest, runtime.engine, progress=advance)
    for tombstone in report.left_out:  # one line each, with its reason code, for the operator's record
        click.echo(f"left out: {tombstone.refusal()}", err=True)
    shredded = f"; {len(report.shredded)} shredded tenants left out" if report.shredded else ""
    click.echo(
        f"restored backup {report.backup_id}: {len(report.tenants)} tenants, {sum(report.rows.values()):,} rows"
        f"{shredded}"
    )


@backup.command("prune")
@command_with_settings
def prune_backups(settings: Settings) -> None:
    """Delete backups retention no longer keeps (each day's newest inside PLEDGE_BACKUP_RETENTION_DAYS stays)."""
    with open_runtime(settings) as runtime:
        result = prune(backups_for(runtime))
    locked = f", {len(result.locked)} locked for now" if result.locked else ""
    click.echo(f"pruned {len(result.deleted)} backups, kept {len(result.kept)}{locked}")


def _chosen(backups: Backups, backup_id: str | None, at: datetime | None) -> Manifest:
    return backups.manifest(backup_id) if backup_id else backups.latest(at)


def _share(sample: str | None, full: bool) -> float:
    if sample is not None and full:
        raise click.UsageError("give --sample N% or --full, not both")
    if sample is None:
        return 1.0 if full else 0.1
    if not _SHARE.fullmatch(sample):
        raise click.BadParameter("a share such as 10% (above 0, at most 100)", param_hint="--sample")
    return float(sample[:-1]) / 100


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("an ISO 8601 time, e.g. 2026-12-01T06:00Z", param_hint="--to") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    console = Console(stderr=True)
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a script reading stderr gets the one-line error, no bar
    ) as bar:
        task = bar.add_task(what, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
