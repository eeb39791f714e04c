import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from starlette.testclient import TestClient

from pledge import schema
from pledge.app import App, Auth, RequestContext
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.db import open_engine
from pledge.host import create_host
from pledge.logs import AccessLog, JsonFormatter, JsonHandler, RedactionFilter, redact
from pledge.runtime import Runtime


def test_healthz_and_readyz(runtime: Runtime) -> None:
    client = TestClient(create_host(runtime))
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_when_the_schema_is_behind(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    response = TestClient(create_host(runtime)).get("/readyz")
    assert response.status_code == 503
    assert "run `pledge db upgrade`" in response.json()["reason"]


def test_readyz_is_503_when_the_database_is_unreachable(runtime: Runtime) -> None:
    runtime.engine = open_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    response = TestClient(create_host(runtime)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"].startswith("database unreachable")


def test_metrics_count_routes_by_template_and_name_no_tenant(runtime: Runtime) -> None:
    tenant = runtime.tenants.create(
        app_key="a", client_key="ck-123", base_url="https://x.atlassian.net", product_type="jira"
    )
    client = TestClient(create_host(runtime))
    client.get("/healthz")
    client.get(f"/nowhere/{tenant.id}")
    body = client.get("/metrics").text
    assert 'pledge_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert 'route="unmatched"' in body
    assert tenant.id not in body and "ck-123" not in body


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        ("GET /page?jwt=eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl&x=1", "c2lnbmF0dXJl"),
        ("Authorization: JWT abc.def.ghi", "abc.def.ghi"),
        ("Authorization: Bearer opaque-token-value", "opaque-token-value"),
        ('{"sharedSecret": "very-secret-value"}', "very-secret-value"),
        ("installer jane.doe@example.com", "jane.doe@example.com"),
        ("x-forge-oauth-system: system-token", "system-token"),
    ],
)
def test_redaction(message: str, leak: str) -> None:
    assert leak not in redact(message)


def test_log_records_and_their_arguments_are_redacted_as_json(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord("pledge", logging.INFO, __file__, 1, "install from %s", ("bob@example.com",), None)
    assert RedactionFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "bob@example.com" not in line
    assert '"message": "install from [redacted]"' in line


def test_metrics_label_an_app_route_by_its_template_not_the_id_requested(runtime: Runtime) -> None:
    app = App(key="things", name="Things")

    @app.route("/items/{item_id}", auth=Auth.PUBLIC)
    async def item(context: RequestContext) -> dict[str, str]:
        return {"id": context.request.path_params["item_id"]}

    client = TestClient(create_host(runtime, [app]))
    assert client.get("/apps/things/items/ITEM-4711").json() == {"id": "ITEM-4711"}
    assert client.get("/apps/things/elsewhere").status_code == 404
    body = client.get("/metrics").text
    assert 'pledge_http_requests_total{method="GET",route="/apps/things/items/{item_id}",status="200"} 1.0' in body
    assert 'pledge_http_requests_total{method="GET",route="/apps/things",status="404"} 1.0' in body
    assert "ITEM-4711" not in body


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        ("AUTHORIZATION: JWT abc.def.ghi", "abc.def.ghi"),
        ("authorİzation: opaque-value", "opaque-value"),  # a dotted capital I still matches case-insensitively
        ("ſecret=long-s-value", "long-s-value"),
    ],
)
def test_redaction_ignores_case_beyond_ascii(message: str, leak: str) -> None:
    assert leak not in redact(message)


@pytest.mark.parametrize("owns_runtime", [True, False])
def test_shutdown_closes_outbound_connections_only_for_the_owning_host(runtime: Runtime, owns_runtime: bool) -> None:
    with TestClient(create_host(runtime, owns_runtime=owns_runtime)) as client:
        assert client.get("/healthz").status_code == 200
        assert not runtime.egress.closed
    assert runtime.egress.closed is owns_runtime


def test_a_full_disk_is_a_503_in_one_line_and_what_was_stored_stays(
    tmp_path: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'pledge.db'}")
    engine = open_engine(settings.database_url)
    schema.upgrade(engine)
    runtime = Runtime.open(settings, clock=clock, engine=engine)
    kept = runtime.tenants.create(
        app_key="a", client_key="ck-1", base_url="https://x.atlassian.net", product_type="jira"
    )

    app = App(key="filler", name="Filler")

    @app.route("/fill", auth=Auth.PUBLIC, methods=("POST",))
    async def fill(context: RequestContext) -> dict[str, str]:
        with runtime.engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS filler (x BLOB)"))
            connection.execute(text("INSERT INTO filler VALUES (randomblob(1000000))"))
        return {"filled": "yes"}

    # SQLite's page limit stands in for a full disk: the same SQLITE_FULL error, raised by a real write.
    engine.dispose()
    with engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar_one()
    event.listen(engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count = {pages + 2}"))
    engine.dispose()

    with caplog.at_level(logging.ERROR, logger="pledge.host"):
        response = TestClient(create_host(runtime, [app])).post("/apps/filler/fill")

    assert (response.status_code, response.headers["retry-after"]) == (503, "30")
    assert response.json() == {
        "error": "storage_full",
        "message": "the database refused the operation: database or disk is full",
    }
    assert [record.getMessage() for record in caplog.records] == [
        "storage full: POST /apps/filler/fill: database or disk is full"
    ]
    assert runtime.tenants.get(kept.id) == kept  # the failed write took nothing with it
    runtime.close()


def test_the_root_points_to_the_statement_and_the_docs(runtime: Runtime) -> None:
    """Before, `/` answered a bare 404."""
    response = TestClient(create_host(runtime)).get("/")
    assert response.status_code == 200
    assert response.json()["privacy"] == "/privacy"
    assert "docs/reason-codes.md" in response.json()["docs"]


def test_no_route_and_wrong_method_answer_in_the_reason_code_shape(runtime: Runtime) -> None:
    client = TestClient(create_host(runtime))
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    wrong = client.post("/healthz")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "method_not_allowed")
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_the_access_line_is_written_as_json_with_the_route_template() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("pledge.access.test")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers[:] = [JsonHandler(stream)]
    try:
        AccessLog(logger)("POST", "/apps/x/items/{item_id}", 204, 0.0012)
    finally:
        logger.handlers[:] = []
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "INFO" and entry["logger"] == "pledge.access"
    assert entry["message"] == "POST /apps/x/items/{item_id} 204 1.2ms"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])


def test_middleware_added_to_the_host_runs_inside_its_edge(runtime: Runtime) -> None:
    host = create_host(runtime)

    class Tagging:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def tagged(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-tagged", b"yes")]
                await send(message)

            await self.app(scope, receive, tagged)

    host.add_middleware(Tagging)
    answered = TestClient(host).get("/healthz")
    assert answered.headers["x-tagged"] == "yes"
    assert answered.headers["x-content-type-options"] == "nosniff"  # the edge, outside it
