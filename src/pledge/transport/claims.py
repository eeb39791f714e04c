"""The transport's claim: the public address answers over HTTPS only (S12).

The check does not read the base-URL string: it runs `pledge doctor` (:mod:`pledge.transport.doctor`) against the
public address itself. Plain HTTP there must be refused or redirected to HTTPS (also when it claims
``X-Forwarded-Proto: https``), TLS below 1.2 refused, the certificate trusted by the system, HSTS a year or longer,
the security headers set, no redirect repeating a ``jwt``, every cookie Secure. The probes go to the deployment's
own address and carry no data, so they do not pass through the outbound client (which allows third-party
destinations only as stated).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pledge.config import Settings
from pledge.promises import Claim, Evidence, Section
from pledge.transport.doctor import Target, diagnose


class Served(Protocol):
    """The deployment as the HTTPS check reads it: the settings naming its public address."""

    @property
    def settings(self) -> Settings: ...


async def check_https(deployment: Served, facts: object) -> Evidence:
    settings = deployment.settings
    public = settings.public_url
    if settings.dev_mode:
        return Evidence(False, f"development mode: plain HTTP is served at {public}")
    checks = await asyncio.to_thread(diagnose, Target.of(public))
    failed = [check for check in checks if not check.passed]
    if failed:
        return Evidence(False, "; ".join(f"{check.name}: {check.explanation}" for check in failed))
    return Evidence(True, f"pledge doctor {public}: " + "; ".join(check.explanation for check in checks))


HTTPS_ONLY: Claim[Served, object] = Claim(
    "https-only",
    "S12",
    Section.SECURITY,
    "The server's public address answers over HTTPS only: a plain-HTTP request to it is refused or redirected to "
    "HTTPS, never answered; it refuses TLS older than 1.2 and tells browsers to use HTTPS for a year (HSTS).",
    check_https,
)

CLAIMS: tuple[Claim[Served, object], ...] = (HTTPS_ONLY,)
"""The transport's claims; :mod:`pledge.statement.claims` places them in the statement."""
