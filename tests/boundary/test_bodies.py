"""The host's body bound: 1 MiB on every route, except the one that takes a tenant's sealed data."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pledge.bodies import MAX_BODY_BYTES

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TWO_MEBIBYTES = b"x" * (2 * MAX_BODY_BYTES)


def test_a_realm_migration_bundle_may_be_larger_than_any_other_body(served_host: Starlette) -> None:
    """Before the bound, the peer import read any body; with it, a tenant over 1 MiB could not move regions."""
    client = TestClient(served_host)
    bundle = client.post(
        "/apps/forge-notes/forge/realm/peer/import",
        content=TWO_MEBIBYTES,
        headers={"x-pledge-migration": "00000000-0000-4000-8000-000000000000"},
    )
    assert bundle.json()["error"] != "body_too_large"
    elsewhere = client.post("/apps/forge-notes/forge/realm/peer/commit", content=TWO_MEBIBYTES)
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (413, "body_too_large")
