"""The tenant registry: internal id, external ids, base URL, product, state and timestamps — nothing else.

No installer accountId, site name or e-mail address is ever stored (S3). The Connect shared secret is kept only
sealed by the vault under the tenant's own data key, so purging the tenant's key shreds it too.

Signed lifecycle events (install, uninstall, enable, disable) change who can act for a tenant, and their tokens are
not bound to the body they arrive with. So each token is accepted once (its SHA-256 digest is kept until it expires,
in the database, so the rule holds across instances) and, per tenant, an event older than the last one accepted is
refused: a captured ``installed`` can neither be replayed nor follow a later ``uninstalled``.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from sqlalchemy import (
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError
from pledge.tenantdata import TableRows


class TenantState(enum.StrEnum):
    INSTALLED = "installed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"
    PURGED = "purged"


# Re-installing is allowed from any state but PURGED: Atlassian sends `installed` again on upgrade, secret
# rotation and site rename, and a customer may reinstall during the uninstall grace period.
_FROM_INSTALLED = frozenset({TenantState.INSTALLED, TenantState.ENABLED, TenantState.DISABLED, TenantState.UNINSTALLED})
_TRANSITIONS: dict[TenantState, frozenset[TenantState]] = {
    TenantState.INSTALLED: _FROM_INSTALLED,
    TenantState.ENABLED: _FROM_INSTALLED,
    TenantState.DISABLED: _FROM_INSTALLED,
    TenantState.UNINSTALLED: frozenset({TenantState.INSTALLED, TenantState.UNINSTALLED, TenantState.PURGED}),
    TenantState.PURGED: frozenset(),
}

tenants_table = Table(
    "tenants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("app_key", String(255), nullable=False),
    Column("client_key", String(255), nullable=True),
    Column("installation_id", String(255), nullable=True),
    Column("cloud_id", String(64), nullable=True),
    Column("base_url", String(2048), nullable=False),
    Column("product_type", String(32), nullable=False),
    Column("region", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("shared_secret", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("state_changed_at", UtcDateTime, nullable=False),
    UniqueConstraint("app_key", "client_key"),
    UniqueConstraint("app_key", "installation_id"),
)


lifecycle_tokens_table = Table(
    "lifecycle_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the token, hex: never the token itself
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_lifecycle_tokens_expires_at", "expires_at"),
)

lifecycle_order_table = Table(
    "lifecycle_order",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("issued_at", Float, nullable=False),  # the iat (epoch seconds) of the last lifecycle event accepted
)

TENANT_ROWS: Final = (TableRows(tenants_table, "id"), TableRows(lifecycle_order_table))
"""A tenant's rows here, as parts of its tenant data (:mod:`pledge.tenantdata`). ``lifecycle_tokens`` is no
tenant's: it holds digests of used tokens, whoever they were for."""


class TenantNotFound(PledgeError):
    """No tenant with that id or external id."""


class TenantStateError(PledgeError):
    """A lifecycle transition that the state machine does not allow."""


class SecretSealer(Protocol):
    """Seals a tenant's secrets under that tenant's key (the vault implements it)."""

    def seal(self, tenant_id: str, name: str, plaintext: bytes) -> bytes: ...

    def unseal(self, tenant_id: str, name: str, sealed: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    app_key: str
    client_key: str | None
    installation_id: str | None
    cloud_id: str | None
    base_url: str
    product_type: str
    region: str
    state: TenantState
    created_at: datetime
    updated_at: datetime
    state_changed_at: datetime

    @property
    def is_active(self) -> bool:
        """Installed and not disabled: requests for this tenant may be served."""
        return self.state in (TenantState.INSTALLED, TenantState.ENABLED)

    def __repr__(self) -> str:
        return f"Tenant(id={self.id!r}, app_key={self.app_key!r}, state={self.state.value!r})"


_SHARED_SECRET = "connect.shared_secret"  # noqa: S105 - a field name, not a secret

_CONNECT_INSTALLATION: Final = select(tenants_table).where(
    (tenants_table.c.app_key == bindparam("app_key")) & (tenants_table.c.client_key == bindparam("client_key"))
)
"""A Connect request's tenant and sealed secret in one indexed lookup (the unique (app_key, client_key) index).
Built once: building the clause per call cost more than running it (cProfile of a tenant-cache miss)."""


class TenantRegistry:
    """Create, find and move tenants through their lifecycle. Tenants appear in logs by internal id only."""

    def __init__(self, engine: Engine, clock: Clock, sealer: SecretSealer, region: str) -> None:
        self._engine = engine
        self._clock = clock
        self._sealer = sealer
        self._region = region

    def create(
        self,
        *,
        app_key: str,
        base_url: str,
        product_type: str,
        client_key: str | None = None,
        installation_id: str | None = None,
        cloud_id: str | None = None,
        state: TenantState = TenantState.INSTALLED,
    ) -> Tenant:
        if client_key is None and installation_id is None:
            raise ValueError("a tenant needs a clientKey or an installationId")
        now = self._clock.now()
        tenant = Tenant(
            id=uuid.uuid4().hex,
            app_key=app_key,
            client_key=client_key,
            installation_id=installation_id,
            cloud_id=cloud_id,
            base_url=base_url,
            product_type=product_type,
            region=self._region,
            state=state,
            created_at=now,
            updated_at=now,
            state_changed_at=now,
        )
        with self._engine.begin() as connection:
            connection.execute(insert(tenants_table).values(**_row(tenant)))
        return tenant

    def get(self, tenant_id: str) -> Tenant:
        return self._one(tenants_table.c.id == tenant_id)

    def by_client_key(self, app_key: str, client_key: str) -> Tenant:
        return self._one((tenants_table.c.app_key == app_key) & (tenants_table.c.client_key == client_key))

    def by_installation_id(self, app_key: str, installation_id: str) -> Tenant:
        return self._one((tenants_table.c.app_key == app_key) & (tenants_table.c.installation_id == installation_id))

    def list(self, *, app_key: str | None = None, states: Sequence[TenantState] | None = None) -> list[Tenant]:
        query = select(tenants_table).order_by(tenants_table.c.created_at, tenants_table.c.id)
        if app_key is not None:
            query = query.where(tenants_table.c.app_key == app_key)
        if states is not None:
            query = query.where(tenants_table.c.state.in_([s.value for s in states]))
        with self._engine.connect() as connection:
            return [_tenant(row) for row in connection.execute(query).mappings()]

    def update_identity(
        self,
        tenant_id: str,
        *,
        base_url: str | None = None,
        installation_id: str | None = None,
        cloud_id: str | None = None,
        client_key: str | None = None,
    ) -> Tenant:
        """Record what a verified re-install says about the site: a new base URL after a rename, the Forge link,
        the Connect clientKey of a site whose Forge installation came first."""
        tenant = self.get(tenant_id)
        changed = replace(
            tenant,
            client_key=client_key or tenant.client_key,
            base_url=base_url or tenant.base_url,
            installation_id=installation_id or tenant.installation_id,
            cloud_id=cloud_id or tenant.cloud_id,
            updated_at=self._clock.now(),
        )
        self._write(tenant_id, _row(changed))
        return changed

    def transition(self, tenant_id: str, state: TenantState) -> Tenant:
        tenant = self.get(tenant_id)
        if state not in _TRANSITIONS[tenant.state]:
            raise TenantStateError(f"tenant {tenant_id} cannot go from {tenant.state} to {state}")
        if state == tenant.state:
            return tenant
        now = self._clock.now()
        changed = replace(tenant, state=state, updated_at=now, state_changed_at=now)
        self._write(tenant_id, {"state": state.value, "updated_at": now, "state_changed_at": now})
        return changed

    def set_shared_secret(self, tenant_id: str, secret: str) -> None:
        sealed = self._sealer.seal(tenant_id, _SHARED_SECRET, secret.encode())
        self._write(tenant_id, {"shared_secret": sealed, "updated_at": self._clock.now()})

    def connect_installation(self, app_key: str, client_key: str) -> tuple[Tenant, str]:
        """The tenant with that clientKey and its shared secret, unsealed: what a Connect request is verified with.

        One query (``TenantNotFound`` when there is no such tenant or it has no secret); the unseal reads the
        tenant's data key from the vault's cache when it is there."""
        with self._engine.connect() as connection:
            row = (
                connection.execute(_CONNECT_INSTALLATION, {"app_key": app_key, "client_key": client_key})
                .mappings()
                .one_or_none()
            )
        if row is None or row["shared_secret"] is None:
            raise TenantNotFound("no such tenant")
        tenant = _tenant(row)
        return tenant, self._sealer.unseal(tenant.id, _SHARED_SECRET, row["shared_secret"]).decode()

    def shared_secret(self, tenant_id: str) -> str:
        with self._engine.connect() as connection:
            sealed = connection.execute(
                select(tenants_table.c.shared_secret).where(tenants_table.c.id == tenant_id)
            ).scalar_one_or_none()
        if sealed is None:
            raise TenantNotFound(f"tenant {tenant_id} has no shared secret")
        return self._sealer.unseal(tenant_id, _SHARED_SECRET, sealed).decode()

    def use_lifecycle_token(self, token: str, expires_at: float) -> bool:
        """Record a verified lifecycle token as used until ``expires_at`` (epoch seconds); False if it was already.

        Records of expired tokens are deleted on the way: an expired token is refused for its time anyway.
        """
        digest = hashlib.sha256(token.encode()).hexdigest()
        table = lifecycle_tokens_table
        try:
            with self._engine.begin() as connection:
                connection.execute(delete(table).where(table.c.expires_at < self._clock.now()))
                connection.execute(
                    insert(table).values(digest=digest, expires_at=datetime.fromtimestamp(expires_at, UTC))
                )
        except IntegrityError:
            return False
        return True

    def order_lifecycle_event(self, tenant_id: str, issued_at: float, *, strictly_newer: bool) -> bool:
        """Make ``issued_at`` the tenant's latest lifecycle event, unless a later one (with ``strictly_newer``: one
        as recent) was accepted already; then False and nothing changes. Atomic across instances."""
        table = lifecycle_order_table
        recorded = table.c.issued_at
        allowed = recorded < issued_at if strictly_newer else recorded <= issued_at
        try:
            with self._engine.begin() as connection:
                moved = connection.execute(
                    update(table).where((table.c.tenant_id == tenant_id) & allowed).values(issued_at=issued_at)
                )
                if moved.rowcount == 1:
                    return True
                if connection.execute(select(recorded).where(table.c.tenant_id == tenant_id)).first() is not None:
                    return False
                connection.execute(insert(table).values(tenant_id=tenant_id, issued_at=issued_at))
        except IntegrityError:
            return False  # a concurrent first event for this tenant won
        return True

    def _one(self, condition: object) -> Tenant:
        with self._engine.connect() as connection:
            row = connection.execute(select(tenants_table).where(condition)).mappings().one_or_none()  # type: ignore[arg-type]
        if row is None:
            raise TenantNotFound("no such tenant")
        return _tenant(row)

    def _write(self, tenant_id: str, values: dict[str, object]) -> None:
        with self._engine.begin() as connection:
            result = connection.execute(update(tenants_table).where(tenants_table.c.id == tenant_id).values(**values))
        if result.rowcount != 1:
            raise TenantNotFound(f"no tenant {tenant_id}")


def _row(tenant: Tenant) -> dict[str, object]:
    return {
        "id": tenant.id,
        "app_key": tenant.app_key,
        "client_key": tenant.client_key,
        "installation_id": tenant.installation_id,
        "cloud_id": tenant.cloud_id,
        "base_url": tenant.base_url,
        "product_type": tenant.product_type,
        "region": tenant.region,
        "state": tenant.state.value,
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
        "state_changed_at": tenant.state_changed_at,
    }


def _tenant(row: RowMapping) -> Tenant:
    return Tenant(
        id=row["id"],
        app_key=row["app_key"],
        client_key=row["client_key"],
        installation_id=row["installation_id"],
        cloud_id=row["cloud_id"],
        base_url=row["base_url"],
        product_type=row["product_type"],
        region=row["region"],
        state=TenantState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_changed_at=row["state_changed_at"],
    )


def reseal_secrets(engine: Engine, sealer: SecretSealer, tenant_id: str) -> int:
    """Seal the tenant's secrets again under its current data key, as a key rotation must: nothing the tenant holds
    stays under an older key. Returns how many were sealed again (the Connect shared secret is the only one)."""
    column = tenants_table.c.shared_secret
    with engine.connect() as connection:
        sealed = connection.execute(select(column).where(tenants_table.c.id == tenant_id)).scalar_one_or_none()
    if sealed is None:
        return 0  # no such tenant, or a Forge-only one: no shared secret
    resealed = sealer.seal(tenant_id, _SHARED_SECRET, sealer.unseal(tenant_id, _SHARED_SECRET, sealed))
    with engine.begin() as connection:
        # Compared with what was read: a secret a re-install set meanwhile is already under the current key.
        result = connection.execute(
            update(tenants_table)
            .where((tenants_table.c.id == tenant_id) & (column == sealed))
            .values(shared_secret=resealed)
        )
    return result.rowcount


def count_by_region(engine: Engine) -> dict[str, int]:
    """How many tenants each region holds, purged tenants (whose data is gone) left out: the evidence for S1."""
    query = (
        select(tenants_table.c.region, func.count())
        .where(tenants_table.c.state != TenantState.PURGED.value)
        .group_by(tenants_table.c.region)
    )
    with engine.connect() as connection:
        return {region: count for region, count in connection.execute(query)}


def stored_fields() -> tuple[str, ...]:
    """The name of everything the registry stores about a site: the evidence for S3."""
    return tuple(tenants_table.columns.keys())
