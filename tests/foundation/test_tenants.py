from datetime import timedelta

import pytest
from sqlalchemy import select

from pledge.clock import FrozenClock
from pledge.runtime import Runtime
from pledge.tenants import TenantNotFound, TenantState, TenantStateError, tenants_table
from pledge.tenants.timeline import DeletionCause


def _install(runtime: Runtime, client_key: str = "client-a") -> str:
    tenant = runtime.tenants.create(
        app_key="mailer", client_key=client_key, base_url="https://a.atlassian.net", product_type="jira"
    )
    return tenant.id


def test_create_and_find_by_every_id(runtime: Runtime) -> None:
    tenant = runtime.tenants.create(
        app_key="mailer",
        client_key="client-a",
        installation_id="ari:cloud:ecosystem::installation/1",
        base_url="https://a.atlassian.net",
        product_type="jira",
    )
    assert runtime.tenants.get(tenant.id) == tenant
    assert runtime.tenants.by_client_key("mailer", "client-a") == tenant
    assert runtime.tenants.by_installation_id("mailer", "ari:cloud:ecosystem::installation/1") == tenant
    assert tenant.region == "us-east-1"
    assert tenant.is_active


def test_unknown_tenant_raises_not_found(runtime: Runtime) -> None:
    with pytest.raises(TenantNotFound):
        runtime.tenants.by_client_key("mailer", "nobody")
    with pytest.raises(TenantNotFound):
        runtime.tenants.get("0" * 32)


def test_the_same_site_is_one_tenant_per_app(runtime: Runtime) -> None:
    first = _install(runtime)
    other_app = runtime.tenants.create(
        app_key="other", client_key="client-a", base_url="https://a.atlassian.net", product_type="jira"
    )
    assert other_app.id != first
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        _install(runtime)


def test_lifecycle_transitions(runtime: Runtime, clock: FrozenClock) -> None:
    tenant_id = _install(runtime)
    clock.advance(timedelta(minutes=5))
    enabled = runtime.tenants.transition(tenant_id, TenantState.ENABLED)
    assert enabled.state_changed_at == clock.now()
    assert not runtime.tenants.transition(tenant_id, TenantState.DISABLED).is_active
    runtime.tenants.transition(tenant_id, TenantState.UNINSTALLED)
    with pytest.raises(TenantStateError, match="cannot go from uninstalled to enabled"):
        runtime.tenants.transition(tenant_id, TenantState.ENABLED)
    with pytest.raises(TenantStateError):
        runtime.tenants.transition(tenant_id, TenantState.PURGED)  # only the purge job purges
    runtime.tenants.request_deletion(tenant_id, DeletionCause.OPERATOR)
    with pytest.raises(TenantStateError):
        runtime.tenants.transition(tenant_id, TenantState.INSTALLED)
    assert [t.id for t in runtime.tenants.list(states=[TenantState.DELETING])] == [tenant_id]


def test_site_rename_updates_base_url(runtime: Runtime) -> None:
    tenant_id = _install(runtime)
    renamed = runtime.tenants.update_identity(tenant_id, base_url="https://renamed.atlassian.net")
    assert runtime.tenants.get(tenant_id).base_url == renamed.base_url == "https://renamed.atlassian.net"


def test_shared_secret_is_stored_only_sealed(runtime: Runtime) -> None:
    tenant_id = _install(runtime)
    secret = "s3cr3t-shared-" + "x" * 100
    runtime.tenants.set_shared_secret(tenant_id, secret)
    assert runtime.tenants.shared_secret(tenant_id) == secret
    with runtime.engine.connect() as connection:
        stored = connection.execute(select(tenants_table.c.shared_secret)).scalar_one()
    assert secret.encode() not in stored
    assert "s3cr3t" not in repr(runtime.tenants.get(tenant_id))


def test_shredding_the_tenant_key_makes_its_secret_unreadable(runtime: Runtime) -> None:
    tenant_id = _install(runtime)
    runtime.tenants.set_shared_secret(tenant_id, "secret")
    runtime.vault.shred(tenant_id)
    with pytest.raises(Exception, match="shredded"):
        runtime.tenants.shared_secret(tenant_id)
