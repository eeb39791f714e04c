"""The Forge side of ``pledge sim serve``'s control API: install an app, invoke it, send it events (S11).

Forge finds a remote's endpoints in the app's manifest; the simulator is given the URL Pledge serves the app at
(``http://127.0.0.1:8000/apps/<key>``, the remote's ``baseUrl`` plus the app's path). The lifecycle endpoints under it
are the ones Pledge routes (``pledge.forge.routes``); ``invoke`` and ``event`` take a path under it, as
``pledge forge manifest`` lists the endpoints. Requests go out exactly as ``ForgeSite`` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request

from pledge.forge.routes import INSTALLED_PATH, PRE_UNINSTALL_PATH
from pledge.sim.connect_site import SimError
from pledge.sim.control import add_control_route
from pledge.sim.forge_site import Attempt, ForgeSite, Installation
from pledge.sim.site import SimSite

DEFAULT_EVENT = "avi:jira:updated:issue"
DEFAULT_ACCOUNT_ID = "sim-user-1"


@dataclass(frozen=True, slots=True)
class _Installed:
    installation: Installation
    app_url: str
    """Where Pledge serves the app; every endpoint the simulator calls is a path under it."""

    def endpoint(self, path: str) -> str:
        return self.app_url + "/" + path.lstrip("/")


class _ForgeControl:
    def __init__(self, forge: ForgeSite | None) -> None:
        self._forge = forge
        self._installed: dict[str, _Installed] = {}
        self._uninstalled: set[str] = set()

    @property
    def forge(self) -> ForgeSite:
        if self._forge is None:
            raise SimError("this simulated site serves no Forge app: restart it with `pledge sim serve --forge-app-id`")
        return self._forge

    def find(self, body: dict[str, Any]) -> _Installed:
        installation_id = body.get("installationId")
        found = self._installed.get(installation_id) if isinstance(installation_id, str) else None
        if found is None and installation_id in self._uninstalled:
            raise SimError(
                f"installation {installation_id} was uninstalled: Forge no longer calls the app for it;"
                " install the app again with `pledge sim forge install`"
            )
        if found is None:
            raise SimError(f"no Forge installation {installation_id!r} here: run `pledge sim forge install` first")
        return found

    async def install(self, _request: Request, body: dict[str, Any]) -> Any:
        app_url = _app_url(body.get("appUrl"))
        installation = self.forge.new_installation(license_active=body.get("licenseActive", True) is not False)
        installed = _Installed(installation, app_url)
        self._installed[installation.installation_id] = installed
        redeliveries = body.get("redeliveries", 0)
        attempts = await self.forge.install(
            installed.endpoint(INSTALLED_PATH),
            installation,
            redeliveries=redeliveries if isinstance(redeliveries, int) else 0,
        )
        return {
            "installationId": installation.installation_id,
            "cloudId": installation.cloud_id,
            "siteUrl": installation.site_url,
            "attempts": _attempts(attempts),
        }

    async def invoke(self, _request: Request, body: dict[str, Any]) -> Any:
        installed = self.find(body)
        url = installed.endpoint(str(body.get("path", "")))
        response = await self.forge.invoke_remote(
            url,
            installed.installation,
            body.get("payload"),
            principal=str(body.get("accountId", DEFAULT_ACCOUNT_ID)),
            method=str(body.get("method", "POST")).upper(),
        )
        return {"url": url, "status": response.status_code, "body": response.text}

    async def event(self, _request: Request, body: dict[str, Any]) -> Any:
        installed = self.find(body)
        issues = self.forge.issues
        issue_key = str(body.get("issueKey", "SIM-1"))
        if issue_key not in issues:
            raise SimError(f"the simulated site has no issue {issue_key!r} (it has {', '.join(issues)})")
        payload = {
            "eventType": str(body.get("event", DEFAULT_EVENT)),
            "issue": {"key": issue_key, "fields": dict(issues[issue_key])},
            "context": {"cloudId": installed.installation.cloud_id},
        }
        url = installed.endpoint(str(body.get("path", "")))
        attempts = await self.forge.deliver_trigger(url, installed.installation, payload)
        return {"url": url, "attempts": _attempts(attempts)}

    async def uninstall(self, _request: Request, body: dict[str, Any]) -> Any:
        installed = self.find(body)
        installation = installed.installation
        attempts = await self.forge.pre_uninstall(installed.endpoint(PRE_UNINSTALL_PATH), installation)
        # Forge uninstalls whatever the remote answered: preUninstall tells the app, it does not ask it.
        del self._installed[installation.installation_id]
        self._uninstalled.add(installation.installation_id)
        return {"attempts": _attempts(attempts)}

    async def fit(self, _request: Request, body: dict[str, Any]) -> Any:
        installed = self.find(body)
        principal = body.get("principal")
        if principal is None:
            with_context = body.get("context", True) is not False
            return {"fit": self.forge.mint_fit(installed.installation, with_context=with_context)}
        fit = self.forge.mint_fit(
            installed.installation, module_type="jira:issuePanel", module_key="pledge-ui", principal=str(principal)
        )
        return {"fit": fit}


def add_forge_control_routes(site: SimSite, forge: ForgeSite | None) -> None:
    """Routes under ``/_sim/forge``; without a Forge side each one says how to start the simulator with one."""
    control = _ForgeControl(forge)
    add_control_route(site, "/forge/install", control.install)
    add_control_route(site, "/forge/invoke", control.invoke)
    add_control_route(site, "/forge/event", control.event)
    add_control_route(site, "/forge/uninstall", control.uninstall)
    add_control_route(site, "/forge/fit", control.fit)


def _app_url(value: object) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise SimError(f"{value!r} is not the app's URL, e.g. http://127.0.0.1:8000/apps/forge-notes")
    return str(value).rstrip("/")


def _attempts(attempts: list[Attempt]) -> list[dict[str, Any]]:
    return [{"status": attempt.status, "retryContext": attempt.retry_context} for attempt in attempts]
