"""Test data for backups: sites of an app that stores personal data and secrets (the PII corpus's values)."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pledge.app import App
from pledge.runtime import Runtime
from pledge.store import Category, Collection, DataManifest, Field, Secret
from pledge.store.pii import scan
from pledge.tenants import Tenant

sys.path.insert(0, str(Path(__file__).parent.parent / "store"))
from pii_corpus import TRUE_POSITIVES

MANIFEST = DataManifest(
    (
        Collection(
            "rules",
            "Which issues are mailed to whom",
            (
                Field("name", Category.CONFIGURATION, "Shown in the list of rules", indexed=True),
                Field("recipient", Category.PERSONAL, "The address the mail goes to", indexed=True),
                Field("body", Category.CONTENT, "Template of the mail"),
                Field("smtp_password", Category.SECRET, "Password of the customer's SMTP server"),
            ),
        ),
    )
)
MAILER = App(key="mailer", name="Mailer", data=MANIFEST)


@dataclass
class Corpus:
    tenants: list[Tenant]
    needles: list[str] = field(default_factory=list)
    """Every clear-text value written that must never appear in a backup."""


def personal_values() -> list[str]:
    return [text[f.start : f.end] for _, text, _ in TRUE_POSITIVES for f in scan(text)]


def populate(runtime: Runtime, sites: int = 3, records: int = 6) -> Corpus:
    corpus = Corpus([])
    values = personal_values()
    for site in range(sites):
        tenant = runtime.tenants.create(
            app_key="mailer",
            client_key=f"site-{site}",
            base_url=f"https://site-{site}.atlassian.net",
            product_type="jira",
        )
        shared = f"connect-secret-{uuid.uuid4().hex}"
        runtime.tenants.set_shared_secret(tenant.id, shared)
        corpus.needles.append(shared)
        store = runtime.store_for(MAILER, tenant)
        for i in range(records):
            recipient = values[(site * records + i) % len(values)]
            password = f"smtp-password-{uuid.uuid4().hex}"
            body = f"body-text-{uuid.uuid4().hex}"
            store.create(
                "rules", {"name": f"rule {i}", "recipient": recipient, "body": body, "smtp_password": Secret(password)}
            )
            corpus.needles += [recipient, password, body]
        corpus.tenants.append(tenant)
    return corpus
