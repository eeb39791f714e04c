"""The register of legal requests: who compelled a disclosure, their reference, whose data, what, and whether a gag
applies. Append-only: the database refuses UPDATE and DELETE on it (migration 1020's triggers), so a record once
written is never rewritten or withdrawn, whoever holds the database credentials short of its owner's DDL rights.

Every input is checked whole (``fullmatch``) and bounded before it reaches the table, and a refusal names the field
and the rule, never the value: an authority's reference may itself be confidential.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Boolean, Column, Engine, Integer, String, Table, insert, select

from pledge.clock import Clock
from pledge.db import UtcDateTime, metadata
from pledge.errors import PledgeError
from pledge.store.pii import first_finding
from pledge.tenants.registry import tenants_table
from pledge.tenants.shred_ledger import shred_ledger_table

MAX_AUTHORITY: Final = 120
MAX_REFERENCE: Final = 64
MAX_SCOPE: Final = 200

_AUTHORITY: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 .,'&()/-]{{0,{MAX_AUTHORITY - 1}}}")
_REFERENCE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:/#-]{{0,{MAX_REFERENCE - 1}}}")
_SCOPE: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9 .,:;()/-]{{0,{MAX_SCOPE - 1}}}")
_TENANT_ID: Final = re.compile(r"[0-9a-f]{32}")

TRANSPARENCY_PAGE_PATH: Final = "/_pledge/transparency"
"""Where each app serves its site's administrators the legal requests that concern their site (a Connect admin page)."""
TRANSPARENCY_JSON_PATH: Final = "/_pledge/transparency.json"
"""The same list as JSON, for the app's own frontend (a context JWT) or a Forge Remote call (a FIT)."""

legal_requests_table = Table(
    "legal_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(32), nullable=False, index=True),
    Column("authority", String(MAX_AUTHORITY), nullable=False),
    Column("reference", String(MAX_REFERENCE), nullable=False),
    Column("scope", String(MAX_SCOPE), nullable=False),
    Column("gag", Boolean, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)
"""No foreign key to ``tenants``: a record outlives its site's purge (the law's record is the operator's, and it names
only the site's internal id)."""


class LegalRequestRefused(PledgeError):
    """An input the register cannot keep; the message names the field and its rule, never the value."""


@dataclass(frozen=True, slots=True)
class LegalRequest:
    id: int
    tenant_id: str
    authority: str
    reference: str
    scope: str
    gag: bool
    """A gag order applies: the site is not told (the yearly counts still include it)."""
    recorded_at: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "authority": self.authority,
            "reference": self.reference,
            "scope": self.scope,
            "recorded_at": self.recorded_at.isoformat(timespec="seconds"),
        }


@dataclass(frozen=True, slots=True)
class YearCount:
    year: int
    requests: int
    gagged: int
    """Of ``requests``, how many its sites were not told of (a gag applies)."""


def _checked(field: str, value: str, pattern: re.Pattern[str], rule: str) -> str:
    text = value.strip()
    if not pattern.fullmatch(text):
        raise LegalRequestRefused(f"--{field} must be {rule}")
    if first_finding(text) is not None:
        raise LegalRequestRefused(f"--{field} looks like it holds personal data: the register keeps none")
    return text


class LegalRequests:
    """The register, over the deployment's database."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(self, *, authority: str, reference: str, tenant_id: str, scope: str, gag: bool) -> LegalRequest:
        authority = _checked(
            "authority", authority, _AUTHORITY, f"1 to {MAX_AUTHORITY} letters, digits, spaces and .,'&()/-"
        )
        reference = _checked("reference", reference, _REFERENCE, f"1 to {MAX_REFERENCE} letters, digits and ._:/#-")
        scope = _checked("scope", scope, _SCOPE, f"1 to {MAX_SCOPE} letters, digits, spaces and .,:;()/-")
        if not _TENANT_ID.fullmatch(tenant_id):
            raise LegalRequestRefused("--tenant must be a tenant's internal id (32 hex digits, `pledge tenants list`)")
        now = self._clock.now()
        with self._engine.begin() as connection:
            known = connection.execute(select(tenants_table.c.id).where(tenants_table.c.id == tenant_id)).first()
            if known is None:
                known = connection.execute(
                    select(shred_ledger_table.c.tenant_id).where(shred_ledger_table.c.tenant_id == tenant_id)
                ).first()
            if known is None:
                raise LegalRequestRefused("--tenant names no tenant of this deployment (`pledge tenants list`)")
            values = {
                "tenant_id": tenant_id,
                "authority": authority,
                "reference": reference,
                "scope": scope,
                "gag": gag,
                "recorded_at": now,
            }
            new_id = connection.execute(insert(legal_requests_table).values(**values)).inserted_primary_key
        assert new_id is not None
        return LegalRequest(id=int(new_id[0]), **values)  # type: ignore[arg-type]

    def records(self, *, tenant_id: str | None = None, told_only: bool = False) -> list[LegalRequest]:
        """Every record, oldest first; ``tenant_id`` those of one site, ``told_only`` those without a gag."""
        table = legal_requests_table
        query = select(table).order_by(table.c.id)
        if tenant_id is not None:
            query = query.where(table.c.tenant_id == tenant_id)
        if told_only:
            query = query.where(table.c.gag.is_(False))
        with self._engine.connect() as connection:
            return [LegalRequest(**row) for row in connection.execute(query).mappings()]

    def for_site(self, tenant_id: str) -> list[LegalRequest]:
        """What the site's administrators see: its own records, without those a gag applies to."""
        return self.records(tenant_id=tenant_id, told_only=True)

    def yearly_counts(self) -> list[YearCount]:
        """Records per calendar year (UTC) of recording, gagged ones included and counted apart, oldest year first."""
        table = legal_requests_table
        with self._engine.connect() as connection:
            rows = connection.execute(select(table.c.recorded_at, table.c.gag)).all()
        requests = Counter(recorded_at.year for recorded_at, _gag in rows)
        gagged = Counter(recorded_at.year for recorded_at, gag in rows if gag)
        return [YearCount(year, requests[year], gagged[year]) for year in sorted(requests)]
