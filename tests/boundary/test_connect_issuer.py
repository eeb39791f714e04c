"""An unsigned-for issuer the database cannot even hold is refused like any other unknown clientKey."""

from __future__ import annotations

import time

import jwt
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pledge.trust.qsh import query_string_hash

WEBHOOK = "/apps/issue-mailer/webhooks/jira-issue-updated"


def test_a_nul_in_the_issuer_is_a_401_signature_invalid_on_both_engines(served_host: Starlette) -> None:
    """Before, PostgreSQL refused the lookup (text cannot hold NUL) and the request was a 500."""
    now = int(time.time())
    qsh = query_string_hash("POST", WEBHOOK, context_path="/apps/issue-mailer")
    token = jwt.encode({"iss": "client\x00key", "iat": now, "exp": now + 60, "qsh": qsh}, "x" * 32, algorithm="HS256")
    response = TestClient(served_host, raise_server_exceptions=False).post(
        WEBHOOK, json={"issue": {"key": "SIM-1"}}, headers={"Authorization": f"JWT {token}"}
    )
    assert (response.status_code, response.json()["error"]) == (401, "signature_invalid")
