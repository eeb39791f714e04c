"""The transport's claim: the public address answers over HTTPS only (S12).

The check does not read the base-URL string: it asks the public address itself. A plain-HTTP request to it must be
refused or redirected to HTTPS, never answered; an HTTPS request must complete a TLS handshake with a certificate the
system trusts. The probes go to the deployment's own address, carry no data and read only the status line, so they
do not pass through the outbound client (which allows third-party destinations only as stated).
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

import httpx

from pledge.config import Settings
from pledge.promises import Claim, Evidence, Section

PROBE_PATH = "/healthz"
"""Answered by the host itself, before any app or the statement's pages (which wait for this very verification)."""
PROBE_SECONDS = 3.0


class Served(Protocol):
    """The deployment as the HTTPS check reads it: the settings naming its public address."""

    @property
    def settings(self) -> Settings: ...


def plain_http_url(public_url: str) -> str:
    """Where a plain-HTTP client would reach the public address: its own port if it names one, else port 80."""
    parts = urlsplit(public_url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"http://{host}:{parts.port or 80}{PROBE_PATH}"


async def plain_http_answer(url: str) -> str | None:
    """What a plain-HTTP request to ``url`` got that it must not: an answer other than a redirect to HTTPS (e.g.
    ``200``); None when it was refused, or redirected to an https:// address."""
    try:
        async with httpx.AsyncClient(timeout=PROBE_SECONDS, follow_redirects=False, trust_env=False) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    if response.is_redirect and response.headers.get("location", "").startswith("https://"):
        return None
    return str(response.status_code)


async def tls_failure(public_url: str) -> str | None:
    """Why an HTTPS request to the public address failed (no TLS, an untrusted certificate); None when it answered."""
    try:
        async with httpx.AsyncClient(timeout=PROBE_SECONDS, follow_redirects=False, trust_env=False) as client:
            await client.get(public_url + PROBE_PATH)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


async def check_https(deployment: Served, facts: object) -> Evidence:
    settings = deployment.settings
    public = settings.public_url
    if settings.dev_mode:
        return Evidence(False, f"development mode: plain HTTP is served at {public}")
    if not public.startswith("https://"):
        return Evidence(False, f"the public URL {public} is not https")
    plain = plain_http_url(public)
    status = await plain_http_answer(plain)
    if status is not None:
        return Evidence(False, f"plain HTTP to {plain} answered {status}")
    failure = await tls_failure(public)
    if failure is not None:
        return Evidence(False, f"HTTPS to {public}{PROBE_PATH} failed: {failure}")
    return Evidence(True, f"HTTPS to {public}{PROBE_PATH} answered; plain HTTP to {plain} refused or redirected")


HTTPS_ONLY: Claim[Served, object] = Claim(
    "https-only",
    "S12",
    Section.SECURITY,
    "The server's public address answers over HTTPS only: a plain-HTTP request to it is refused or redirected to "
    "HTTPS, never answered.",
    check_https,
)

CLAIMS: tuple[Claim[Served, object], ...] = (HTTPS_ONLY,)
"""The transport's claims; :mod:`pledge.statement.claims` places them in the statement."""
