"""The retention claims: a site is deleted when its grace ends, and records when their retention does (S7).

Both read the live database: a tenant past its grace that is still not purged, or a record past its collection's
retention, fails verification on the running deployment, whatever the settings say. Each allows the job that does
the work its period and one run's deadline, and no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from pledge.clock import Clock
from pledge.config import Settings
from pledge.promises import Claim, Evidence, Section, plural
from pledge.retention.purge import PURGE_ALLOWANCE
from pledge.retention.record_retention import RETENTION_ALLOWANCE, count_expired, retained_collections
from pledge.store.evidence import DeclaringApp
from pledge.tenants.shred_ledger import ledger
from pledge.tenants.timeline import due_deletions


class LiveDeployment(Protocol):
    """The deployment as these checks read it: its settings, its database, its clock and the apps it serves."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def served_apps(self) -> Sequence[DeclaringApp]: ...


class StatedGrace(Protocol):
    @property
    def deletion_grace_days(self) -> int: ...


def purge_lag(engine: Engine, now: datetime, grace: timedelta) -> tuple[timedelta, int]:
    """How far past its due time (beyond the purge job's allowance) the most overdue tenant still awaits its purge
    (zero when none does), and how many tenants are due or being purged."""
    with engine.connect() as connection:
        due = [deletion.due_at for deletion in due_deletions(connection, now, grace)]
        due += [entry.due_at for entry in ledger(connection) if entry.purged_at is None]
    late = max((now - due_at for due_at in due), default=timedelta(0))
    return max(timedelta(0), late - PURGE_ALLOWANCE), len(due)


def check_purge_lag(deployment: LiveDeployment, facts: StatedGrace) -> Evidence:
    grace_days = deployment.settings.deletion_grace_days
    if grace_days < facts.deletion_grace_days:
        return Evidence(False, f"the statement says {facts.deletion_grace_days} days, the setting is {grace_days}")
    now = deployment.clock.now()
    lag, pending = purge_lag(deployment.engine, now, timedelta(days=grace_days))
    with deployment.engine.connect() as connection:
        purged = [entry for entry in ledger(connection) if entry.purged_at is not None]
    done = plural(len(purged), "site") + " purged so far"
    if lag > timedelta(0):
        return Evidence(
            False,
            f"purge lag {lag.total_seconds():.0f} s: a site is past its grace and the purge job's hour without being "
            f"purged ({plural(pending, 'site')} due); see `pledge jobs history tenant-purge`",
        )
    return Evidence(True, f"purge lag 0 s: grace {grace_days} days; {plural(pending, 'site')} due now; {done}")


def check_record_retention(deployment: LiveDeployment, facts: object) -> Evidence:
    collections = retained_collections(deployment.served_apps)
    if not collections:
        return Evidence(True, "no served app declares a retention: records are kept until their site is purged")
    with deployment.engine.connect() as connection:
        expired = count_expired(connection, collections, deployment.clock.now() - RETENTION_ALLOWANCE)
    declared = ", ".join(f"{c.app_key}.{c.collection} {c.retention.days} days" for c in collections)
    if expired:
        late = ", ".join(f"{plural(count, 'record')} in {c.app_key}.{c.collection}" for c, count in expired.items())
        return Evidence(False, f"past their retention: {late}; see `pledge jobs history record-retention`")
    return Evidence(True, f"no record is past its retention ({declared})")


PURGE_AFTER_GRACE: Claim[LiveDeployment, StatedGrace] = Claim(
    "purge-after-grace",
    "S7",
    Section.REMOVAL,
    "Unrecoverable deletion {facts.deletion_grace_days} days after uninstall, or after the app's licence ends, "
    "and at once when your site's administrator asks for it: your site's records deleted and its data key "
    "destroyed, within the hour after that moment. A shred ledger keeps only your site's internal ID and when "
    "it was deleted.",
    check_purge_lag,
)
RECORD_RETENTION: Claim[LiveDeployment, object] = Claim(
    "record-retention",
    "S7",
    Section.REMOVAL,
    "Automatic deletion of records older than the retention their app declares for them.",
    check_record_retention,
)

CLAIMS: tuple[Claim[LiveDeployment, StatedGrace], ...] = (PURGE_AFTER_GRACE, RECORD_RETENTION)
"""The retention claims; :mod:`pledge.statement.claims` places them in the statement."""
