"""The two claims every protocol keeps together: each route is behind the verifier the statement describes, and an
uninstalled site is refused (S6, S11).

Each protocol owns its part (:mod:`pledge.connect.claims`, :mod:`pledge.forge.claims`: the verifier it states and
the probe it puts to that verifier); this module only asks every served app's verifiers, as the host serves them,
and composes what the protocols found into one piece of evidence per claim.
"""

from __future__ import annotations

from collections import Counter

from pledge.app import App, Auth
from pledge.connect import claims as connect
from pledge.forge import claims as forge
from pledge.promises import Claim, Evidence, Section, plural
from pledge.statement.facts import Deployment
from pledge.tenants import TenantState

# The verifier the statement describes for each kind of route: Connect JWT + QSH, and the Forge Invocation Token.
_STATED_VERIFIERS: dict[Auth, type] = connect.STATED_VERIFIERS | forge.STATED_VERIFIERS

UNINSTALL_PROBES = 20
"""At most this many uninstalled sites per app are probed in one verification."""

_PROBE_KINDS = {"Connect": connect.UNINSTALL_PROBE, "Forge": forge.UNINSTALL_PROBE}


def check_signed_requests(deployment: Deployment, facts: object) -> Evidence:
    if not deployment.apps:
        return Evidence(True, "no apps are served")
    deployment.require_runtime()
    problems: list[str] = []
    described: list[str] = []
    for app in deployment.apps:
        if not isinstance(app, App):
            problems.append(f"{getattr(app, 'key', app)!s}: does not declare how its routes authenticate")
            continue
        kinds = Counter([route.auth for route in app.routes] + [Auth.CONNECT] * (len(app.webhooks) + len(app.pages)))
        verifiers = deployment.verifiers(app)
        unverified = sorted(kind.value for kind in kinds if kind is not Auth.PUBLIC and kind not in verifiers)
        if unverified:
            problems.append(f"{app.key}: no verifier for {', '.join(unverified)} routes")
        substituted = sorted(
            kind.value
            for kind, expected in _STATED_VERIFIERS.items()
            if kind in kinds and kind in verifiers and not isinstance(verifiers[kind], expected)
        )
        if substituted:
            problems.append(f"{app.key}: {', '.join(substituted)} routes are not verified as the statement says")
        counts = ", ".join(f"{count} {kind.value}" for kind, count in sorted(kinds.items()))
        described.append(f"{app.key}: {counts or 'no routes'}")
    if problems:
        return Evidence(False, "; ".join(problems))
    return Evidence(True, "; ".join(described) + " (every non-public route behind its verifier)")


async def check_uninstalled_not_served(deployment: Deployment, facts: object) -> Evidence:
    """Uninstalled sites are probed: Connect with a request signed by the site's own secret through the real
    verifier, Forge through the verifier's tenant admission (a FIT cannot be minted here). Each must be refused."""
    apps = deployment.served_apps
    if not apps:
        return Evidence(True, "no apps are served")
    runtime = deployment.require_runtime()
    problems: list[str] = []
    counts: Counter[str] = Counter()
    for app in apps:
        uninstalled = runtime.tenants.list(app_key=app.key, states=[TenantState.UNINSTALLED])[:UNINSTALL_PROBES]
        if not uninstalled:
            continue
        verifiers = deployment.verifiers(app)
        codes: Counter[str | None] = Counter()
        for tenant in uninstalled:
            if tenant.client_key is not None:
                counts["Connect"] += 1
                codes[await connect.probe_uninstalled(verifiers[Auth.CONNECT], runtime, app, tenant)] += 1
            if tenant.installation_id is not None and Auth.FORGE in verifiers:
                counts["Forge"] += 1
                codes[forge.probe_admission(verifiers[Auth.FORGE], runtime, tenant.installation_id)] += 1
        if codes[None]:
            served = f"{codes[None]} of {plural(codes.total(), 'probe')}"
            problems.append(f"{app.key}: {served} of uninstalled sites served")
        others = sorted(code for code in codes if code is not None and code != "tenant_inactive")
        if others:
            listed = ", ".join(others)
            problems.append(f"{app.key}: the probe was refused for another reason ({listed}), proving nothing")
    if problems:
        return Evidence(False, "; ".join(problems))
    if not counts:
        return Evidence(True, "no site is uninstalled: nothing to probe")
    probes = "; ".join(f"{plural(counts[kind], kind + ' probe')} ({_PROBE_KINDS[kind]})" for kind in sorted(counts))
    return Evidence(True, f"uninstalled sites: {probes}; each refused (tenant_inactive)")


UNINSTALL_ENDS_ACCOUNT: Claim[Deployment, object] = Claim(
    "uninstall-ends-account",
    "S6",
    Section.REMOVAL,
    "Uninstalling the app ends your site's account at once: from the signed uninstall notice on, the app "
    "refuses every request from your site (any other server instance within {facts.tenant_change_seconds} "
    "s). This does not delete your site's stored data: see below.",
    check_uninstalled_not_served,
)
SIGNED_REQUESTS: Claim[Deployment, object] = Claim(
    "signed-requests",
    "S11",
    Section.SECURITY,
    "Every request from your site to an app is authenticated before the app's code runs: each route names "
    "how its caller proves who it is, and a route without a verifier for that is never served. Connect "
    "requests carry a JWT signed with your site's shared secret and bound to the request (QSH); Forge calls "
    "carry a Forge Invocation Token, verified with RS256 against Atlassian's published keys and addressed to "
    "the app's own Forge id.",
    check_signed_requests,
)
