"""The tenant registry: internal id, external ids, base URL, product, state and timestamps — nothing else.

No installer accountId, site name or e-mail address is ever stored (S3). The Connect shared secret is kept only
sealed by the vault under the tenant's own data key, so purging the tenant's key shreds it too.

Signed lifecycle events (install, uninstall, enable, disable) change who can act for a tenant, and their tokens are
not bound to the body they arrive with. So each token is accepted once (its SHA-256 digest is kept until it expires,
in the database, so the rule holds across instances) and, per tenant, an event older than the last one accepted is
refused: a captured ``installed`` can neither be replayed nor follow a later ``uninstalled``.

Several instances cache tenants (``pledge.trust.tenant_cache``). So that each learns of a change another one made,
every change (create, transition, secret, identity) takes the next number of one counter in its own transaction and
writes it as the tenant's ``tenant_changes.version``. The counter row stays locked (PostgreSQL) or the database
write-locked (SQLite) until commit, so numbers become visible in the order they were taken: an instance that has
seen every change up to ``n`` finds all later ones with ``version > n`` (:meth:`TenantRegistry.changes_since`).
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
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
from pledge.errors import PledgeError, Refused
from pledge.tenantdata import TableRows
from pledge.tenants.timeline import (
    MAX_REASON,
    TIMELINE_ROWS,
    DeletionCause,
    Event,
    TimelineEvent,
    cancel_deletion,
    record_event,
    schedule_deletion,
    timeline,
)


class TenantState(enum.StrEnum):
    INSTALLED = "installed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    UNINSTALLED = "uninstalled"
    DELETING = "deleting"
    """Its administrator, or an operator, asked for its deletion: refused everything until the purge is done."""
    PURGED = "purged"


# Re-installing is allowed from any state but DELETING and PURGED: Atlassian sends `installed` again on upgrade,
# secret rotation and site rename, and a customer may reinstall during the uninstall grace period. A deletion asked
# for cannot be taken back; only the purge (pledge.tenants.shred_ledger) makes a tenant PURGED.
_FROM_INSTALLED = frozenset(
    {TenantState.INSTALLED, TenantState.ENABLED, TenantState.DISABLED, TenantState.UNINSTALLED, TenantState.DELETING}
)
_TRANSITIONS: dict[TenantState, frozenset[TenantState]] = {
    TenantState.INSTALLED: _FROM_INSTALLED,
    TenantState.ENABLED: _FROM_INSTALLED,
    TenantState.DISABLED: _FROM_INSTALLED,
    TenantState.UNINSTALLED: frozenset({TenantState.INSTALLED, TenantState.UNINSTALLED, TenantState.DELETING}),
    TenantState.DELETING: frozenset({TenantState.DELETING}),
    TenantState.PURGED: frozenset(),
}
_EVENTS = {
    TenantState.INSTALLED: Event.INSTALLED,
    TenantState.ENABLED: Event.ENABLED,
    TenantState.DISABLED: Event.DISABLED,
    TenantState.UNINSTALLED: Event.UNINSTALLED,
    TenantState.DELETING: Event.DELETION_REQUESTED,
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

tenant_changes_table = Table(
    "tenant_changes",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("version", BigInteger, nullable=False),  # the number of the tenant's latest change
    Index("ix_tenant_changes_version", "version"),
)

tenant_change_counter_table = Table(
    "tenant_change_counter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # one row, id 1
    Column("version", BigInteger, nullable=False),
)

TENANT_ROWS: Final = (TableRows(tenants_table, "id"), TableRows(lifecycle_order_table), *TIMELINE_ROWS)
"""A tenant's rows here, as parts of its tenant data (:mod:`pledge.tenantdata`): its registry row, the order of its
lifecycle events, its timeline. ``lifecycle_tokens`` is no
tenant's: it holds digests of used tokens, whoever they were for. Nor is ``tenant_changes``: its numbers are this
deployment's, meaningless in another (it goes with the tenant's row, by cascade)."""


@dataclass(frozen=True, slots=True)
class ChangedTenant:
    """A tenant another instance changed, by the ids a cache holds it under."""

    app_key: str
    client_key: str | None
    installation_id: str | None


class TenantNotFound(PledgeError):
    """No tenant with that id or external id."""


class TenantStateError(PledgeError):
    """A lifecycle transition that the state machine does not allow."""


class SecretSealer(Protocol):
    """Seals a tenant's secrets under that tenant's key (the vault implements it)."""

    def seal(self, tenant_id: str, name: str, plaintext: bytes) -> bytes: ...

    def unseal(self, tenant_id: str, name: str, sealed: bytes) -> bytes: ...

    def unseal_many(self, name: str, sealed: Mapping[str, bytes]) -> dict[str, bytes]:
        """By tenant id, leaving out the secrets that do not open."""
        ...


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

_ACTIVE_CONNECT_INSTALLATIONS: Final = (
    select(tenants_table)
    .where(
        tenants_table.c.client_key.is_not(None)
        & tenants_table.c.shared_secret.is_not(None)
        & tenants_table.c.state.in_([TenantState.INSTALLED.value, TenantState.ENABLED.value])
    )
    .limit(bindparam("limit"))
)


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
            _record_change(connection, tenant.id)
            record_event(connection, tenant.id, Event.INSTALLED, now)
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
        """Move the tenant to ``state`` and record it on its timeline, in one transaction. Uninstalling starts the
        deletion grace; re-installing from it ends the grace, and the tenant has all its data again."""
        if state is TenantState.DELETING:
            raise TenantStateError("a deletion is asked for with request_deletion, which records who asked")
        return self._move(tenant_id, state)

    def request_deletion(self, tenant_id: str, cause: DeletionCause, reason: str | None = None) -> Tenant:
        """Delete the tenant without waiting for a grace: from now on its requests are refused, and the next purge
        run (within its period) deletes it. ``reason`` is an operator's, kept in the shred ledger."""
        if cause.waits_for_grace:
            raise ValueError(f"{cause} starts a grace, not a deletion on request")
        if reason is not None and len(reason) > MAX_REASON:
            raise ValueError(f"a reason is at most {MAX_REASON} characters")
        return self._move(tenant_id, TenantState.DELETING, cause=cause, reason=reason)

    def licence_changed(self, tenant_id: str, active: bool) -> None:
        """Forge says the app's licence on the site ended (the deletion grace starts, as for an uninstall) or is
        active again (that grace ends). Nothing happens to a tenant already uninstalled or being deleted."""
        now = self._clock.now()
        with self._engine.begin() as connection:
            state = connection.execute(
                select(tenants_table.c.state).where(tenants_table.c.id == tenant_id)
            ).scalar_one_or_none()
            if state is None:
                raise TenantNotFound(f"no tenant {tenant_id}")
            if TenantState(state) not in (TenantState.INSTALLED, TenantState.ENABLED, TenantState.DISABLED):
                return
            if active:
                if cancel_deletion(connection, tenant_id, only=DeletionCause.LICENCE_ENDED):
                    record_event(connection, tenant_id, Event.LICENCE_ACTIVE, now)
            else:
                schedule_deletion(connection, tenant_id, DeletionCause.LICENCE_ENDED, now)
                record_event(connection, tenant_id, Event.LICENCE_ENDED, now)

    def timeline(self, tenant_id: str) -> tuple[TimelineEvent, ...]:
        """Every lifecycle step of the tenant, oldest first."""
        with self._engine.connect() as connection:
            return tuple(timeline(connection, tenant_id))

    def _move(
        self, tenant_id: str, state: TenantState, *, cause: DeletionCause | None = None, reason: str | None = None
    ) -> Tenant:
        tenant = self.get(tenant_id)
        if state not in _TRANSITIONS[tenant.state]:
            raise TenantStateError(f"tenant {tenant_id} cannot go from {tenant.state} to {state}")
        if state == tenant.state:
            return tenant
        now = self._clock.now()
        changed = replace(tenant, state=state, updated_at=now, state_changed_at=now)
        with self._engine.begin() as connection:
            moved = connection.execute(
                update(tenants_table)
                .where((tenants_table.c.id == tenant_id) & (tenants_table.c.state == tenant.state.value))
                .values(state=state.value, updated_at=now, state_changed_at=now)
            )
            if moved.rowcount != 1:
                raise TenantStateError(f"tenant {tenant_id} changed state meanwhile: try again")
            _record_change(connection, tenant_id)
            if tenant.state is TenantState.UNINSTALLED and state is TenantState.INSTALLED:
                cancel_deletion(connection, tenant_id)
                record_event(connection, tenant_id, Event.REINSTALLED, now)
            else:
                record_event(connection, tenant_id, _EVENTS[state], now)
            if state is TenantState.UNINSTALLED:
                schedule_deletion(connection, tenant_id, DeletionCause.UNINSTALLED, now)
            elif cause is not None:
                schedule_deletion(connection, tenant_id, cause, now, reason)
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

    def active_connect_installations(self, limit: int) -> Sequence[tuple[Tenant, str]]:
        """Up to ``limit`` active Connect installations (installed or enabled), each with its shared secret unsealed:
        what a starting instance loads into its tenant cache. One query for the tenants, the vault's few for their
        data keys; a tenant whose secret does not open (its keys shredded) is left out."""
        with self._engine.connect() as connection:
            rows = connection.execute(_ACTIVE_CONNECT_INSTALLATIONS, {"limit": limit}).mappings().all()
        opened = self._sealer.unseal_many(_SHARED_SECRET, {row["id"]: row["shared_secret"] for row in rows})
        return [(_tenant(row), opened[row["id"]].decode()) for row in rows if row["id"] in opened]

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

    def latest_change(self) -> int:
        """The number of the last committed tenant change: where an instance that caches nothing yet starts."""
        with self._engine.connect() as connection:
            return int(connection.execute(select(tenant_change_counter_table.c.version)).scalar_one())

    def changes_since(self, seen: int) -> tuple[int, tuple[ChangedTenant, ...]]:
        """The tenants changed after change number ``seen``, and the number to pass next time."""
        changes = tenant_changes_table
        query = (
            select(
                changes.c.version, tenants_table.c.app_key, tenants_table.c.client_key, tenants_table.c.installation_id
            )
            .join(tenants_table, tenants_table.c.id == changes.c.tenant_id)
            .where(changes.c.version > seen)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        latest = max((row.version for row in rows), default=seen)
        return latest, tuple(ChangedTenant(row.app_key, row.client_key, row.installation_id) for row in rows)

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
            _record_change(connection, tenant_id)


def _record_change(connection: Connection, tenant_id: str) -> None:
    """Number a change of ``tenant_id`` in the caller's transaction, as its last statement: the counter stays
    locked only until the commit that follows."""
    counter, changes = tenant_change_counter_table, tenant_changes_table
    version = connection.execute(
        update(counter).where(counter.c.id == 1).values(version=counter.c.version + 1).returning(counter.c.version)
    ).scalar_one()
    moved = connection.execute(update(changes).where(changes.c.tenant_id == tenant_id).values(version=version))
    if moved.rowcount == 0:  # the counter's lock serialises changes: nobody else inserts this row meanwhile
        connection.execute(insert(changes).values(tenant_id=tenant_id, version=version))


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


def refuse_while_deleted(tenant: Tenant) -> None:
    """Refuse to re-install a tenant whose deletion was asked for or has begun: it cannot be taken back, and the
    site gets a new tenant once the purge has deleted this one."""
    if tenant.state in (TenantState.DELETING, TenantState.PURGED):
        raise Refused(
            "tenant_state_conflict",
            "this site's data is being deleted, as was asked: install the app again once that is done "
            "(within the hour)",
            status_code=409,
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
