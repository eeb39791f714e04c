"""A mail-log app whose log is kept 90 days, installed for two sites, and the purge as the runtime does it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pledge.app import App
from pledge.cli.jobs import purger
from pledge.jobs import JobRunner
from pledge.retention import Purger, record_retention_job
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field
from pledge.tenants import Tenant

GRACE = timedelta(days=30)

MANIFEST = DataManifest(
    (
        Collection(
            "rules",
            "Which issues are mailed",
            (
                Field("project", Category.CONFIGURATION, "The project whose issues are mailed", indexed=True),
                Field("body", Category.CONTENT, "Template of the mail"),
            ),
        ),
        Collection(
            "mail_log",
            "Which mails went out",
            (Field("issue", Category.CONTENT, "The issue key that was mailed", indexed=True),),
            retention_days=90,
        ),
    )
)


@pytest.fixture
def mailer() -> App:
    return App(key="mailer", name="Mailer", data=MANIFEST)


def install(runtime: Runtime, client_key: str) -> Tenant:
    tenant = runtime.tenants.create(
        app_key="mailer", client_key=client_key, base_url=f"https://{client_key}.atlassian.net", product_type="jira"
    )
    runtime.tenants.set_shared_secret(tenant.id, f"secret-of-{client_key}")
    return tenant


@pytest.fixture
def site(runtime: Runtime) -> Tenant:
    return install(runtime, "site-a")


@pytest.fixture
def other_site(runtime: Runtime) -> Tenant:
    return install(runtime, "site-b")


@pytest.fixture
def purge(runtime: Runtime) -> Purger:
    return purger(runtime)


@pytest.fixture
def jobs(runtime: Runtime, purge: Purger, mailer: App) -> JobRunner:
    return JobRunner(runtime.engine, runtime.clock, [purge.job(), record_retention_job([mailer])])
