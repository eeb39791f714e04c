"""The tenant registry's claims: every site is hosted in the stated region, and the registry keeps only what
identifies a site (S1, S3). The checks read the registry's own evidence functions, never its table."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Engine

from pledge.config import Settings
from pledge.promises import Claim, Evidence, Section, plural
from pledge.tenants.registry import count_by_region, stored_fields

# What S3 allows the tenant registry to keep about a site: its ids, address, product, state and times, and the
# shared secret (sealed under the site's own key). A column outside this set breaks the promise.
SITE_IDENTITY_FIELDS = frozenset(
    {
        "id",
        "app_key",
        "client_key",
        "installation_id",
        "cloud_id",
        "base_url",
        "product_type",
        "region",
        "state",
        "shared_secret",
        "created_at",
        "updated_at",
        "state_changed_at",
    }
)


class HostedSites(Protocol):
    """The deployment as the region check reads it: its settings and the database holding the registry."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...


class StatedRegion(Protocol):
    @property
    def region(self) -> str: ...


def check_region(deployment: HostedSites, facts: StatedRegion) -> Evidence:
    counts = count_by_region(deployment.engine)
    elsewhere = {region: count for region, count in counts.items() if region != facts.region}
    if deployment.settings.region != facts.region:
        return Evidence(False, f"the statement says {facts.region}, the setting is {deployment.settings.region}")
    if elsewhere:
        listed = ", ".join(f"{plural(count, 'tenant')} in {region}" for region, count in sorted(elsewhere.items()))
        return Evidence(False, f"setting {facts.region}, but {listed}")
    total = sum(counts.values())
    return Evidence(True, f"setting {facts.region}; {plural(total, 'tenant')}, all in {facts.region}")


def check_site_identity(deployment: object, facts: object) -> Evidence:
    fields = stored_fields()
    extra = sorted(set(fields) - SITE_IDENTITY_FIELDS)
    if extra:
        return Evidence(False, f"the tenant registry also stores: {', '.join(extra)}")
    return Evidence(True, f"the tenant registry stores {len(fields)} fields: {', '.join(fields)}")


HOSTING_REGION: Claim[HostedSites, StatedRegion] = Claim(
    "hosting-region",
    "S1",
    Section.STORAGE,
    "All data this service stores is hosted in the **{facts.region}** region.",
    check_region,
)
SITE_IDENTITY_ONLY: Claim[object, object] = Claim(
    "site-identity-only",
    "S3",
    Section.STORAGE,
    "About your Atlassian site it stores only what identifies the installation: the site's unique IDs "
    "(Connect client key, Forge installation ID, cloud ID), its base URL, the product, the installation's "
    "state and when it changed, and the shared secret your site signs requests with. It stores no site "
    "name, no e-mail address and nothing about the person who installed the app.",
    check_site_identity,
)

CLAIMS: tuple[Claim[HostedSites, StatedRegion], ...] = (HOSTING_REGION, SITE_IDENTITY_ONLY)
"""The registry's claims; :mod:`pledge.statement.claims` places them in the statement."""
