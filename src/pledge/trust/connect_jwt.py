"""Connect request authentication: HS256 + exact QSH on every request, RS256 signed install and uninstall (S11).

Every refusal is a :class:`~pledge.errors.Refused` (401) with a reason code, whatever bytes arrived:
parsing happens only after size limits, and a tenant's state is revealed only to a caller whose signature
verified: a clientKey that is not installed is refused exactly as a wrong signature is (``signature_invalid``,
after the same HMAC), so probing clientKeys tells nothing. Context JWTs (``qsh = "context-qsh"``) pass only where
the route says its own frontend calls it — accepting them elsewhere was CVE-2021-26073 / CVE-2021-26074.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pledge.bodies import CHECKED_JSON, MAX_BODY_BYTES, parse_json, too_large
from pledge.cache import BoundedCache
from pledge.clock import Clock
from pledge.config import Settings
from pledge.errors import Refused
from pledge.mounts import app_base_path
from pledge.trust.identity import Identity, raw_header
from pledge.trust.install_keys import InstallKeys
from pledge.trust.jws import (
    HS256,
    RS256,
    SharedSecret,
    UnverifiedToken,
    check_algorithm,
    header_cache,
    read_unverified,
    time_claim,
    verify_signature,
)
from pledge.trust.jwt_policy import check_connect_times, check_qsh, token_from
from pledge.trust.qsh import query_string_hash
from pledge.trust.tenant_cache import ConnectTenant, ConnectTenantCache

"""Webhook payloads of large issues reach a few hundred KiB; a body beyond this is refused before it is parsed."""

_MAX_CLIENT_KEY: Final = 255
_NO_TENANT_KEY: Final = SharedSecret(secrets.token_bytes(32))
"""The key a token naming no installed tenant is checked with: a key nobody holds, so the work and the refusal are
those of a wrong signature."""
PATH_QSH_CACHE_SIZE: Final = 1024
"""Hashes of query-less requests a verifier keeps (webhooks have a handful of paths)."""

PathHashes = BoundedCache[tuple[str, bytes, str], str]


class ConnectTrust(Protocol):
    """What Connect verification needs of the running system, no more: the deployment's public URL, the clock, the
    tenants' secrets and Atlassian's install keys (a :class:`~pledge.runtime.Runtime` provides them)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def connect_tenants(self) -> ConnectTenantCache: ...

    @property
    def install_keys(self) -> InstallKeys: ...


def app_base_url(runtime: ConnectTrust, app_key: str) -> str:
    """The app's baseUrl as the descriptor announces it: the ``aud`` of signed installs, the root of its QSHs."""
    return runtime.settings.public_url + app_base_path(app_key)


def request_qsh(request: Request, base_path: str, cache: PathHashes | None = None) -> str:
    """The QSH of the request as it arrived: raw path and query bytes read as UTF-8, minus the app's base path.

    ``cache`` is the caller's memory of the hashes of query-less requests (none: each is computed)."""
    scope = request.scope
    method, path, query = scope["method"], scope.get("raw_path") or scope["path"].encode(), scope.get("query_string")
    if not query:
        if cache is None:
            return query_string_hash(method, path.decode("utf-8", "replace"), context_path=base_path)
        # Webhooks have a handful of paths and no query: their hashes are computed once.
        key = (method, path, base_path)
        cached = cache.get(key)
        if cached is None:
            cached = cache.put(key, query_string_hash(method, path.decode("utf-8", "replace"), context_path=base_path))
        return cached
    target = path.decode("utf-8", "replace") + "?" + query.decode("utf-8", "replace")
    return query_string_hash(method, target, context_path=base_path)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused (``body_too_large``) past ``limit``; handlers can read it again (Starlette keeps it).

    A declared length over the limit is refused unread; a chunked body is read whole first, which the host bounds
    (:mod:`pledge.body_limit` refuses it once the bytes received pass the host's limit).
    """
    declared = raw_header(request, b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large(limit)
    body = await request.body()
    if len(body) > limit:
        raise too_large(limit)
    return body


async def read_json_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object; kept in ``request.state`` so that ``context.json()`` does not parse it again."""
    body = await read_body(request, limit)
    parsed = parse_json(body)
    if not isinstance(parsed, dict):
        raise Refused("body_malformed", "the request body is not a JSON object", status_code=400)
    request.scope[CHECKED_JSON] = parsed
    return parsed


class ConnectVerifier:
    """Verifies product → app requests (webhooks, page loads) or, with ``accept_context``, frontend calls."""

    def __init__(self, app_key: str, runtime: ConnectTrust, *, accept_context: bool) -> None:
        self._app_key = app_key
        self._runtime = runtime
        self._base_path = urlsplit(app_base_url(runtime, app_key)).path
        self._accept_context = accept_context
        self._headers = header_cache()
        self._path_hashes: PathHashes = BoundedCache(PATH_QSH_CACHE_SIZE)

    async def __call__(self, request: Request) -> Identity:
        # One coroutine reading the raw scope, no awaits on the hot path but the body: at about 50 µs of server
        # time per bare request, each extra layer or header parse here shows in the authenticated route's share.
        authorization = raw_header(request, b"authorization")
        query_token = request.query_params.get("jwt") if authorization is None else None
        token = read_unverified(
            token_from(None if authorization is None else authorization.decode("latin-1"), query_token),
            self._headers,
        )
        connect, claims = verify_tenant_signature(
            token,
            self._runtime.connect_tenants.get(self._app_key, token.issuer)
            or await connect_tenant(self._runtime, self._app_key, token),
        )
        check_connect_times(claims, self._runtime.clock.timestamp())
        check_qsh(claims, request_qsh(request, self._base_path, self._path_hashes), accept_context=self._accept_context)
        if not connect.tenant.is_active:
            raise Refused("tenant_inactive", "the app is disabled or uninstalled on this site")
        if request.scope["method"] in _METHODS_WITH_BODY:
            if self._accept_context:
                await read_body(request)
            else:
                # The product sends JSON only (webhooks); anything else is refused before a handler parses it.
                await read_json_object(request)
        account_id = claims.get("sub")
        return Identity(connect.tenant, account_id if isinstance(account_id, str) else None, claims)


_METHODS_WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})


async def connect_tenant(
    runtime: ConnectTrust, app_key: str, token: UnverifiedToken, *, fresh: bool = False
) -> ConnectTenant | None:
    """The tenant the token's (unverified) issuer names, with its secret; None when there is no such installation."""
    client_key = token.issuer
    if len(client_key) > _MAX_CLIENT_KEY or "\x00" in client_key:  # PostgreSQL text cannot hold NUL: no such key
        return None
    cache = runtime.connect_tenants
    # Fresh: read past the cache (without dropping its entry, which an unverified request must not be able to do).
    if fresh:
        return await run_in_threadpool(cache.load, app_key, client_key)
    return await cache.fetch(app_key, client_key)


def verify_tenant_signature(
    token: UnverifiedToken, connect: ConnectTenant | None
) -> tuple[ConnectTenant, dict[str, Any]]:
    """Verify the HS256 signature with the tenant's secret; no tenant is refused as a wrong signature is."""
    claims = verify_signature(token, _NO_TENANT_KEY if connect is None else connect.key, HS256)
    if connect is None:  # a token that verified with a key nobody holds (2^-256): still no tenant
        raise Refused("signature_invalid", "the token's signature does not verify with the expected key")
    return connect, claims


def _check_issuer(token: UnverifiedToken, body: Mapping[str, Any]) -> None:
    if token.issuer != body.get("clientKey"):
        raise Refused("issuer_mismatch", "the token's 'iss' is not the clientKey in the request body")


def _check_audience(claims: Mapping[str, Any], base_url: str) -> None:
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if base_url.rstrip("/") not in {a.rstrip("/") for a in audiences if isinstance(a, str)}:
        raise Refused("audience_mismatch", "the token's 'aud' does not contain this app's baseUrl")


async def verify_signed_lifecycle(
    request: Request, body: Mapping[str, Any], app_key: str, runtime: ConnectTrust
) -> UnverifiedToken:
    """``installed`` / ``uninstalled``: an RS256 token from Atlassian's install-keys server, for this very request.

    Returns the token, now verified; the caller still has to check it was not used before (:func:`lifecycle_issued_at`).
    """
    token = read_unverified(token_from(request.headers.get("authorization"), None))
    check_algorithm(token, RS256)
    _check_issuer(token, body)
    key = await runtime.install_keys.public_key(token.header.get("kid"))
    claims = verify_signature(token, key, RS256)
    base_url = app_base_url(runtime, app_key)
    _check_audience(claims, base_url)
    check_connect_times(claims, runtime.clock.timestamp())
    check_qsh(claims, request_qsh(request, urlsplit(base_url).path), accept_context=False)
    lifecycle_issued_at(claims)
    return token


async def verify_shared_lifecycle(
    request: Request, body: Mapping[str, Any], app_key: str, runtime: ConnectTrust
) -> tuple[ConnectTenant, UnverifiedToken]:
    """``enabled`` / ``disabled``: HS256 with the tenant's current shared secret, read fresh from the database.

    Returns the tenant and the token, now verified (still to be checked for reuse, as a signed one)."""
    token = read_unverified(token_from(request.headers.get("authorization"), None))
    check_algorithm(token, HS256)
    _check_issuer(token, body)
    connect, claims = verify_tenant_signature(token, await connect_tenant(runtime, app_key, token, fresh=True))
    check_connect_times(claims, runtime.clock.timestamp())
    check_qsh(claims, request_qsh(request, urlsplit(app_base_url(runtime, app_key)).path), accept_context=False)
    lifecycle_issued_at(claims)
    return connect, token


def lifecycle_issued_at(claims: Mapping[str, Any]) -> float:
    """A lifecycle token's ``iat``: required, since lifecycle events are ordered by it (``claims_invalid``)."""
    issued = time_claim(claims, "iat")
    if issued is None:
        raise Refused("claims_invalid", "a lifecycle token needs an 'iat' claim: events are ordered by it")
    return float(issued)
