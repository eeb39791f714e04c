"""What Connect proves for the statement: its routes are behind the JWT + QSH verifier, and an uninstalled site's
request, signed with the site's own shared secret, is refused by that verifier (S6, S11).

The statement composes these with Forge's in its ``signed-requests`` and ``uninstall-ends-account`` claims
(:mod:`pledge.statement.verifier_claims`): the verifier each check probes is handed in, never looked up here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import jwt
from starlette.requests import Request

from pledge.app import App, Auth
from pledge.errors import Refused
from pledge.runtime import Runtime
from pledge.tenants import Tenant
from pledge.trust.connect_jwt import ConnectVerifier, app_base_url
from pledge.trust.identity import Verifier
from pledge.trust.qsh import query_string_hash

STATED_VERIFIERS: dict[Auth, type] = {Auth.CONNECT: ConnectVerifier, Auth.CONNECT_CONTEXT: ConnectVerifier}
"""The verifier the statement describes for Connect routes: the JWT signed with the site's secret, bound by QSH."""

UNINSTALL_PROBE = "a request signed with the site's own shared secret"
"""What :func:`probe_uninstalled` sends, as the evidence describes it."""


async def probe_uninstalled(verifier: Verifier, runtime: Runtime, app: App, tenant: Tenant) -> str | None:
    """Send ``verifier`` (the app's ``connect`` verifier) a request signed with the tenant's own secret, in process;
    None if it was served, else the refusal code."""
    base_path = urlsplit(app_base_url(runtime, app.key)).path
    path = f"{base_path}/"
    now = int(runtime.clock.now().timestamp())
    claims = {
        "iss": tenant.client_key,
        "iat": now,
        "exp": now + 60,
        "qsh": query_string_hash("GET", path, context_path=base_path),
    }
    token = jwt.encode(claims, runtime.tenants.shared_secret(tenant.id), algorithm="HS256")
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"authorization", f"JWT {token}".encode())],
    }
    try:
        await verifier(Request(scope))
    except Refused as refused:
        return refused.code
    return None
