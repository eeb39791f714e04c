"""The Forge side of the simulated Atlassian site: JWKS, Forge Invocation Tokens, invocations, triggers, REST (S11).

``ForgeSite`` does what Forge does to a remote, so Pledge's Forge support is tested against behaviour, not mocks:

- serves a JWKS with its RSA signing key (counting requests, and able to go down);
- mints FITs with every claim Forge sets (``iss``, ``aud``, ``iat``, ``nbf``, ``exp`` 25 s after ``iat``, ``jti``,
  ``app.{id, installationId, apiBaseUrl, appVersion, environment, module, license.{active, isActive},
  installation}``, ``context.{cloudId, siteUrl, localId, moduleKey, extension}`` and ``principal`` on UI calls;
  without ``principal`` and ``context``, as Forge calls a remote from a backend function (``requestRemote``);
  ``app.module`` names the endpoint module called (type ``core:endpoint``) except on UI calls;
- calls remote endpoints as ``invokeRemote`` does (25 s timeout, no retry) with ``x-forge-oauth-system`` and
  ``x-forge-oauth-user`` tokens;
- delivers triggers as Forge does (5 s timeout, up to 4 redeliveries carrying ``retryContext``);
- answers ``GET {apiBaseUrl}/rest/api/3/issue/{key}`` and ``/rest/api/3/myself`` for the tokens it issued, and
  records every REST call it receives and every call it makes to a remote.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from pledge.clock import Clock, SystemClock
from pledge.forge.lifecycle_events import INSTALLED_MODULE, PRE_UNINSTALL_MODULE, UPGRADED_MODULE
from pledge.sim.loopback import serve_on_loopback
from pledge.sim.site import Exchange, RestCaller, RestRefused, SimSite

FIT_ISSUER = "forge/invocation-token"
FIT_LIFETIME = timedelta(seconds=25)
APP_TOKEN_LIFETIME = timedelta(hours=1)
INVOKE_TIMEOUT_SECONDS = 25.0
TRIGGER_TIMEOUT_SECONDS = 5.0
TRIGGER_RETRIES = 4
_TOKEN_HEADERS = {"app": "x-forge-oauth-system", "user": "x-forge-oauth-user"}


@dataclass
class Installation:
    """One site that installed the app."""

    installation_id: str
    cloud_id: str
    site_url: str
    license_active: bool = True
    environment_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None
    """The HTTP status, or None when the remote did not answer within the timeout."""
    retry_context: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RestCall:
    method: str
    path: str
    token_kind: str | None
    status: int


class ForgeSite:
    """A simulated Forge platform and Jira site for one app."""

    def __init__(
        self,
        app_id: str | None = None,
        *,
        clock: Clock | None = None,
        site: SimSite | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        trigger_backoff_seconds: float = 0.0,
    ) -> None:
        self.app_id = app_id or f"ari:cloud:ecosystem::app/{uuid.uuid4()}"
        self.clock = clock or SystemClock()
        self.site = site or SimSite("http://forge.sim.invalid", self.clock)
        self.kid = f"forge-sim-{secrets.token_hex(4)}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._token_secret = secrets.token_bytes(32)
        self._transport = transport
        self._backoff = trigger_backoff_seconds
        self._asgi: ASGIApp | None = None
        self.jwks_requests = 0
        self.jwks_available = True
        self.jwks_extra_keys: list[Any] = []
        """Entries served before the site's own key: other keys, or malformed ones, as a JWKS host might publish."""
        self.site.add_route("/.well-known/jwks.json", self._jwks)
        self.site.serve_rest_under("/ex/jira/{cloud_id}")
        self.site.add_authenticator(self._authenticate)

    @property
    def asgi(self) -> ASGIApp:
        """The simulated site (JWKS, REST API under apiBaseUrl, recorder) as an ASGI app, for in-process tests."""
        if self._asgi is None:
            self._asgi = self.site.asgi()
        return self._asgi

    @property
    def base_url(self) -> str:
        return self.site.base_url

    @property
    def issues(self) -> dict[str, dict[str, Any]]:
        return self.site.issues

    @property
    def rest_calls(self) -> list[RestCall]:
        """The REST calls the site received under an apiBaseUrl, in order, with the kind of token each carried."""
        return [
            RestCall(exchange.method, urlsplit(exchange.url).path, self._token_kind(exchange.headers), exchange.status)
            for exchange in self.site.recorder.received("/ex/jira/")
        ]

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the site on loopback; ``base_url`` points there while the block runs."""

        def bound(url: str) -> ASGIApp:
            self.site.base_url = url
            self._asgi = self.site.asgi()
            return self._asgi

        with serve_on_loopback(bound) as url:
            yield url

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def pledge_environment(self) -> dict[str, str]:
        """The settings under which ``pledge serve`` trusts this site's FITs and may call its REST API."""
        return {"PLEDGE_FORGE_JWKS_URL": self.jwks_url, "PLEDGE_ATLASSIAN_API_URL": self.base_url}

    def new_installation(self, *, license_active: bool = True) -> Installation:
        cloud_id = str(uuid.uuid4())
        return Installation(
            installation_id=f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
            cloud_id=cloud_id,
            site_url=f"https://site-{cloud_id[:8]}.atlassian.net",
            license_active=license_active,
        )

    def api_base_url(self, installation: Installation) -> str:
        return f"{self.base_url}/ex/jira/{installation.cloud_id}"

    # Tokens.

    def mint_fit(
        self,
        installation: Installation,
        *,
        module_type: str = "core:endpoint",
        module_key: str = "pledge",
        principal: str | None = None,
        with_context: bool = True,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **overrides: Any,
    ) -> str:
        """A FIT as Forge mints it; ``overrides`` replace or (with value None) remove top-level claims.

        ``with_context=False`` (and no ``principal``) is the FIT of a call from a backend function (``requestRemote``):
        Forge sends no ``context`` then.
        """
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": FIT_ISSUER,
            "aud": self.app_id,
            "iat": now,
            "nbf": now,
            "exp": now + int(FIT_LIFETIME.total_seconds()),
            "jti": str(uuid.uuid4()),
            "app": {
                "id": self.app_id,
                "installationId": installation.installation_id,
                "apiBaseUrl": self.api_base_url(installation),
                "appVersion": "1.0.0",
                "environment": {"type": "DEVELOPMENT", "id": installation.environment_id},
                "module": {"type": module_type, "key": module_key},
                # ``active`` is the documented field; ``isActive`` its deprecated name, still sent.
                "license": {"active": installation.license_active, "isActive": installation.license_active},
                "installation": {
                    "id": installation.installation_id,
                    "contexts": [f"ari:cloud:jira::site/{installation.cloud_id}"],
                },
            },
            "context": {
                "cloudId": installation.cloud_id,
                "siteUrl": installation.site_url,
                "localId": str(uuid.uuid4()),
                "moduleKey": module_key,
                "extension": {"type": f"jira:{module_key}"},
            },
        }
        if principal is not None:
            claims["principal"] = principal
        if not with_context:
            del claims["context"]
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    def app_token(self, installation: Installation) -> str:
        return self._token(installation, "app", self.app_id)

    def user_token(self, installation: Installation, account_id: str) -> str:
        return self._token(installation, "user", account_id)

    def _token(self, installation: Installation, kind: str, subject: str) -> str:
        now = self.clock.now()
        claims = {
            "iss": "forge-sim",
            "sub": subject,
            "kind": kind,
            "cloudId": installation.cloud_id,
            "iat": int(now.timestamp()),
            "exp": int((now + APP_TOKEN_LIFETIME).timestamp()),
        }
        return jwt.encode(claims, self._token_secret, algorithm="HS256")

    def public_jwk(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }

    # Calls to the remote.

    async def invoke_remote(
        self,
        url: str,
        installation: Installation,
        payload: Any = None,
        *,
        principal: str,
        method: str = "POST",
        module_key: str = "pledge-ui",
    ) -> httpx.Response:
        """What ``invokeRemote`` from a UI module does: one call, 25 s timeout, no retry, app and user tokens."""
        fit = self.mint_fit(installation, module_type="jira:issuePanel", module_key=module_key, principal=principal)
        headers = {
            "authorization": f"Bearer {fit}",
            _TOKEN_HEADERS["app"]: self.app_token(installation),
            _TOKEN_HEADERS["user"]: self.user_token(installation, principal),
        }
        async with self._client(INVOKE_TIMEOUT_SECONDS) as client:
            return await client.request(method, url, json=payload, headers=headers)

    async def deliver_trigger(
        self,
        url: str,
        installation: Installation,
        payload: dict[str, Any],
        *,
        module_type: str = "core:endpoint",
        module_key: str = "pledge-trigger",
        redeliveries: int = 0,
    ) -> list[Attempt]:
        """Deliver an event as Forge does: 5 s timeout, retried up to 4 times until a 2xx answer.

        ``module_key`` is the key of the ``endpoint`` module the trigger calls, as the FIT's ``app.module.key``.

        ``redeliveries`` sends that many more deliveries after a success, as Forge does when it lost the
        acknowledgement: each carries ``retryContext`` like a retry.
        """
        attempts: list[Attempt] = []
        async with self._client(TRIGGER_TIMEOUT_SECONDS) as client:
            for number in range(TRIGGER_RETRIES + 1):
                succeeded = bool(attempts) and attempts[-1].status is not None and attempts[-1].status < 300
                if succeeded and redeliveries <= 0:
                    break
                if succeeded:
                    redeliveries -= 1
                retry_context = None
                if number:
                    reason = "TIMEOUT" if attempts[-1].status is None else "FUNCTION_ERROR"
                    retry_context = {"retryCount": number, "retryReason": reason, "retryData": {}}
                    await asyncio.sleep(self._backoff * 2 ** (number - 1))
                body = {**payload, **({"retryContext": retry_context} if retry_context else {})}
                fit = self.mint_fit(installation, module_type=module_type, module_key=module_key)
                headers = {"authorization": f"Bearer {fit}", _TOKEN_HEADERS["app"]: self.app_token(installation)}
                try:
                    response = await client.post(url, json=body, headers=headers)
                    attempts.append(Attempt(response.status_code, retry_context))
                except httpx.TimeoutException:
                    attempts.append(Attempt(None, retry_context))
        return attempts

    async def install(self, remote_url: str, installation: Installation, *, redeliveries: int = 0) -> list[Attempt]:
        """Deliver ``avi:forge:installed:app`` to the remote's lifecycle endpoint."""
        return await self.deliver_trigger(
            remote_url,
            installation,
            self.lifecycle_payload(installation, "avi:forge:installed:app"),
            module_key=INSTALLED_MODULE.endpoint_key,
            redeliveries=redeliveries,
        )

    async def upgrade(self, remote_url: str, installation: Installation, *, redeliveries: int = 0) -> list[Attempt]:
        """Deliver ``avi:forge:upgraded:app`` to the remote's lifecycle endpoint."""
        return await self.deliver_trigger(
            remote_url,
            installation,
            self.lifecycle_payload(installation, "avi:forge:upgraded:app"),
            module_key=UPGRADED_MODULE.endpoint_key,
            redeliveries=redeliveries,
        )

    async def pre_uninstall(self, remote_url: str, installation: Installation) -> list[Attempt]:
        """Tell the remote's ``preUninstall`` endpoint the app is being uninstalled (Forge uninstalls regardless)."""
        payload = {
            "context": {"cloudId": installation.cloud_id},
            "moduleKey": PRE_UNINSTALL_MODULE.module_key,
            "contextToken": secrets.token_urlsafe(16),
        }
        return await self.deliver_trigger(
            remote_url, installation, payload, module_key=PRE_UNINSTALL_MODULE.endpoint_key
        )

    def lifecycle_payload(self, installation: Installation, event: str) -> dict[str, Any]:
        return {
            "eventType": event,
            "id": installation.installation_id,
            "installerAccountId": f"557058:{uuid.uuid4()}",
            "app": {"id": self.app_id, "version": "1.0.0"},
            "environment": {"id": installation.environment_id},
            "context": {"cloudId": installation.cloud_id},
        }

    async def call_hook(
        self, url: str, installation: Installation, payload: dict[str, Any] | None = None, *, method: str = "POST"
    ) -> httpx.Response:
        """Call a ``migration:dataResidency`` hook (``/schedule``, ``/start``, ``GET /status``, …)."""
        token = self.mint_fit(installation, module_type="migration:dataResidency", module_key="pledge-realm-migration")
        headers = {"authorization": f"Bearer {token}"}
        async with self._client(INVOKE_TIMEOUT_SECONDS) as client:
            if method == "GET":
                return await client.get(url, params=payload, headers=headers)
            return await client.request(method, url, json=payload or {}, headers=headers)

    def _client(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=timeout,
            transport=self._transport,
            follow_redirects=False,
            event_hooks={"response": [self._record_sent]},
        )

    async def _record_sent(self, response: httpx.Response) -> None:
        await response.aread()
        self.site.recorder.record(Exchange.sent(response))

    def credential(self, headers: dict[str, str]) -> str | None:
        """What a recorded request carried, by name only: ``FIT + app token``, ``app token``, ``user token``."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            return None
        kind = self._token_kind(headers)
        if kind is not None:
            return f"{kind} token"
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError:
            return "unknown bearer token"
        if issuer != FIT_ISSUER:
            return "unknown bearer token"
        return " + ".join(["FIT"] + [f"{kind} token" for kind, header in _TOKEN_HEADERS.items() if header in headers])

    # The simulated site's endpoints.

    async def _jwks(self, _request: Request) -> Response:
        self.jwks_requests += 1
        if not self.jwks_available:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        return JSONResponse({"keys": [*self.jwks_extra_keys, self.public_jwk()]})

    async def _authenticate(self, request: Request) -> RestCaller | None:
        """Bearer tokens this site issued, for the cloudId in the path; other schemes are another simulator's."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer":
            return None
        claims = self._token_claims(token)
        if claims is None:
            raise RestRefused("the bearer token was not issued by this site or has expired")
        # Atlassian-wide APIs (personal data reporting) name no site; a site's API must be the token's own.
        if "cloud_id" in request.path_params and claims.get("cloudId") != request.path_params["cloud_id"]:
            raise RestRefused("the bearer token is for another site")
        return RestCaller(scheme=f"forge-{claims['kind']}", app_key=self.app_id)

    def _token_claims(self, token: str) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._token_secret, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.InvalidTokenError:
            return None
        return claims if claims["exp"] > self.clock.now().timestamp() else None

    def _token_kind(self, headers: dict[str, str]) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        claims = self._token_claims(token) if scheme == "Bearer" else None
        return None if claims is None else str(claims["kind"])


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
