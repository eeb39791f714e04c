"""S11: every request between the product and the app is signed, authenticated and authorised."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pledge.app import App, Auth
    from pledge.runtime import Runtime
    from pledge.serving import Verifier


def verifiers_for(app: App, runtime: Runtime) -> dict[Auth, Verifier]:
    """The verifier of each authentication kind, bound to ``app`` and ``runtime``."""
    from pledge.app import Auth
    from pledge.trust.connect import ConnectVerifier

    verifiers: dict[Auth, Verifier] = {
        Auth.CONNECT: ConnectVerifier(app.key, runtime, accept_context=False),
        Auth.CONNECT_CONTEXT: ConnectVerifier(app.key, runtime, accept_context=True),
    }
    if app.forge is not None:
        from pledge.forge.requests import ForgeRequestVerifier

        verifiers[Auth.FORGE] = ForgeRequestVerifier(app, app.forge, runtime)
    return verifiers
