"""A small Forge Remote app served by Pledge: notes on Jira issues, an issue-created event, calls back to Jira.

Run it with ``pledge serve --app examples.forge_notes.app:app`` from the repository root; see README.md
("Forge Remote apps") for the walkthrough against the simulated Forge site.

The notes live in the app's own table, encrypted under the tenant's data key and moved with the tenant on a realm
migration (``register_tenant_data``).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from sqlalchemy import Column, Connection, Engine, LargeBinary, MetaData, String, Table, insert, select

from pledge.app import App, Auth, RequestContext
from pledge.forge import ForgeConfig, TableRows, forge_call, register_tenant_data
from pledge.store.manifest import Category, Collection, DataManifest, Field
from pledge.vault import Aad

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
                (Field("text", Category.CONTENT, "Shown back to the site's users on the issue"),),
            ),
        )
    ),
    forge=ForgeConfig(app_id=APP_ID, events={"avi:jira:created:issue": "/events/issue-created"}),
)

notes_metadata = MetaData()
notes_table = Table(
    "forge_notes",
    notes_metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), nullable=False, index=True),
    Column("issue_key", String(64), nullable=False),
    Column("text", LargeBinary, nullable=False),
)
_created: set[int] = set()


class NoteRows(TableRows):
    """The notes of a tenant, moved on a realm migration; the table is created where it does not exist yet."""

    def export_rows(self, connection: Connection, tenant_id: str) -> list[dict[str, Any]]:
        notes_metadata.create_all(connection)
        return super().export_rows(connection, tenant_id)

    def import_rows(self, connection: Connection, tenant_id: str, rows: list[dict[str, Any]]) -> None:
        notes_metadata.create_all(connection)
        super().import_rows(connection, tenant_id, rows)

    def delete_rows(self, connection: Connection, tenant_id: str) -> int:
        notes_metadata.create_all(connection)
        return super().delete_rows(connection, tenant_id)


register_tenant_data(NoteRows(notes_table))


def _engine(context: RequestContext) -> Engine:
    engine = context.runtime.engine
    if id(engine) not in _created:
        notes_metadata.create_all(engine)
        _created.add(id(engine))
    return engine


def _save(context: RequestContext, issue_key: str, text: str) -> str:
    note_id = uuid.uuid4().hex
    sealed = context.runtime.vault.encrypt(context.tenant.id, Aad("notes", note_id, "text"), text.encode())
    with _engine(context).begin() as connection:
        connection.execute(
            insert(notes_table).values(id=note_id, tenant_id=context.tenant.id, issue_key=issue_key, text=sealed)
        )
    return note_id


@app.route("/notes", auth=Auth.FORGE, methods=("POST",))
async def add_note(context: RequestContext) -> dict[str, Any]:
    body = await context.request.json()
    return {"id": _save(context, str(body["issueKey"]), str(body["text"]))}


@app.route("/notes", auth=Auth.FORGE, methods=("GET",))
async def list_notes(context: RequestContext) -> dict[str, Any]:
    with _engine(context).connect() as connection:
        rows = connection.execute(select(notes_table).where(notes_table.c.tenant_id == context.tenant.id)).all()
    vault = context.runtime.vault
    notes = [
        {
            "issueKey": row.issue_key,
            "text": vault.decrypt(context.tenant.id, Aad("notes", row.id, "text"), row.text).decode(),
        }
        for row in rows
    ]
    return {"notes": sorted(notes, key=lambda note: (note["issueKey"], note["text"]))}


@app.route("/issue-summary", auth=Auth.FORGE, methods=("POST",))
async def issue_summary(context: RequestContext) -> dict[str, Any]:
    body = await context.request.json()
    issue = await forge_call(context).as_user().get_json(f"/rest/api/3/issue/{body['issueKey']}")
    return {"summary": issue["fields"]["summary"], "status": issue["fields"]["status"]}


@app.route("/events/issue-created", auth=Auth.FORGE, methods=("POST",))
async def issue_created(context: RequestContext) -> dict[str, Any]:
    event = await context.request.json()
    key = str(event["issue"]["key"])
    issue = await forge_call(context).as_app().get_json(f"/rest/api/3/issue/{key}")
    _save(context, key, f"created: {issue['fields']['summary']}")
    return {"status": "ok"}
