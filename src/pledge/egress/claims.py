"""The outbound client's claims: requests go only to the stated destinations (S13)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pledge.egress.client import OutboundClient
from pledge.promises import Claim, Evidence, Section, plural

EGRESS_PROBE = "https://egress-probe.invalid"
"""A destination nobody states: the client must refuse it (asked with ``allows``; nothing is sent)."""


class HasOutboundClient(Protocol):
    @property
    def egress(self) -> OutboundClient: ...


class Sending(Protocol):
    """The deployment as the egress check reads it: the running process's outbound client."""

    def require_runtime(self) -> HasOutboundClient: ...


class StatedDestinations(Protocol):
    @property
    def egress_destinations(self) -> Sequence[str]: ...

    @property
    def peer_deployments(self) -> Sequence[str]: ...


def check_egress_allowlist(deployment: Sending, facts: StatedDestinations) -> Evidence:
    """The outbound client allows no origin beyond the stated ones, and refuses a probe destination."""
    egress = deployment.require_runtime().egress
    extra = sorted(egress.allowed - set(facts.egress_destinations) - set(facts.peer_deployments))
    if extra:
        return Evidence(False, f"the outbound client also allows {', '.join(extra)}")
    if egress.allows(EGRESS_PROBE):
        return Evidence(False, f"the outbound client allows the probe destination {EGRESS_PROBE}")
    return Evidence(
        True,
        f"the outbound client allows {', '.join(sorted(egress.allowed)) or 'no fixed origin'} and, per call, the "
        f"calling site; a probe to {EGRESS_PROBE} was refused; {plural(egress.recorded_refusals(), 'refusal')} "
        "counted by the deployment's instances",
    )


EGRESS_ALLOWLIST: Claim[Sending, StatedDestinations] = Claim(
    "egress-allowlist",
    "S13",
    Section.PRIVACY,
    "The requests this service sends to your site and to Atlassian go through one outbound client that "
    "allows only your site (for calls made on its behalf), Atlassian ({facts.egress_destinations_text}) and "
    "this service's own deployments in other regions ({facts.peer_deployments_text}; used only to move your "
    "site's data when Atlassian changes its data residency realm), and refuses any other destination before "
    "a byte is sent; each refusal is logged and counted, across all of the service's server processes.",
    check_egress_allowlist,
)

CLAIMS: tuple[Claim[Sending, StatedDestinations], ...] = (EGRESS_ALLOWLIST,)
"""The outbound client's claims; :mod:`pledge.statement.claims` places them in the statement."""
