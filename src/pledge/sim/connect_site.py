"""The Connect side of the simulated site: install-keys server, signed lifecycle, webhooks, page loads, REST auth.

It behaves as Atlassian does towards an app (S11): ``installed``/``uninstalled`` signed RS256 with a key served by
kid, ``enabled``/``disabled``, webhooks and page loads signed HS256 with the shared secret handed over at install,
and REST calls from the app refused unless their JWT and QSH verify.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import Response

from pledge.errors import PledgeError
from pledge.sim.site import Exchange, RestCaller, RestRefused, SimSite
from pledge.trust.qsh import CONTEXT_QSH, query_string_hash

INSTALL_KEYS_PATH: Final = "/connect-install-keys"
LIFECYCLE_TOKEN_SECONDS: Final = 60
"""Lifecycle tokens are used at once, so they are short-lived."""
PRODUCT_TOKEN_SECONDS: Final = 180
"""Webhooks, page loads and context tokens: three minutes, as the products issue them."""
CONTEXT_TOKEN_SECONDS: Final = 900
REST_LEEWAY_SECONDS: Final = 30


class SimError(PledgeError):
    """The simulated site could not do what it was asked (the app refused, or is not installed)."""


class InstallSigner:
    """Atlassian's signed-install key pair, published by kid. One signer may serve several simulated sites."""

    def __init__(self) -> None:
        self.kid = str(uuid.uuid4())
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_key_pem(self) -> str:
        public = self.private_key.public_key()
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass
class Installation:
    """An app installed on the simulated site, with the secret the site handed it."""

    app_key: str
    app_base_url: str
    descriptor: dict[str, Any]
    client_key: str
    shared_secret: str
    installation_id: str
    enabled: bool = False
    installed: bool = True

    def __repr__(self) -> str:
        return f"Installation(app_key={self.app_key!r}, enabled={self.enabled}, installed={self.installed})"


class ConnectSim:
    """Drives apps through Connect from ``site``. ``transport`` routes its requests (tests: ASGI, CLI: network)."""

    def __init__(
        self,
        site: SimSite,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        client_key: str | None = None,
        signer: InstallSigner | None = None,
    ) -> None:
        self.site = site
        self.client_key = client_key or str(uuid.uuid4())
        self.signer = signer or InstallSigner()
        self.key_server_available = True
        self.installations: dict[str, Installation] = {}
        self._transport = transport
        site.add_route(INSTALL_KEYS_PATH + "/{kid}", self._serve_install_key)
        site.add_authenticator(self._authenticate)

    @property
    def install_keys_url(self) -> str:
        """What an app's ``PLEDGE_CONNECT_INSTALL_KEYS_URL`` must be to install from this site."""
        return self.site.base_url + INSTALL_KEYS_PATH

    def installation(self, app_key: str) -> Installation:
        found = self.installations.get(app_key)
        if found is None:
            raise SimError(f"app {app_key!r} is not installed on the simulated site: run `pledge sim install` first")
        return found

    # Tokens -------------------------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.site.clock.now().timestamp())

    def install_token(self, installation: Installation, url: str, **overrides: Any) -> str:
        """The RS256 token of a signed ``installed``/``uninstalled`` call to ``url``."""
        now = self._now()
        claims = {
            "iss": self.client_key,
            "aud": [installation.app_base_url],
            "iat": now,
            "exp": now + LIFECYCLE_TOKEN_SECONDS,
            "qsh": self._qsh("POST", url, installation),
            "context": {},
        } | overrides
        return jwt.encode(claims, self.signer.private_key, algorithm="RS256", headers={"kid": self.signer.kid})

    def shared_token(
        self,
        installation: Installation,
        method: str,
        url: str,
        *,
        lifetime: int = PRODUCT_TOKEN_SECONDS,
        **overrides: Any,
    ) -> str:
        """An HS256 token signed with the installation's shared secret, for ``method url``."""
        now = self._now()
        claims = {
            "iss": self.client_key,
            "iat": now,
            "exp": now + lifetime,
            "qsh": self._qsh(method, url, installation),
        } | overrides
        return jwt.encode(claims, installation.shared_secret, algorithm="HS256")

    def context_token(self, app_key: str, account_id: str = "sim-user-1") -> str:
        """What ``AP.context.getToken()`` returns in the app's own frontend: not bound to any request."""
        installation = self.installation(app_key)
        return self.shared_token(
            installation,
            "GET",
            installation.app_base_url,
            lifetime=CONTEXT_TOKEN_SECONDS,
            qsh=CONTEXT_QSH,
            sub=account_id,
            context={"license": {"active": True}},
        )

    def _qsh(self, method: str, url: str, installation: Installation) -> str:
        return query_string_hash(method, url, context_path=urlsplit(installation.app_base_url).path)

    # Requests -----------------------------------------------------------------------------------------------------

    def lifecycle_request(self, installation: Installation, event: str) -> httpx.Request:
        """The signed lifecycle call Atlassian would send for ``event``; built, not sent."""
        url = self._module_url(installation, installation.descriptor["lifecycle"][event])
        body = self._lifecycle_payload(installation, event)
        if event in ("installed", "uninstalled"):
            token = self.install_token(installation, url)
        else:
            token = self.shared_token(installation, "POST", url, lifetime=LIFECYCLE_TOKEN_SECONDS)
        return _json_request("POST", url, body, token)

    def webhook_request(self, app_key: str, event: str, payload: Mapping[str, Any]) -> httpx.Request:
        installation = self.installation(app_key)
        hooks = installation.descriptor.get("modules", {}).get("webhooks", [])
        path = next((hook["url"] for hook in hooks if hook["event"] == event), None)
        if path is None:
            raise SimError(f"app {app_key!r} has no webhook for {event!r} in its descriptor")
        url = self._module_url(installation, path)
        body = {"timestamp": self._now() * 1000, "webhookEvent": event, **payload}
        return _json_request("POST", url, body, self.shared_token(installation, "POST", url))

    def page_url(
        self, app_key: str, page_key: str, *, context: Mapping[str, str] | None = None, account_id: str = "sim-user-1"
    ) -> str:
        """The iframe URL of a page module, with the product's parameters and a signed ``jwt`` parameter."""
        installation = self.installation(app_key)
        template = self._page_template(installation, page_key)
        for name, value in (context or {}).items():
            template = template.replace("{" + name + "}", value)
        url = self._module_url(installation, _blank_placeholders(template))
        separator = "&" if "?" in url else "?"
        url += separator + urlencode({"xdm_e": self.site.product_url, "cp": self.site.context_path, "lic": "none"})
        token = self.shared_token(installation, "GET", url, sub=account_id)
        return f"{url}&jwt={token}"

    def _page_template(self, installation: Installation, page_key: str) -> str:
        for modules in installation.descriptor.get("modules", {}).values():
            for module in modules if isinstance(modules, list) else []:
                if module.get("key") == page_key:
                    url = module.get("url") or module.get("target", {}).get("url")
                    if isinstance(url, str):
                        return url
        raise SimError(f"app {installation.app_key!r} has no page {page_key!r} in its descriptor")

    def _module_url(self, installation: Installation, path: str) -> str:
        return urljoin(installation.app_base_url + "/", path.lstrip("/"))

    def _lifecycle_payload(self, installation: Installation, event: str) -> dict[str, Any]:
        return {
            "key": installation.app_key,
            "clientKey": self.client_key,
            "sharedSecret": installation.shared_secret,
            "baseUrl": self.site.product_url,
            "displayUrl": self.site.product_url,
            "productType": self.site.product,
            "description": "Simulated Atlassian site",
            "serviceEntitlementNumber": "SEN-0000000",
            "installationId": installation.installation_id,
            "eventType": event,
        }

    # Actions ------------------------------------------------------------------------------------------------------

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send as the product, recording the exchange."""
        async with httpx.AsyncClient(transport=self._transport, timeout=30.0) as client:
            response = await client.send(request)
        self.site.recorder.record(Exchange.sent(response))
        return response

    async def install(self, descriptor_url: str) -> Installation:
        """Fetch the descriptor, send a signed ``installed`` (a new secret on a re-install), then ``enabled``."""
        installation = await self.register(descriptor_url)
        _expect_success(await self.send(self.lifecycle_request(installation, "installed")), "installed")
        await self.enable(installation.app_key)
        return installation

    async def register(self, descriptor_url: str) -> Installation:
        """The first half of an install: read the descriptor and pick a new shared secret; nothing is sent yet."""
        response = await self.send(httpx.Request("GET", descriptor_url))
        if response.status_code != 200:
            raise SimError(f"the descriptor at {descriptor_url} answered {response.status_code}")
        try:
            document = response.json()
            app_key, base_url = document["key"], document["baseUrl"].rstrip("/")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SimError(f"{descriptor_url} is not a Connect descriptor") from None
        if not document.get("apiMigrations", {}).get("signed-install"):
            raise SimError(f"app {app_key!r} does not opt in to signed-install: Atlassian would refuse it")
        previous = self.installations.get(app_key)
        installation = Installation(
            app_key=app_key,
            app_base_url=base_url,
            descriptor=document,
            client_key=self.client_key,
            shared_secret=secrets.token_urlsafe(48),
            installation_id=previous.installation_id
            if previous
            else f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
        )
        self.installations[app_key] = installation
        return installation

    async def enable(self, app_key: str) -> None:
        installation = self.installation(app_key)
        _expect_success(await self.send(self.lifecycle_request(installation, "enabled")), "enabled")
        installation.enabled = True

    async def disable(self, app_key: str) -> None:
        installation = self.installation(app_key)
        _expect_success(await self.send(self.lifecycle_request(installation, "disabled")), "disabled")
        installation.enabled = False

    async def uninstall(self, app_key: str) -> None:
        installation = self.installation(app_key)
        _expect_success(await self.send(self.lifecycle_request(installation, "uninstalled")), "uninstalled")
        installation.installed = False
        installation.enabled = False

    async def send_webhook(self, app_key: str, event: str, payload: Mapping[str, Any]) -> httpx.Response:
        return await self.send(self.webhook_request(app_key, event, payload))

    async def issue_updated(self, app_key: str, issue_key: str) -> httpx.Response:
        """A ``jira:issue_updated`` webhook for one of the site's issues."""
        issue = self.site.issues[issue_key]
        payload = {"issue": {"key": issue_key, "fields": dict(issue)}, "changelog": {"items": [{"field": "status"}]}}
        return await self.send_webhook(app_key, "jira:issue_updated", payload)

    async def load_page(
        self, app_key: str, page_key: str, *, context: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return await self.send(httpx.Request("GET", self.page_url(app_key, page_key, context=context)))

    # The site's side ----------------------------------------------------------------------------------------------

    async def _serve_install_key(self, request: Request) -> Response:
        if not self.key_server_available:
            return Response("key server unavailable", status_code=503)
        if request.path_params["kid"] != self.signer.kid:
            return Response("no such key", status_code=404)
        return Response(self.signer.public_key_pem, media_type="application/x-pem-file")

    async def _authenticate(self, request: Request) -> RestCaller | None:
        """Verify an app's REST call as the product does: HS256 with the app's secret, exact QSH, not expired."""
        header = request.headers.get("authorization", "")
        if not header.startswith("JWT "):
            return None
        token = header[4:]
        try:
            app_key = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise RestRefused("malformed JWT") from None
        installation = self.installations.get(app_key) if isinstance(app_key, str) else None
        if installation is None or not installation.installed:
            raise RestRefused("the JWT's iss is not an app installed on this site")
        try:
            claims = jwt.decode(
                token,
                installation.shared_secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise RestRefused("the JWT's signature does not verify with the app's shared secret") from None
        now = self._now()
        if not isinstance(claims.get("exp"), int) or now > claims["exp"] + REST_LEEWAY_SECONDS:
            raise RestRefused("the JWT has expired or has no exp")
        target = request.scope.get("raw_path", b"").decode("utf-8", "replace")
        query = request.scope.get("query_string", b"").decode("utf-8", "replace")
        expected = query_string_hash(
            request.method, target + (f"?{query}" if query else ""), context_path=self.site.context_path
        )
        if claims.get("qsh") != expected:
            raise RestRefused("the JWT's qsh does not match this request")
        return RestCaller(scheme="connect-jwt", app_key=installation.app_key)


def _json_request(method: str, url: str, body: Mapping[str, Any], token: str) -> httpx.Request:
    return httpx.Request(
        method,
        url,
        content=json.dumps(body).encode(),
        headers={"Authorization": f"JWT {token}", "Content-Type": "application/json"},
    )


def _blank_placeholders(template: str) -> str:
    """Context variables the product cannot fill become empty, as Atlassian substitutes them."""
    return re.sub(r"\{[A-Za-z0-9_.]+\}", "", template)


def _expect_success(response: httpx.Response, event: str) -> None:
    if response.status_code >= 300:
        try:
            reason = response.json().get("error", response.status_code)
        except ValueError:
            reason = response.status_code
        raise SimError(f"the app refused the {event} lifecycle call ({response.status_code}: {reason})")
