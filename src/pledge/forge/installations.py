"""Forge installations: installationId ↔ tenant, the license signal, and the lock a realm migration holds (S3, S6).

A Forge-only app gets its tenant from the ``avi:forge:installed:app`` trigger; a Connect-on-Forge app whose Connect
install carried the installationId already has one, and the same tenant is found by either id. The installer's
accountId is never read out of the payload, let alone stored. An inactive license is recorded as a signal for the
operator and the statement, and starts the deletion grace as an uninstall does (docs/retention.md); an active
license again ends that grace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from pledge.db import UtcDateTime, metadata
from pledge.runtime import Runtime
from pledge.tenantdata import TableRows, TenantDataSet
from pledge.tenants import Tenant, TenantNotFound, TenantState, refuse_while_deleted
from pledge.trust.forge_fit import Invocation

log = logging.getLogger("pledge.forge")

forge_installations_table = Table(
    "forge_installations",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("license_active", Boolean, nullable=True),
    Column("license_changed_at", UtcDateTime, nullable=True),
    Column("migration_id", String(128), nullable=True),
)

INSTALLATION_ROWS: Final = TableRows(forge_installations_table)


def forge_tenant_data(runtime: Runtime) -> TenantDataSet:
    """The runtime's tenant data, the tenant's Forge installation row in it: whichever Forge part meets a runtime
    first registers it (registering it again changes nothing)."""
    runtime.tenant_data.register(INSTALLATION_ROWS)
    return runtime.tenant_data


@dataclass(frozen=True, slots=True)
class InstallationState:
    license_active: bool | None
    migration_id: str | None


class Installations:
    """The Forge facts about tenants of one app, beside the tenant registry."""

    def __init__(self, runtime: Runtime, app_key: str, product_type: str) -> None:
        forge_tenant_data(runtime)
        self._runtime = runtime
        self._app_key = app_key
        self._product_type = product_type

    def install(self, invocation: Invocation) -> tuple[Tenant, bool]:
        """The tenant of a verified installed/upgraded trigger, created on first delivery; ``(tenant, created)``.

        Idempotent: Forge redelivers a trigger up to four times, and two deliveries may overlap when the first one
        outlives Forge's 5 s timeout; the unique installationId makes the second one find the first one's tenant.
        """
        tenants = self._runtime.tenants
        created = False
        try:
            tenant = tenants.by_installation_id(self._app_key, invocation.installation_id)
        except TenantNotFound:
            try:
                tenant = tenants.create(
                    app_key=self._app_key,
                    installation_id=invocation.installation_id,
                    cloud_id=invocation.cloud_id,
                    base_url=invocation.site_url or invocation.api_base_url,
                    product_type=self._product_type,
                )
                created = True
            except IntegrityError:
                tenant = tenants.by_installation_id(self._app_key, invocation.installation_id)
        if not created:
            refuse_while_deleted(tenant)
            tenant = tenants.update_identity(tenant.id, base_url=invocation.site_url, cloud_id=invocation.cloud_id)
            if tenant.state is TenantState.UNINSTALLED:
                tenant = tenants.transition(tenant.id, TenantState.INSTALLED)  # reinstalled within the grace
        self.observe(tenant, invocation)
        return tenant, created

    def state(self, tenant_id: str) -> InstallationState | None:
        with self._runtime.engine.connect() as connection:
            row = connection.execute(
                select(forge_installations_table).where(forge_installations_table.c.tenant_id == tenant_id)
            ).one_or_none()
        return None if row is None else InstallationState(row.license_active, row.migration_id)

    def observe(self, tenant: Tenant, invocation: Invocation, known: InstallationState | None = None) -> None:
        """Record the license state a verified FIT carries, writing only when it changed."""
        known = known or self.state(tenant.id)
        if known is not None and known.license_active == invocation.license_active:
            return
        now = self._runtime.clock.now()
        values = {"license_active": invocation.license_active, "license_changed_at": now}
        try:
            with self._runtime.engine.begin() as connection:
                if known is None:
                    connection.execute(insert(forge_installations_table).values(tenant_id=tenant.id, **values))
                else:
                    connection.execute(
                        update(forge_installations_table)
                        .where(forge_installations_table.c.tenant_id == tenant.id)
                        .values(**values)
                    )
        except IntegrityError:
            return  # another instance recorded the same sighting first
        if invocation.license_active is not None:
            # An ended licence starts the deletion grace, as an uninstall does; an active one again ends it.
            self._runtime.tenants.licence_changed(tenant.id, invocation.license_active)
        if invocation.license_active is False:
            log.warning("tenant %s: Forge reports the app's license inactive: the deletion grace starts", tenant.id)

    def set_migration(self, tenant_id: str, migration_id: str | None) -> None:
        with self._runtime.engine.begin() as connection:
            result = connection.execute(
                update(forge_installations_table)
                .where(forge_installations_table.c.tenant_id == tenant_id)
                .values(migration_id=migration_id)
            )
            if result.rowcount == 0:
                connection.execute(
                    insert(forge_installations_table).values(tenant_id=tenant_id, migration_id=migration_id)
                )

    def license_active(self, tenant_id: str) -> bool | None:
        """The last license state Forge reported for the tenant (None: never reported, e.g. a free app)."""
        state = self.state(tenant_id)
        return None if state is None else state.license_active
