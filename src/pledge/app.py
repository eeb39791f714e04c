"""An app as its vendor declares it: identity, product, scopes, the data it stores, and the handlers Pledge serves.

Declaring is all an app does. Pledge authenticates every request before a handler runs (S11), resolves the tenant,
and refuses routes that do not say how they are authenticated.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pledge.bodies import CHECKED_JSON, check_depth, parse_json
from pledge.errors import PledgeError
from pledge.store.async_store import AsyncTenantStore
from pledge.store.data_manifest import DataManifest
from pledge.trust.identity import Identity as Identity

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from starlette.requests import Request

    from pledge.clock import Clock
    from pledge.config import Settings
    from pledge.egress import OutboundClient
    from pledge.forge_config import ForgeConfig
    from pledge.store import TenantStore
    from pledge.tenants import Tenant
    from pledge.trust.tenant_cache import ConnectTenantCache

_KEY = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}")


class Product(enum.StrEnum):
    JIRA = "jira"
    CONFLUENCE = "confluence"


class Auth(enum.StrEnum):
    """How a route's caller proves who it is. Every route names one; there is no default."""

    CONNECT = "connect"
    """Product → app (webhooks, page loads, lifecycle): HS256 with the tenant's shared secret, exact QSH."""
    CONNECT_CONTEXT = "connect-context"
    """The app's own frontend (``AP.context.getToken()``): a context JWT, ``qsh = "context-qsh"``."""
    FORGE = "forge"
    """Forge Remote: a Forge Invocation Token (RS256, JWKS)."""
    PUBLIC = "public"
    """No authentication: only for routes that serve nothing tenant-specific (the descriptor, static files)."""


@dataclass(frozen=True, slots=True)
class SettingsView:
    """What a handler may know of the deployment: where it is served, its region, whether it is in development mode.

    Not the settings themselves: no database URL, keyring or key reaches a handler."""

    public_url: str
    region: str
    dev_mode: bool


class Services(Protocol):
    """What a request context draws on, as the runtime provides it (``app`` sits below ``runtime`` and never names
    it): the tenant's store and its threads for handlers, the rest for Pledge's own product clients."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def egress(self) -> OutboundClient: ...
    @property
    def connect_tenants(self) -> ConnectTenantCache: ...
    @property
    def store_threads(self) -> ThreadPoolExecutor: ...
    def store_for(self, app: App, tenant: Tenant) -> TenantStore: ...


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What a handler receives: the request, the verified identity (None on public routes), the tenant's store and
    a read-only view of the settings; product clients are built from it (``product_client(context)``,
    ``forge_call(context)``).

    Not the runtime, its engine or its vault: a handler reaches storage only through :attr:`store`, where the data
    manifest and the personal-data guard apply (S2). ``_services`` is for Pledge's own product clients.
    """

    request: Request
    identity: Identity | None
    _services: Services = field(repr=False)
    app: App | None = None

    @property
    def settings(self) -> SettingsView:
        settings = self._services.settings
        return SettingsView(settings.public_url, settings.region, settings.dev_mode)

    @property
    def tenant(self) -> Tenant:
        if self.identity is None:
            raise PledgeError("a public route has no tenant")
        return self.identity.tenant

    async def json(self) -> Any:
        """The request's JSON body, parsed once: an authenticated webhook's verifier has parsed it already.

        Strict RFC 8259 (orjson: a body with NaN or invalid UTF-8 is refused) and at most ``MAX_JSON_DEPTH`` levels
        deep, else 400 ``body_malformed``; the host has bounded its size (413 ``body_too_large``). orjson parses a
        5 KiB issue event in about 9 µs against the json module's 22 µs.
        """
        request = self.request
        checked = request.scope.get(CHECKED_JSON)
        if checked is not None:
            return checked
        body = await request.body()
        # Starlette's own `Request.json()` answers from `_json`; the Connect verifier leaves its parse there too.
        if hasattr(request, "_json"):
            check_depth(body, request._json)
        else:
            request._json = parse_json(body)
        return request._json

    @property
    def store(self) -> AsyncTenantStore:
        """The verified tenant's records of this app: declared, encrypted, screened for personal data (S2).

        Awaited (``await context.store.create(...)``): each call runs on a worker thread, so a call waiting on the
        database never stalls the other requests of the process.
        """
        if self.app is None:
            raise PledgeError("this request context was built without its app: pass app= to reach the store")
        return AsyncTenantStore(self._services.store_for(self.app, self.tenant), self._services.store_threads)


Endpoint = Callable[[RequestContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    methods: tuple[str, ...]
    auth: Auth
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class Webhook:
    event: str
    path: str
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    name: str
    path: str
    location: str
    endpoint: Endpoint


@dataclass
class App:
    """One Atlassian app served by Pledge. Its routes live under ``/apps/<key>`` of the host."""

    key: str
    name: str
    description: str = ""
    vendor_name: str = ""
    vendor_url: str = ""
    product: Product = Product.JIRA
    scopes: tuple[str, ...] = ("READ",)
    data: DataManifest = field(default_factory=DataManifest)
    forge: ForgeConfig | None = None
    """Served as a Forge Remote (Auth.FORGE routes, lifecycle triggers, realm migration) when set."""
    routes: list[Route] = field(default_factory=list, init=False)
    webhooks: list[Webhook] = field(default_factory=list, init=False)
    pages: list[Page] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"app key {self.key!r} must be lower-case letters, digits, '.' and '-'")

    def route(self, path: str, *, auth: Auth, methods: tuple[str, ...] = ("GET",)) -> Callable[[Endpoint], Endpoint]:
        """Serve ``path`` behind ``auth``, e.g. ``@app.route("/api/rules", auth=Auth.CONNECT_CONTEXT)``."""

        checked = _path(path)

        def register(endpoint: Endpoint) -> Endpoint:
            self.routes.append(Route(checked, tuple(m.upper() for m in methods), auth, endpoint))
            return endpoint

        return register

    def webhook(self, event: str, *, path: str | None = None) -> Callable[[Endpoint], Endpoint]:
        """Handle a product event (``jira:issue_updated``), delivered signed with the tenant's shared secret."""

        checked = _path(path or "/webhooks/" + re.sub(r"[^a-z0-9]+", "-", event))

        def register(endpoint: Endpoint) -> Endpoint:
            self.webhooks.append(Webhook(event, checked, endpoint))
            return endpoint

        return register

    def page(
        self, key: str, *, name: str, location: str = "generalPages", path: str | None = None
    ) -> Callable[[Endpoint], Endpoint]:
        """A page the product shows in an iframe; loaded with a signed ``jwt`` query parameter."""

        checked = _path(path or f"/pages/{key}")

        def register(endpoint: Endpoint) -> Endpoint:
            self.pages.append(Page(key, name, checked, location, endpoint))
            return endpoint

        return register


def _path(path: str) -> str:
    if not path.startswith("/") or "//" in path or ".." in path:
        raise ValueError(f"route path {path!r} must be absolute and normalised")
    return path
