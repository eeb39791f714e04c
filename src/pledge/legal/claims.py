"""The legal-requests claim (S13): the register exists, the database itself keeps it append-only, and its yearly
counts are what the statement's transparency report shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine, text

from pledge.clock import Clock
from pledge.legal.records import TRANSPARENCY_PAGE_PATH, LegalRequests, YearCount
from pledge.promises import Claim, Evidence, Section, plural

_TRIGGERS = {
    "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'legal_requests'::regclass AND NOT tgisinternal",
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'legal_requests'",
}
_REQUIRED = {
    "postgresql": {"legal_requests_append_only", "legal_requests_no_truncate"},
    "sqlite": {"legal_requests_no_update", "legal_requests_no_delete"},
}


class ServedApp(Protocol):
    @property
    def key(self) -> str: ...


class LiveDeployment(Protocol):
    """The deployment as this check reads it: its database and clock, and each served app's transparency view as the
    host mounts it (paths → how the caller authenticates)."""

    @property
    def engine(self) -> Engine: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def served_apps(self) -> Sequence[ServedApp]: ...

    def transparency_views(self, app: Any) -> Mapping[str, object]: ...


def report(counts: list[YearCount]) -> str:
    """The transparency report in one line: ``2026: 3 requests (1 under a gag)``; oldest year first."""
    if not counts:
        return "no legal request received"
    return "; ".join(
        f"{count.year}: {plural(count.requests, 'request')}"
        + (f" ({count.gagged} under a gag order)" if count.gagged else "")
        for count in counts
    )


def append_only_triggers(engine: Engine) -> set[str]:
    """The triggers that refuse rewriting the register, as the live database has them (empty if none)."""
    query = _TRIGGERS.get(engine.dialect.name)
    if query is None:
        return set()
    with engine.connect() as connection:
        return set(connection.execute(text(query)).scalars())


def check_legal_requests(deployment: LiveDeployment, facts: object) -> Evidence:
    required = _REQUIRED.get(deployment.engine.dialect.name, {"append-only triggers"})
    missing = required - append_only_triggers(deployment.engine)
    if missing:
        return Evidence(False, f"the legal requests register is not append-only: no {', '.join(sorted(missing))}")
    unseen = [
        app.key for app in deployment.served_apps if TRANSPARENCY_PAGE_PATH not in deployment.transparency_views(app)
    ]
    if unseen:
        return Evidence(False, f"no transparency page for the administrators of {', '.join(unseen)}")
    counts = LegalRequests(deployment.engine, deployment.clock).yearly_counts()
    served = plural(len(deployment.served_apps), "app")
    return Evidence(
        True,
        f"register append-only (the database refuses UPDATE and DELETE); transparency page served for {served}; "
        f"{report(counts)}",
    )


LEGAL_REQUESTS: Claim[LiveDeployment, object] = Claim(
    "legal-requests",
    "S13",
    Section.PRIVACY,
    "Disclosure only where the law requires it: each legal request is recorded in a register the database keeps "
    "append-only, counted per year in the transparency report below, and shown to your site's administrators in "
    "the app's transparency page unless a court order forbids telling you.",
    check_legal_requests,
)

CLAIMS = (LEGAL_REQUESTS,)
