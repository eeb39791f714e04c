"""An app as its vendor declares it: identity, product, scopes, the data it stores, and the handlers Pledge serves.

Declaring is all an app does. Pledge authenticates every request before a handler runs (S11), resolves the tenant,
and refuses routes that do not say how they are authenticated.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pledge.bodies import CHECKED_JSON, parse_json
from pledge.egress.sub_processors import SubProcessor
from pledge.errors import PledgeError
from pledge.store.async_store import AsyncTenantStore
from pledge.store.data_manifest import DataManifest
from pledge.trust.identity import Identity as Identity

_T = TypeVar("_T")

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from starlette.requests import Request

    from pledge.clock import Clock
    from pledge.config import Settings
    from pledge.egress import OutboundClient
    from pledge.forge_config import ForgeConfig
    from pledge.retention import DeletionRequests
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
    @property
    def deletion_requests(self) -> DeletionRequests: ...


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
        scope = self.request.scope
        if CHECKED_JSON not in scope:  # a verifier that read the body has left its checked parse here
            scope[CHECKED_JSON] = parse_json(await self.request.body())
        return scope[CHECKED_JSON]

    @property
    def store(self) -> AsyncTenantStore:
        """The verified tenant's records of this app: declared, encrypted, screened for personal data (S2).

        Awaited (``await context.store.create(...)``): each call runs on a worker thread, so a call waiting on the
        database never stalls the other requests of the process.
        """
        if self.app is None:
            raise PledgeError("this request context was built without its app: pass app= to reach the store")
        return AsyncTenantStore(self._services.store_for(self.app, self.tenant), self._services.store_threads)

    async def deletion_confirmation(self) -> str:
        """Step one of deleting this site's data at its administrator's request: a token for the page's confirm
        button, valid ten minutes for this site only. Call it only on a route only the site's administrators
        reach (docs/retention.md, "Deletion on request")."""
        return await self._in_thread(self._services.deletion_requests.confirm_token, self.tenant.id)

    async def request_deletion(self, confirm: str) -> None:
        """Step two: with step one's token, the site's data is deleted unrecoverably within the hour, and this
        site's requests are refused from now on. A missing, foreign or expired token is refused (403
        ``deletion_unconfirmed``) and nothing happens."""
        tenant = self.tenant
        await self._in_thread(self._services.deletion_requests.request, tenant.id, confirm)
        if tenant.client_key is not None:
            self._services.connect_tenants.forget(tenant.app_key, tenant.client_key)

    async def _in_thread(self, function: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._services.store_threads, functools.partial(function, *args))


Endpoint = Callable[[RequestContext], Awaitable[Any]]


class ProductApi(Protocol):
    """The tenant's product called as the app: Connect's ``ProductClient`` or Forge's ``ForgeApiClient``."""

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None, **segments: str | int) -> Any: ...


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """What an account hook receives when Atlassian's personal data reporting names a person the tenant's records
    hold: the tenant, the accountId, the tenant's store and its product (docs/personal-data-reporting.md)."""

    tenant: Tenant
    account_id: str = field(repr=False)
    store: AsyncTenantStore = field(repr=False)
    product: ProductApi = field(repr=False)


AccountHook = Callable[[AccountEvent], Awaitable[None]]


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
    sub_processors: tuple[SubProcessor, ...] = ()
    """The third parties the app's own code sends data to: the only hosts beyond Atlassian it may reach, each
    printed in the statement with its purpose and countries (docs/egress.md)."""
    routes: list[Route] = field(default_factory=list, init=False)
    webhooks: list[Webhook] = field(default_factory=list, init=False)
    pages: list[Page] = field(default_factory=list, init=False)
    account_closed_hook: AccountHook | None = field(default=None, init=False)
    """Runs when an account the tenant's records hold is closed, before Pledge erases it from them."""
    account_updated_hook: AccountHook | None = field(default=None, init=False)
    """Runs when Atlassian says a person's data changed since the app stored it: the app refreshes it."""

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

    def on_account_closed(self, hook: AccountHook) -> AccountHook:
        """``@app.on_account_closed``: custom handling of a closed account (say, deleting the records that only
        made sense for that person). Pledge then erases the accountId and the personal fields of every record that
        still holds it, whatever the hook did or raised."""
        if self.account_closed_hook is not None:
            raise ValueError(f"app {self.key!r} declares on_account_closed twice")
        self.account_closed_hook = hook
        return hook

    def on_account_updated(self, hook: AccountHook) -> AccountHook:
        """``@app.on_account_updated``: refresh what the app keeps about a person whose profile changed (read it
        again through ``event.product`` and update the records)."""
        if self.account_updated_hook is not None:
            raise ValueError(f"app {self.key!r} declares on_account_updated twice")
        self.account_updated_hook = hook
        return hook


def _path(path: str) -> str:
    if not path.startswith("/") or "//" in path or ".." in path:
        raise ValueError(f"route path {path!r} must be absolute and normalised")
    return path
