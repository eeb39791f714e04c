"""A small Forge Remote app served by Pledge: notes on Jira issues, an issue-created event, calls back to Jira.

Run it with ``pledge serve --app examples.forge_notes.app:app`` from the repository root; see README.md
("Forge Remote apps") for the walkthrough against the simulated Forge site.

The notes live in Pledge's store, encrypted under the tenant's data key, and move with the tenant on a realm
migration.
"""

from __future__ import annotations

import os
from typing import Any

from pledge.app import App, Auth, RequestContext
from pledge.forge import ForgeConfig, forge_call
from pledge.store.manifest import Category, Collection, DataManifest, Field

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


@app.route("/notes", auth=Auth.FORGE, methods=("POST",))
async def add_note(context: RequestContext) -> dict[str, Any]:
    body = await context.json()
    record = await context.store.create("notes", {"issue_key": str(body["issueKey"]), "text": str(body["text"])})
    return {"id": record.id}


@app.route("/notes", auth=Auth.FORGE, methods=("GET",))
async def list_notes(context: RequestContext) -> dict[str, Any]:
    notes = [{"issueKey": r["issue_key"], "text": r["text"]} for r in await context.store.list("notes")]
    return {"notes": sorted(notes, key=lambda note: (note["issueKey"], note["text"]))}


@app.route("/issue-summary", auth=Auth.FORGE, methods=("POST",))
async def issue_summary(context: RequestContext) -> dict[str, Any]:
    body = await context.json()
    issue = await forge_call(context).as_user().get_json(f"/rest/api/3/issue/{body['issueKey']}")
    return {"summary": issue["fields"]["summary"], "status": issue["fields"]["status"]}


@app.route("/events/issue-created", auth=Auth.FORGE, methods=("POST",))
async def issue_created(context: RequestContext) -> dict[str, Any]:
    event = await context.json()
    key = str(event["issue"]["key"])
    issue = await forge_call(context).as_app().get_json(f"/rest/api/3/issue/{key}")
    await context.store.create("notes", {"issue_key": key, "text": f"created: {issue['fields']['summary']}"})
    return {"status": "ok"}
