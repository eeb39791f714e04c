"""What a promise of the statement is: a :class:`Claim` (one sentence and the check that proves it) and the
:class:`Evidence` its check finds.

This module imports nothing of Pledge's, so the package that keeps a promise can declare its claim next to the code
that keeps it (``pledge.store.claims``, ``pledge.tenants.claims``, ...) without knowing the statement; the statement
imports those modules and composes their claims, in reading order, in :mod:`pledge.statement.claims`.

A check reads only what it declares: its first argument is the deployment, its second the facts the statement
states, each typed as the small protocol of what that check needs (the statement's ``Deployment`` and ``Facts``
provide them all). A check may be a coroutine function when it must await what it probes.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

DeploymentT = TypeVar("DeploymentT", contravariant=True)
FactsT = TypeVar("FactsT", contravariant=True)


class Section(enum.Enum):
    """The statement's sections, in reading order; the value is the heading."""

    STORAGE = "Data storage and location"
    BACKUP = "Backup and recovery"
    REMOVAL = "Account removal and data retention"
    PORTABILITY = "Data portability"
    ACCESS = "Access to your data"
    SECURITY = "Application and infrastructure security"
    PRIVACY = "Privacy"

    @property
    def title(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a check found: whether the claim holds, and the facts that show it (never a secret)."""

    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Claim(Generic[DeploymentT, FactsT]):
    id: str
    promise: str
    """The promise of DESIGN.md it keeps, e.g. ``S1``."""
    section: Section
    text: str
    """The sentence, formatted with ``facts`` (``{facts.region}``)."""
    check: Callable[[DeploymentT, FactsT], Evidence | Awaitable[Evidence]] | None = None
    """None while nothing proves the sentence: it is then rendered and verified as not yet provided."""
    applies: Callable[[FactsT], bool] | None = None
    """Whether the deployment offers what the claim promises at all (None: always). Where it does not, the
    statement says :attr:`not_offered` instead, marked as not offered, and verification does not count it."""
    not_offered: str = ""

    @property
    def provided(self) -> bool:
        return self.check is not None

    def offered(self, facts: FactsT) -> bool:
        return self.applies is None or self.applies(facts)

    def sentence(self, facts: FactsT) -> str:
        return (self.text if self.offered(facts) else self.not_offered).format(facts=facts)


class DisclosureKind(enum.Enum):
    """What a disclosure tells a reader; the value is how the statement marks it."""

    NOT_OFFERED = "Not offered"
    """Something the service does not do, said as a fact rather than left out."""
    YOURS = "Your responsibility"
    """Something the customer keeps, not the service."""


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A sentence that promises no protection, so it needs no check: a true negative or the customer's part."""

    id: str
    section: Section
    kind: DisclosureKind
    text: str

    def sentence(self, facts: object) -> str:
        return self.text.format(facts=facts)


def plural(count: int, noun: str) -> str:
    """``1 site``, ``2 sites``: the counts a check's evidence reports."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
