"""docs/reason-codes.md lists every reason code Pledge answers with, and every refusal is answered as a 4xx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from starlette.responses import StreamingResponse
from starlette.testclient import TestClient
from tests.boundary.reason_codes import all_pledge_errors, codes_in_source, documented_codes

from pledge.app import App, Auth, RequestContext
from pledge.errors import ConfigurationError, PledgeError, Refused
from pledge.host import REFUSALS, create_host
from pledge.runtime import Runtime

# Errors that are faults of the server or of what it depends on, not of the request: answered 500/503 and logged
# with their traceback. Every other PledgeError a handler can let through is a refusal and must be in REFUSALS.
FAULTS = frozenset(
    {
        "pledge.errors.ConfigurationError",
        "pledge.vault.aead.CiphertextInvalid",
        "pledge.vault.keyring.KeyringError",
        "pledge.schema.DatabaseUnavailable",
        "pledge.forge.migration.MigrationError",  # the realm hooks answer it themselves (`refused`)
        "pledge.tenantdata.TenantDataError",  # no handler imports tenant data; realm migration makes it MigrationError
        "pledge.tenantdata.TenantDataConflict",
        "pledge.tenants.registry.TenantNotFound",  # handlers never look tenants up; the verifiers refuse first
        "pledge.statement.facts.EvidenceUnavailable",
        "pledge.retention.deletion_requests.ReasonRefused",  # `pledge purge` only: no handler gives a reason
        "pledge.legal.records.LegalRequestRefused",  # `pledge legal record` only: the tenant view takes no input
        "pledge.statement.versions.VersionNotFound",  # the statement's pages answer it themselves
        "pledge.statement.pages._PageError",
        "pledge.sim.connect_site.SimError",
        "pledge.jobs.job.LeaseLost",  # jobs run outside requests; the runner records or logs these
        "pledge.jobs.runner.JobBusy",
        "pledge.jobs.runner.UnknownJob",
        "pledge.backup.target.TargetError",  # backups run as jobs and commands, never inside a request
        "pledge.backup.target.TargetUnavailable",
        "pledge.backup.target.ObjectMissing",
        "pledge.backup.target.ObjectExists",
        "pledge.backup.target.ObjectLocked",
        "pledge.backup.backup_format.BackupCorrupt",
        "pledge.backup.backups.NoBackup",
        "pledge.backup.writer.KeyMissing",
        "pledge.backup.restore.NewerSchema",
        "pledge.backup.restore.RestoreRefused",
        "pledge.reporting.atlassian_api.ReportingFailed",  # reporting runs as a job; a cycle records these
        "pledge.reporting.atlassian_api.ReportingThrottled",
    }
)


def test_every_code_the_source_answers_with_is_documented() -> None:
    undocumented = {code: files for code, files in codes_in_source().items() if code not in documented_codes()}
    assert not undocumented, f"add these reason codes to docs/reason-codes.md: {undocumented}"


def test_the_document_lists_no_code_nothing_answers_with() -> None:
    assert set(documented_codes()) - set(codes_in_source()) == set()


def test_every_documented_status_is_the_one_the_host_answers() -> None:
    documented = documented_codes()
    for status, code in REFUSALS.values():
        assert documented[code] == str(status), code


def test_every_pledge_error_is_either_a_refusal_or_a_named_fault() -> None:
    """A new exception class must be decided on: refused with a reason code (REFUSALS, or a Refused subclass that
    carries its code), or a fault of the server."""
    undecided = [
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in all_pledge_errors()
        if not issubclass(kind, Refused)
        and not any(base in REFUSALS for base in kind.__mro__)
        and f"{kind.__module__}.{kind.__qualname__}" not in FAULTS
    ]
    assert undecided == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("kind", "status", "code"), [(kind, *answer) for kind, answer in REFUSALS.items()])
def test_each_refusal_a_handler_lets_through_is_its_4xx_and_one_log_line(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, kind: type[PledgeError], status: int, code: str
) -> None:
    app = App(key="refuser", name="Refuser")

    @app.route("/refuse", auth=Auth.PUBLIC, methods=("POST",))
    async def refuse(_context: RequestContext) -> None:
        try:
            error = kind("what to fix, without the value")
        except TypeError:  # ProductRequestFailed is built from its parts
            error = kind.__new__(kind)
            PledgeError.__init__(error, "what to fix, without the value")
        raise error

    with caplog.at_level(logging.INFO, logger="pledge"):
        response = TestClient(create_host(runtime, [app])).post("/apps/refuser/refuse", json={"mail": "a@b.example"})
    assert (response.status_code, response.json()) == (
        status,
        {"error": code, "message": "what to fix, without the value"},
    )
    assert [r.getMessage() for r in caplog.records if r.name != "pledge.access"] == [
        f"refused POST /apps/refuser/refuse: {code}: what to fix, without the value"
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fault_is_a_json_500_without_a_traceback_in_the_answer(runtime: Runtime) -> None:
    app = App(key="faulty", name="Faulty")

    @app.route("/fault", auth=Auth.PUBLIC)
    async def fault(_context: RequestContext) -> None:
        raise ConfigurationError("the keyring file is unreadable")

    response = TestClient(create_host(runtime, [app]), raise_server_exceptions=False).get("/apps/faulty/fault")
    assert (response.status_code, response.json()["error"]) == (500, "internal_error")
    assert "keyring" not in response.text
    # Answered by the host's edge, outside everything: the headers are there, and the answer is counted.
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    client = TestClient(create_host(runtime, [app]))
    with pytest.raises(ConfigurationError):  # raised on, for the server to log its traceback
        client.get("/apps/faulty/fault")
    assert 'route="/apps/faulty/fault",status="500"' in client.get("/metrics").text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fault_after_the_answer_started_gets_no_second_answer(runtime: Runtime) -> None:
    app = App(key="faulty", name="Faulty")

    async def parts() -> AsyncIterator[bytes]:
        yield b"first part"
        raise ConfigurationError("the keyring file is unreadable")

    @app.route("/stream", auth=Auth.PUBLIC)
    async def stream(_context: RequestContext) -> StreamingResponse:
        return StreamingResponse(parts(), media_type="text/plain")

    response = TestClient(create_host(runtime, [app]), raise_server_exceptions=False).get("/apps/faulty/stream")
    assert (response.status_code, response.text) == (200, "first part")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_refusal_and_access_lines_name_the_route_template_not_the_path(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """A path carries what the caller typed (an issue key, an e-mail address): the logs name the route instead."""
    app = App(key="refuser", name="Refuser")

    @app.route("/people/{who}", auth=Auth.PUBLIC, methods=("POST",))
    async def refuse(_context: RequestContext) -> None:
        raise Refused("personal_data_refused", "what to fix, without the value", status_code=422)

    with caplog.at_level(logging.INFO, logger="pledge"):
        response = TestClient(create_host(runtime, [app])).post("/apps/refuser/people/alice.smith@example.com")
    assert response.status_code == 422
    messages = [record.getMessage() for record in caplog.records]
    assert (
        messages[0] == "refused POST /apps/refuser/people/{who}: personal_data_refused: what to fix, without the value"
    )
    assert messages[1].startswith("POST /apps/refuser/people/{who} 422 ")
    assert not any("alice" in message for message in messages)
