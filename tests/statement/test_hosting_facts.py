"""Hosting facts: the provider, the region's name for readers and where the database is are declared in the settings,
printed in the statement, and checked against the live database connection."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine
from tests.statement.example import deployment_with

from pledge.clock import FrozenClock
from pledge.config import Settings, load_settings
from pledge.errors import ConfigurationError
from pledge.statement.facts import Deployment, gather
from pledge.statement.verify import ClaimResult, Outcome, verify


def _hosting(deployment: Deployment) -> ClaimResult:
    verification = asyncio.run(verify(deployment, gather(deployment.settings, deployment.apps), version_id=None))
    return next(result for result in verification.results if result.claim_id == "hosting-region")


@pytest.mark.parametrize(
    ("region", "name"),
    [
        ("us-west-2", "US West (Oregon)"),
        ("us-east-1", "US East (N. Virginia)"),
        ("us-west1", "Oregon"),
        ("westus2", "West US 2"),
    ],
)
def test_a_known_region_is_named_as_its_provider_names_it(region: str, name: str) -> None:
    assert load_settings(region=region).resolved_region_name == name


def test_a_region_pledge_cannot_name_needs_its_name_and_the_provider_must_match() -> None:
    with pytest.raises(ConfigurationError, match="is not a region Pledge can name: set PLEDGE_REGION_NAME"):
        load_settings(region="ap-mars-1")
    assert load_settings(region="ap-mars-1", region_name="Mars (Olympus)").resolved_region_name == "Mars (Olympus)"
    with pytest.raises(ConfigurationError, match="'us-west-2' is not a region of gcp: check PLEDGE_HOSTING_PROVIDER"):
        load_settings(region="us-west-2", hosting_provider="gcp")
    assert load_settings(hosting_provider="Hetzner", region="eu-central-1").hosting_provider_name == "Hetzner"
    with pytest.raises(ConfigurationError, match=r"is not an address or network such as 10\.0\.0\.0/16"):
        load_settings(database_networks="10.0.0.0/33")


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_postgresql_server_answering_outside_the_declared_networks_fails_the_hosting_claim(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    on_this_host = _hosting(deployment_with(settings, engine, clock, hosting_provider="aws"))
    assert on_this_host.outcome is Outcome.PASSED
    assert "its database is a PostgreSQL server on the server's own host" in on_this_host.text

    elsewhere = deployment_with(settings, engine, clock, hosting_provider="aws", database_networks="10.0.0.0/8")
    result = _hosting(elsewhere)
    assert "in the deployment's own network (10.0.0.0/8)" in result.text
    assert (result.outcome, result.evidence) == (
        Outcome.FAILED,
        "the database answers from 127.0.0.1, outside the declared networks (10.0.0.0/8)",
    )
    declared = deployment_with(settings, engine, clock, hosting_provider="aws", database_networks="127.0.0.0/8")
    assert _hosting(declared).outcome is Outcome.PASSED
