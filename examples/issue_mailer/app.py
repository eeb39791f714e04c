"""Issue Mailer, the reference app: a Jira issue glance that e-mails an issue, driven by issue webhooks.

What it shows of Pledge (S11): a webhook and a page that Pledge authenticates before they run, a route its own
frontend calls with a context JWT, and calls back into Jira signed for the tenant. It stores nothing yet (the mail
part, with its data manifest, comes later), so it keeps no personal data at all.

Serve it with ``pledge serve --app examples.issue_mailer.app:app``.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from starlette.responses import JSONResponse

from pledge.app import App, Auth, RequestContext
from pledge.connect import ProductRequestFailed, product_client

log = logging.getLogger("examples.issue_mailer")

app = App(
    key="issue-mailer",
    name="Issue Mailer",
    description="E-mail a Jira issue to the people who need to see it.",
    vendor_name="Pledge examples",
    vendor_url="https://example.com/pledge",
    scopes=("READ",),
)

# An issue key goes into a REST path: only a well-formed one may.
_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,30}-[1-9][0-9]{0,9}")


def _issue_key(value: object) -> str | None:
    return value if isinstance(value, str) and _ISSUE_KEY.fullmatch(value) else None


async def _fetch_issue(context: RequestContext, key: str) -> dict[str, Any]:
    jira = await product_client(context)
    # The key is a segment of the template, encoded as one: whatever it holds, the call stays on this issue path.
    issue: dict[str, Any] = await jira.get_json("/rest/api/3/issue/{key}", key=key)
    return issue


@app.webhook("jira:issue_updated")
async def issue_updated(context: RequestContext) -> JSONResponse | None:
    """An issue changed: read it back from Jira (signed), as the mailer will before sending it."""
    payload = await context.json()
    issue = payload.get("issue") if isinstance(payload, dict) else None
    key = _issue_key(issue.get("key") if isinstance(issue, dict) else None)
    if key is None:
        return JSONResponse({"error": "no issue key in the event"}, status_code=400)
    try:
        await _fetch_issue(context, key)
    except ProductRequestFailed as exc:
        log.warning("tenant %s: reading the updated issue failed: %s", context.tenant.id, exc)
        return JSONResponse({"error": "the issue could not be read"}, status_code=502)
    log.info("tenant %s: issue update handled", context.tenant.id)
    return None


@app.page("email-issue", name="Email this issue", location="jiraIssueGlances")
async def email_issue_glance(context: RequestContext) -> str:
    """The glance panel in the issue view."""
    key = _issue_key(context.request.query_params.get("issueKey"))
    if key is None:
        return "<p>Open this panel from an issue.</p>"
    try:
        issue = await _fetch_issue(context, key)
    except ProductRequestFailed:
        return "<p>This issue could not be read.</p>"
    summary = html.escape(str(issue.get("fields", {}).get("summary", "")))
    preview_url = html.escape(f"{context.settings.public_url}/apps/{app.key}/api/preview?issueKey={key}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Email this issue</title>
<script src="https://connect-cdn.atl-paas.net/all.js" data-options="sizeToParent:true"></script></head>
<body>
<h1>{html.escape(key)}: {summary}</h1>
<p id="preview">Preparing the e-mail…</p>
<script>
AP.context.getToken(async function (token) {{
  const response = await fetch("{preview_url}", {{headers: {{Authorization: "JWT " + token}}}});
  const preview = await response.json();
  document.getElementById("preview").textContent = "Subject: " + preview.subject;
}});
</script>
</body></html>"""


@app.route("/api/preview", auth=Auth.CONNECT_CONTEXT)
async def preview(context: RequestContext) -> JSONResponse:
    """Called by the glance's own script with a context JWT: the e-mail that would be sent."""
    key = _issue_key(context.request.query_params.get("issueKey"))
    if key is None:
        return JSONResponse({"error": "issueKey must be an issue key such as ABC-123"}, status_code=400)
    try:
        issue = await _fetch_issue(context, key)
    except ProductRequestFailed as exc:
        log.warning("tenant %s: reading the issue failed: %s", context.tenant.id, exc)
        return JSONResponse({"error": "the issue could not be read"}, status_code=502)
    return JSONResponse({"issueKey": key, "subject": f"[{key}] {issue.get('fields', {}).get('summary', '')}"})
