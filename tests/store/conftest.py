"""An app with a manifest that uses every category, installed for two tenants."""

from __future__ import annotations

import pytest

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field, TenantStore
from pledge.tenants import Tenant

MANIFEST = DataManifest(
    (
        Collection(
            "rules",
            "Which issues are mailed to whom",
            (
                Field("name", Category.CONFIGURATION, "Shown in the list of rules", indexed=True),
                Field("project", Category.CONFIGURATION, "The project whose issues the rule mails", indexed=True),
                Field("recipient", Category.PERSONAL, "The address the mail goes to", indexed=True),
                Field("owner", Category.PERSONAL, "accountId of the user who made the rule", indexed=True),
                Field("body", Category.CONTENT, "Template of the mail"),
                Field("smtp_password", Category.SECRET, "Password of the customer's SMTP server"),
            ),
        ),
        Collection(
            "sent",
            "Which mails went out, for the audit page",
            (
                Field("issue", Category.CONTENT, "The issue key that was mailed", indexed=True),
                Field("note", Category.CONTENT, "Free text the user added"),
            ),
            retention_days=30,
        ),
    )
)


@pytest.fixture
def mailer() -> App:
    return App(key="mailer", name="Mailer", data=MANIFEST)


def _install(runtime: Runtime, client_key: str) -> Tenant:
    return runtime.tenants.create(
        app_key="mailer", client_key=client_key, base_url=f"https://{client_key}.atlassian.net", product_type="jira"
    )


@pytest.fixture
def tenant(runtime: Runtime) -> Tenant:
    return _install(runtime, "site-a")


@pytest.fixture
def other_tenant(runtime: Runtime) -> Tenant:
    return _install(runtime, "site-b")


@pytest.fixture
def store(runtime: Runtime, mailer: App, tenant: Tenant) -> TenantStore:
    return runtime.store_for(mailer, tenant)
