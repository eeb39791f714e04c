"""The purge: a tenant past its grace, or whose deletion was asked for, deleted unrecoverably (S7).

One run of the ``tenant-purge`` job first finishes every purge a stopped run left, then purges each tenant whose
deletion is due (:func:`pledge.tenants.timeline.due_deletions`). A tenant's purge is six steps:

1. ``ledger``: in one fenced transaction, its shred ledger row (``purging``), its state ``purged`` (its requests
   refused, no re-install in place) and the timeline event. This is the commit point: only the run holding the
   job's lease gets here, and from here on the purge only goes forward.
2. ``keys``: its wrapped data keys destroyed and the vault's shred marker written (:meth:`Vault.shred`): every
   ciphertext of the tenant, in any copy, is unreadable from now on, and the tenant never gets a key again.
3. ``rows``: every row it owns deleted through the runtime's :class:`~pledge.tenantdata.TenantDataSet` — records and
   their blind indexes, its timeline, its registry row, each subsystem's tables — in one transaction.
4. ``caches``: what this process remembers of it dropped (other instances' caches expire on their own, within 30 s).
5. ``backups``: the backup target's shred ledger gets the tenant's tombstone and the target's copies of its wrapped
   data keys are deleted (``Backups.bury``): no retained backup can be read for it, even restored into a fresh
   database with the KEK. A target that cannot be reached fails the run here; the next run retries.
6. ``done``: the ledger row gets its ``purged_at``.

Steps 2 to 6 change nothing when run again, so a run killed between any two steps leaves a ``purging`` ledger row
that the next run finishes (tests/retention/test_purge_kill.py kills a real process after each step).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from pledge.jobs import Job, JobContext
from pledge.tenantdata import TenantDataSet
from pledge.tenants import Tenant, TenantNotFound, TenantRegistry
from pledge.tenants.shred_ledger import begin_purge, finish_purge, unfinished_purges
from pledge.tenants.timeline import due_deletions
from pledge.vault import Vault

log = logging.getLogger("pledge.retention")

PURGE_JOB: Final = "tenant-purge"
PURGE_PERIOD: Final = timedelta(hours=1)
PURGE_DEADLINE: Final = timedelta(minutes=10)
PURGE_ALLOWANCE: Final = PURGE_PERIOD + PURGE_DEADLINE
"""How long after its due time a tenant may still await its purge: the job's period and one run's deadline."""


class PurgeStep(enum.StrEnum):
    LEDGER = "ledger"
    KEYS = "keys"
    ROWS = "rows"
    CACHES = "caches"
    BACKUPS = "backups"
    DONE = "done"


StepObserver = Callable[[str, PurgeStep], None]
"""Told each step of a tenant's purge once it is done (the default logs it; tests stop a process there)."""


def log_step(tenant_id: str, step: PurgeStep) -> None:
    log.info("purge of tenant %s: %s done", tenant_id, step.value)


@dataclass(frozen=True, slots=True)
class Purger:
    """What a purge reaches: the tenant's data set, its keys, the grace, the caches to drop and the backups whose
    copies of its keys to destroy (``bury``, given by the layer that knows the backup target)."""

    tenants: TenantRegistry
    vault: Vault
    tenant_data: TenantDataSet
    grace: timedelta
    bury: Callable[[str], None]
    forget: Callable[[Tenant], None] = lambda _tenant: None
    observe: StepObserver = log_step

    def run(self, context: JobContext) -> None:
        """The ``tenant-purge`` job: finish what a stopped run left, then purge every tenant due."""
        with context.engine.connect() as connection:
            unfinished = unfinished_purges(connection)
            due = due_deletions(connection, context.now(), self.grace)
        for tenant_id in unfinished:
            self._complete(tenant_id, context)
        for deletion in due:
            context.check()
            with context.transaction() as connection:
                started = begin_purge(connection, deletion, context.now())
            if started:
                self.observe(deletion.tenant_id, PurgeStep.LEDGER)
                self._complete(deletion.tenant_id, context)

    def _complete(self, tenant_id: str, context: JobContext) -> None:
        """Steps 2 to 5: each one may have run already."""
        try:
            tenant: Tenant | None = self.tenants.get(tenant_id)
        except TenantNotFound:
            tenant = None  # its rows are gone already: a stopped run got that far
        self.vault.shred(tenant_id)
        self.observe(tenant_id, PurgeStep.KEYS)
        deleted = self.tenant_data.delete(tenant_id)
        self.observe(tenant_id, PurgeStep.ROWS)
        if tenant is not None:
            self.forget(tenant)
        self.observe(tenant_id, PurgeStep.CACHES)
        self.bury(tenant_id)
        self.observe(tenant_id, PurgeStep.BACKUPS)
        with context.engine.begin() as connection:
            finish_purge(connection, tenant_id, context.now())
        self.observe(tenant_id, PurgeStep.DONE)
        log.info("purged tenant %s: %d rows deleted, data keys destroyed, backups' copies too", tenant_id, deleted)

    def job(self) -> Job:
        return Job(name=PURGE_JOB, period=PURGE_PERIOD, deadline=PURGE_DEADLINE, run=self.run)
