"""Issue #12 item 5: a handler reaches storage only through the guarded store; the context hands it no runtime,
engine, vault or secret setting."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.testclient import TestClient

from pledge.app import App, Auth, RequestContext, SettingsView
from pledge.host import create_host
from pledge.runtime import Runtime

UNGUARDED = ("runtime", "engine", "vault", "tenants", "egress", "install_keys", "connect_tenants")


def test_the_context_offers_no_way_around_the_store() -> None:
    public = {name for name in dir(RequestContext) if not name.startswith("_")}
    assert public.isdisjoint(UNGUARDED), public & set(UNGUARDED)
    assert {"request", "identity", "tenant", "store", "settings", "json"} <= public


def test_the_settings_view_holds_no_secret_and_no_database() -> None:
    assert {f.name for f in dataclasses.fields(SettingsView)} == {"public_url", "region", "dev_mode"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_handler_reads_the_settings_view(runtime: Runtime) -> None:
    app = App(key="viewer", name="Viewer")

    @app.route("/where", auth=Auth.PUBLIC)
    async def where(context: RequestContext) -> dict[str, object]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            context.settings.region = "elsewhere"  # type: ignore[misc]
        return {"url": context.settings.public_url, "region": context.settings.region}

    response = TestClient(create_host(runtime, [app])).get("/apps/viewer/where")
    assert response.json() == {"url": runtime.settings.public_url, "region": runtime.settings.region}
