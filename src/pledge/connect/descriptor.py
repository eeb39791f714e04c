"""The Connect descriptor Pledge serves for an app: what it asks of the product, and nothing it does not need (S11).

The base URL is templated from the settings, so the same app installs from a laptop and from production. The API
migrations are always on: ``signed-install`` (RS256 installs), ``context-qsh`` (context JWTs only where the app's
own frontend calls) and ``gdpr`` (personal data reporting).
"""

from __future__ import annotations

from typing import Any, Final

from pledge.app import App, Page
from pledge.legal import TRANSPARENCY_PAGE_PATH

DESCRIPTOR_PATH: Final = "/atlassian-connect.json"
ICON_PATH: Final = "/icon.svg"
LIFECYCLE_EVENTS: Final = ("installed", "uninstalled", "enabled", "disabled")
API_MIGRATIONS: Final = {"signed-install": True, "context-qsh": True, "gdpr": True}

# Context parameters the product substitutes into a page's URL, per module location.
_PAGE_CONTEXT: Final = {
    "jiraIssueGlances": "issueKey={issue.key}&projectKey={project.key}",
    "jiraIssueContents": "issueKey={issue.key}&projectKey={project.key}",
    "webPanels": "issueKey={issue.key}&projectKey={project.key}",
}


TRANSPARENCY_PAGE_KEY: Final = "pledge-transparency"


def lifecycle_path(event: str) -> str:
    return f"/lifecycle/{event}"


def descriptor(app: App, base_url: str) -> dict[str, Any]:
    """The JSON document Atlassian reads to install ``app`` served at ``base_url``."""
    modules: dict[str, list[dict[str, Any]]] = {}
    if app.webhooks:
        modules["webhooks"] = [{"event": hook.event, "url": hook.path} for hook in app.webhooks]
    for page in app.pages:
        modules.setdefault(page.location, []).append(_page_module(page))
    # Every app shows its site's administrators the legal requests about their site (S13): an admin page, which
    # the product shows to administrators only.
    modules.setdefault("adminPages", []).append(
        {"key": TRANSPARENCY_PAGE_KEY, "name": {"value": "Legal requests"}, "url": TRANSPARENCY_PAGE_PATH}
    )
    document: dict[str, Any] = {
        "key": app.key,
        "name": app.name,
        "description": app.description,
        "baseUrl": base_url,
        "authentication": {"type": "jwt"},
        "lifecycle": {event: lifecycle_path(event) for event in LIFECYCLE_EVENTS},
        "apiMigrations": dict(API_MIGRATIONS),
        "scopes": list(app.scopes),
        "modules": modules,
    }
    if app.vendor_name:
        document["vendor"] = {"name": app.vendor_name, "url": app.vendor_url}
    return document


def _page_module(page: Page) -> dict[str, Any]:
    context = _PAGE_CONTEXT.get(page.location)
    url = f"{page.path}?{context}" if context else page.path
    module: dict[str, Any] = {"key": page.key, "name": {"value": page.name}, "url": url}
    if page.location == "jiraIssueGlances":
        # A glance is a label in the issue view that opens the page in a side panel.
        del module["url"]
        module |= {
            "icon": {"width": 24, "height": 24, "url": ICON_PATH},
            "content": {"type": "label", "label": {"value": page.name}},
            "target": {"type": "web_panel", "url": url},
        }
    return module
