"""The reporting claim: every site whose users' accountIds are stored is reported to Atlassian on its cycle (S2).

Its evidence is the record of cycles: for each active tenant of an app that declares account fields, the last
successful cycle must be no older than its cycle (7 days, or what Atlassian asked for) and a day of slack (the job
runs hourly; a day covers a missed run or a Forge app token that arrives late). A tenant installed more recently
than that is not yet late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, Protocol

from sqlalchemy import Engine

from pledge.app import App
from pledge.clock import Clock
from pledge.promises import Claim, Evidence, Section, plural
from pledge.reporting.atlassian_api import DEFAULT_CYCLE
from pledge.reporting.cycle import REPORTED_STATES
from pledge.reporting.tables import CycleRecord, last_successes, latest_cycle
from pledge.runtime import Runtime

SLACK: Final = timedelta(days=1)


class ReportingDeployment(Protocol):
    @property
    def engine(self) -> Engine: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def served_apps(self) -> tuple[App, ...]: ...
    def require_runtime(self) -> Runtime: ...


def check_reporting(deployment: ReportingDeployment, facts: object) -> Evidence:
    apps = [app for app in deployment.served_apps if app.data.stores_account_ids]
    if not apps:
        return Evidence(True, "no served app declares fields of Atlassian accountIds: there is nothing to report")
    registry = deployment.require_runtime().tenants
    tenants = [tenant for app in apps for tenant in registry.list(app_key=app.key, states=REPORTED_STATES)]
    ids = [tenant.id for tenant in tenants]
    successes = last_successes(deployment.engine, ids)
    now = deployment.clock.now()
    late = []
    for tenant in tenants:
        success = successes.get(tenant.id)
        since = success.started_at if success else tenant.created_at
        if now - since > (success.cycle if success else DEFAULT_CYCLE) + SLACK:
            late.append(f"{tenant.id} (last success {_when(success.started_at) if success else 'never'})")
    last = latest_cycle(deployment.engine, ids)
    summary = f"{plural(len(tenants), 'site')} of {plural(len(apps), 'app')} storing accountIds; {_last(last)}"
    if late:
        return Evidence(False, f"{summary}; not reported within their cycle and a day: {', '.join(late)}")
    return Evidence(True, f"{summary}; every site reported within its cycle")


def _last(record: CycleRecord | None) -> str:
    if record is None:
        return "no cycle has run yet"
    return (
        f"last cycle {_when(record.started_at)} {record.outcome.value}: {plural(record.accounts, 'account')} reported,"
        f" {record.closed} closed, {record.updated} updated"
    )


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


PERSONAL_DATA_REPORTING: Claim[ReportingDeployment, object] = Claim(
    "personal-data-reporting",
    "S2",
    Section.PRIVACY,
    "Personal data reporting runs every 7 days (or on the cycle Atlassian asks for): the Atlassian accountIds "
    "stored are reported to Atlassian, and a closed account's data is erased from every record that holds it.",
    check_reporting,
)

CLAIMS = (PERSONAL_DATA_REPORTING,)
