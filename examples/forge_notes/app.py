"""A small Forge Remote app served by Pledge: notes on Jira issues, an issue-created event, calls back to Jira.

Run it with ``pledge serve --app examples.forge_notes.app:app`` from the repository root; see README.md
("Forge Remote apps") for the walkthrough against the simulated Forge site.

The notes live in Pledge's store, encrypted under the tenant's data key, and move with the tenant on a realm
migration.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from pledge.app import App, Auth, RequestContext
from pledge.forge import ForgeConfig, forge_call
from pledge.forge.api_client import ProductCallFailed
from pledge.store.data_manifest import Category, Collection, DataManifest, Field

APP_ID = os.environ.get("FORGE_NOTES_APP_ID", "ari:cloud:ecosystem::app/5b8e6d0a-2f64-4c3e-9a51-0d7c3f1e2b90")

app = App(
    key="forge-notes",
    name="Forge Notes",
    description="Notes on Jira issues",
    data=DataManifest(
        (
            Collection(
                "notes",
                "Notes the site's users write on issues",
                (
                    Field("issue_key", Category.CONFIGURATION, "Which issue the note is on", indexed=True),
                    Field("text", Category.CONTENT, "Shown back to the site's users on the issue"),
                ),
            ),
        )
    ),
    forge=ForgeConfig(app_id=APP_ID, events={"avi:jira:created:issue": "/events/issue-created"}),
)


def _text(document: object, name: str) -> str:
    """A string member of a JSON object the caller sent, or 400."""
    value = document.get(name) if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise HTTPException(400, f"{name} must be a string")
    return value


@app.route("/notes", auth=Auth.FORGE, methods=("POST",))
async def add_note(context: RequestContext) -> dict[str, Any]:
    body = await context.json()
    record = await context.store.create("notes", {"issue_key": _text(body, "issueKey"), "text": _text(body, "text")})
    return {"id": record.id}


@app.route("/notes", auth=Auth.FORGE, methods=("GET",))
async def list_notes(context: RequestContext) -> dict[str, Any]:
    notes = [{"issueKey": r["issue_key"], "text": r["text"]} for r in await context.store.list("notes")]
    return {"notes": sorted(notes, key=lambda note: (note["issueKey"], note["text"]))}


@app.route("/issue-summary", auth=Auth.FORGE, methods=("POST",))
async def issue_summary(context: RequestContext) -> dict[str, Any] | JSONResponse:
    key = _text(await context.json(), "issueKey")
    try:
        # The key the frontend sent is one encoded segment: it cannot steer the user's token to another API.
        issue = await forge_call(context).as_user().get_json("/rest/api/3/issue/{key}", key=key)
    except ProductCallFailed:
        return JSONResponse({"error": "issue_unreadable", "message": "the issue could not be read"}, status_code=502)
    return {"summary": issue["fields"]["summary"], "status": issue["fields"]["status"]}


@app.route("/events/issue-created", auth=Auth.FORGE, methods=("POST",))
async def issue_created(context: RequestContext) -> dict[str, Any]:
    event = await context.json()
    key = _text(event.get("issue") if isinstance(event, dict) else None, "key")
    issue = await forge_call(context).as_app().get_json("/rest/api/3/issue/{key}", key=key)
    await context.store.create("notes", {"issue_key": key, "text": f"created: {issue['fields']['summary']}"})
    return {"status": "ok"}
