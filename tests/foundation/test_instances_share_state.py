"""Two instances of one deployment (two runtimes on one database) see the same tenant states and the same counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.egress import EgressRefused, OutboundClient, UnsafePath
from pledge.egress.claims import check_egress_allowlist
from pledge.runtime import Runtime
from pledge.tenants import TenantState

APP = "issue-mailer"
CLIENT_KEY = "a-client-key"


@pytest.fixture
def other(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[Runtime]:
    opened = Runtime.open(settings, clock=clock, engine=engine)
    yield opened
    opened.close()


def test_every_tenant_change_made_by_one_instance_is_forgotten_by_the_other_at_its_next_poll(
    runtime: Runtime, other: Runtime
) -> None:
    cache = other.connect_tenants
    assert other.tenant_changes.poll() == 0  # where it starts: nothing it caches can be older
    assert cache.load(APP, CLIENT_KEY) is None
    assert cache.known_unknown(APP, CLIENT_KEY)

    tenant = runtime.tenants.create(app_key=APP, client_key=CLIENT_KEY, base_url="https://acme.test", product_type="j")
    runtime.tenants.set_shared_secret(tenant.id, "the first secret")
    assert cache.known_unknown(APP, CLIENT_KEY)  # until it polls
    assert other.tenant_changes.poll() == 1
    assert not cache.known_unknown(APP, CLIENT_KEY)
    loaded = cache.load(APP, CLIENT_KEY)
    assert loaded is not None and loaded.shared_secret == "the first secret"

    runtime.tenants.set_shared_secret(tenant.id, "the rotated secret")
    assert cache.get(APP, CLIENT_KEY) == loaded
    assert other.tenant_changes.poll() == 1
    assert cache.get(APP, CLIENT_KEY) is None
    rotated = cache.load(APP, CLIENT_KEY)
    assert rotated is not None and rotated.shared_secret == "the rotated secret"

    for state in (TenantState.DISABLED, TenantState.UNINSTALLED):
        runtime.tenants.transition(tenant.id, state)
        assert other.tenant_changes.poll() == 1
        assert cache.get(APP, CLIENT_KEY) is None
        reloaded = cache.load(APP, CLIENT_KEY)
        assert reloaded is not None and reloaded.tenant.state is state
    assert other.tenant_changes.poll() == 0


def test_changes_of_several_tenants_between_two_polls_are_all_found(runtime: Runtime, other: Runtime) -> None:
    other.tenant_changes.poll()
    keys = [f"site-{number}" for number in range(3)]
    for key in keys:
        created = runtime.tenants.create(app_key=APP, client_key=key, base_url="https://acme.test", product_type="j")
        runtime.tenants.transition(created.id, TenantState.ENABLED)
    seen, changed = other.tenants.changes_since(0)
    assert sorted(tenant.client_key or "" for tenant in changed) == keys
    assert seen == other.tenants.latest_change() == 6
    assert other.tenant_changes.poll() == 3


@dataclass
class _Deployment:
    runtime: Runtime

    def require_runtime(self) -> Runtime:
        return self.runtime


@dataclass
class _Facts:
    egress_destinations: tuple[str, ...] = ()
    peer_deployments: tuple[str, ...] = ()


async def test_egress_refusals_are_counted_for_the_deployment_not_the_process(runtime: Runtime, other: Runtime) -> None:
    with pytest.raises(EgressRefused):
        await runtime.egress.request("GET", "https://exfiltrate.example/upload")
    with pytest.raises(UnsafePath):
        await other.egress.request("GET", f"{other.settings.atlassian_api_url}/rest/api/3/issue/X/../../myself")
    with pytest.raises(EgressRefused):
        await other.egress.request("GET", "https://exfiltrate.example/upload")
    assert (runtime.egress.refusals, other.egress.refusals) == (1, 2)
    assert runtime.egress.recorded_refusals() == other.egress.recorded_refusals() == 3

    facts = _Facts(egress_destinations=tuple(sorted(runtime.egress.allowed)))
    evidence = check_egress_allowlist(_Deployment(runtime), facts)
    assert evidence.passed
    assert "3 refusals counted by the deployment's instances" in evidence.detail
    fresh = OutboundClient()  # a client without the database counts its own refusals only
    assert fresh.recorded_refusals() == 0
