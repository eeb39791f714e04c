"""The tenant registry's claims: every site is hosted in the stated region, with the database where the statement
says it is, and the registry keeps only what identifies a site (S1, S3). The checks read the registry's own evidence
functions and the live database connection (:mod:`pledge.hosting`), never a table or a setting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Engine

from pledge.hosting import DatabaseLocation, database_location
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
    """The deployment as the region check reads it: the database holding the registry and the data."""

    @property
    def engine(self) -> Engine: ...


class StatedHosting(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def hosting_provider(self) -> str | None: ...

    @property
    def database_engine(self) -> str: ...

    @property
    def database_networks(self) -> Sequence[str]: ...


def _database_problem(location: DatabaseLocation, facts: StatedHosting) -> str | None:
    """What the live database's location contradicts in the statement, None when it matches."""
    if location.engine != facts.database_engine:
        return f"the statement says {facts.database_engine}, the database is {location.engine}"
    if location.path is not None:
        return None
    if facts.database_networks:
        if location.within(facts.database_networks):
            return None
        networks = ", ".join(facts.database_networks)
        return f"the database answers from {location.address}, outside the declared networks ({networks})"
    if location.on_this_host:
        return None
    return (
        f"the database answers from {location.address}, not from this host: declare its network in "
        "PLEDGE_DATABASE_NETWORKS"
    )


def check_region(deployment: HostedSites, facts: StatedHosting) -> Evidence:
    """Every site is recorded in the stated region, the database is where the statement says, a provider is named."""
    location = database_location(deployment.engine)
    counts = count_by_region(deployment.engine)
    elsewhere = {region: count for region, count in counts.items() if region != facts.region}
    problems = [problem for problem in [_database_problem(location, facts)] if problem]
    if elsewhere:
        listed = ", ".join(f"{plural(count, 'tenant')} in {region}" for region, count in sorted(elsewhere.items()))
        problems.append(f"the statement says {facts.region}, but {listed}")
    if facts.hosting_provider is None:
        problems.append("no hosting provider is declared: set PLEDGE_HOSTING_PROVIDER")
    if problems:
        return Evidence(False, "; ".join(problems))
    total = sum(counts.values())
    return Evidence(
        True,
        f"{location.describe()}; {plural(total, 'tenant')}, all recorded in {facts.region}; provider declared as "
        f"{facts.hosting_provider} (not probed)",
    )


def check_site_identity(deployment: object, facts: object) -> Evidence:
    fields = stored_fields()
    extra = sorted(set(fields) - SITE_IDENTITY_FIELDS)
    if extra:
        return Evidence(False, f"the tenant registry also stores: {', '.join(extra)}")
    return Evidence(True, f"the tenant registry stores {len(fields)} fields: {', '.join(fields)}")


HOSTING_REGION: Claim[HostedSites, StatedHosting] = Claim(
    "hosting-region",
    "S1",
    Section.STORAGE,
    "All data this service stores is hosted {facts.hosting_text}: {facts.database_text}, and every site it "
    "serves is recorded in that region.",
    check_region,
)
SITE_IDENTITY_ONLY: Claim[object, object] = Claim(
    "site-identity-only",
    "S3",
    Section.STORAGE,
    "About your Atlassian site it stores only what identifies the installation: the site's unique IDs "
    "(Connect client key, Forge installation ID, cloud ID), its base URL, the product, the installation's "
    "state and when it changed, and the shared secret your site signs requests with; for a Forge app, also "
    "whether the app's license on your site is active, and when that changed. It stores no site "
    "name, no e-mail address and nothing about the person who installed the app.",
    check_site_identity,
)

CLAIMS: tuple[Claim[HostedSites, StatedHosting], ...] = (HOSTING_REGION, SITE_IDENTITY_ONLY)
"""The registry's claims; :mod:`pledge.statement.claims` places them in the statement."""
