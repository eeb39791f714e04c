"""``pledge legal``: the register of legal requests (S13, docs/legal-requests.md).

``record`` keeps one disclosure an authority compelled; ``list`` shows the register and the yearly counts the
statement's transparency report publishes. A refused input is named by its field and rule, never echoed.
"""

from __future__ import annotations

import json

import click

from pledge.cli.common import command_with_settings, open_runtime, require_schema
from pledge.config import Settings
from pledge.legal import LegalRequest, LegalRequests
from pledge.legal.claims import report


@click.group()
def legal() -> None:
    """Legal requests: record each compelled disclosure; list the register."""


@legal.command("record")
@click.option("--authority", required=True, help="Who compelled it (a court, an agency): no personal names.")
@click.option("--reference", required=True, help="The order's reference, e.g. a docket number.")
@click.option("--tenant", "tenant_id", required=True, help="The site's internal id (`pledge tenants list`).")
@click.option("--scope", required=True, help="What was disclosed, in one line without personal data.")
@click.option("--gag", is_flag=True, help="A gag order applies: the site is not shown this record (it is counted).")
@command_with_settings
def record(settings: Settings, authority: str, reference: str, tenant_id: str, scope: str, gag: bool) -> None:
    """Record one disclosure. Records cannot be changed or removed afterwards."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        kept = LegalRequests(runtime.engine, runtime.clock).record(
            authority=authority, reference=reference, tenant_id=tenant_id, scope=scope, gag=gag
        )
    told = "not shown to the site (gag order)" if kept.gag else "shown to the site in its transparency page"
    click.echo(f"legal request {kept.id} recorded for tenant {kept.tenant_id}: {told}")


@legal.command("list")
@click.option("--tenant", "tenant_id", help="Only the records of this tenant.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@command_with_settings
def list_requests(settings: Settings, tenant_id: str | None, as_json: bool) -> None:
    """Every record, oldest first, then the yearly counts of the transparency report."""
    with open_runtime(settings) as runtime:
        require_schema(runtime)
        register = LegalRequests(runtime.engine, runtime.clock)
        found = register.records(tenant_id=tenant_id)
        counts = register.yearly_counts()
    if as_json:
        for kept in found:
            click.echo(json.dumps(_summary(kept)))
        return
    for kept in found:
        gag = " [gag]" if kept.gag else ""
        click.echo(
            f"{kept.id}\t{kept.recorded_at.isoformat(timespec='seconds')}\t{kept.tenant_id}\t{kept.authority}\t"
            f"{kept.reference}\t{kept.scope}{gag}"
        )
    click.echo(f"transparency report: {report(counts)}")


def _summary(kept: LegalRequest) -> dict[str, object]:
    return {**kept.as_json(), "tenant_id": kept.tenant_id, "gag": kept.gag}
