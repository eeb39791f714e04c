"""Issue #17 item 2: a purge killed with SIGKILL after any of its steps is finished by the next run, on both
engines. From the first step on the tenant is ``purged``: refused, and never re-installed in place."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.retention.conftest import GRACE

from pledge.app import App
from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.jobs import JobRunner
from pledge.retention import PURGE_JOB, PurgeStep
from pledge.retention.purge import PURGE_DEADLINE
from pledge.runtime import Runtime
from pledge.store.tables import records_table
from pledge.tenants import Tenant, TenantNotFound, TenantState
from pledge.tenants.shred_ledger import ledger_entry

PROCESS = Path(__file__).with_name("purge_process.py")
ROOT = Path(__file__).resolve().parents[2]


def _records_of(runtime: Runtime, tenant: Tenant) -> int:
    with runtime.engine.connect() as connection:
        query = select(func.count()).select_from(records_table).where(records_table.c.tenant_id == tenant.id)
        return int(connection.execute(query).scalar_one())


@pytest.mark.parametrize("step", [PurgeStep.LEDGER, PurgeStep.KEYS, PurgeStep.ROWS, PurgeStep.CACHES])
def test_a_purge_killed_after_each_step_is_finished_by_the_next_run(
    step: PurgeStep,
    runtime: Runtime,
    settings: Settings,
    clock: FrozenClock,
    jobs: JobRunner,
    mailer: App,
    site: Tenant,
    other_site: Tenant,
) -> None:
    for tenant in (site, other_site):
        runtime.store_for(mailer, tenant).create("rules", {"project": "SIM", "body": "Hello"})
    runtime.tenants.transition(site.id, TenantState.UNINSTALLED)
    clock.advance(GRACE + timedelta(minutes=1))

    killed = subprocess.run(
        [
            sys.executable,
            str(PROCESS),
            settings.resolved_database_url,
            str(settings.data_dir),
            clock.now().isoformat(),
            step.value,
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    with runtime.engine.connect() as connection:
        entry = ledger_entry(connection, site.id)
    assert entry is not None and entry.purged_at is None  # committed to the purge, not done
    if step is PurgeStep.LEDGER:
        assert runtime.tenants.get(site.id).state is TenantState.PURGED and not runtime.vault.is_shredded(site.id)
    elif step is PurgeStep.KEYS:
        assert runtime.vault.is_shredded(site.id) and _records_of(runtime, site) == 1
    else:
        with pytest.raises(TenantNotFound):
            runtime.tenants.get(site.id)

    # The killed run's lease lasts its deadline; then the next run takes it and finishes the purge.
    clock.advance(PURGE_DEADLINE + timedelta(seconds=1))
    assert jobs.run_now(PURGE_JOB).outcome == "succeeded"
    with runtime.engine.connect() as connection:
        entry = ledger_entry(connection, site.id)
    assert entry is not None and entry.purged_at == clock.now()
    assert _records_of(runtime, site) == 0 and runtime.vault.is_shredded(site.id)
    assert all(rows == [] for rows in runtime.tenant_data.export(site.id)["parts"].values())
    assert _records_of(runtime, other_site) == 1 and runtime.tenants.shared_secret(other_site.id) == "secret-of-site-b"
