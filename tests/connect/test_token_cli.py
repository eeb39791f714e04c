"""`pledge token`: what a developer debugging a 401 sees."""

from __future__ import annotations

from pathlib import Path

import jwt
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pledge.cli import cli
from pledge.trust.qsh import query_string_hash

SECRET = "a-shared-secret-of-a-reasonable-length-0123456789"
NOW = "2026-11-27T09:00:00+00:00"
IAT = 1795770000  # 2026-11-27T09:00:00Z
URL = "https://app.example.com/apps/issue-mailer/webhooks/jira-issue-updated?b=2&a=1"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def token(**claims: object) -> str:
    base = {
        "iss": "acme-client-key",
        "iat": IAT,
        "exp": IAT + 180,
        "qsh": query_string_hash("POST", URL, context_path="/apps/issue-mailer"),
    }
    return jwt.encode(base | claims, SECRET, algorithm="HS256")


def test_qsh_prints_the_hash_and_optionally_the_canonical_request() -> None:
    code, output = run(
        "token",
        "qsh",
        "GET",
        "/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2",
        "--canonical",
    )
    assert code == 0
    lines = output.splitlines()
    assert (
        lines[0]
        == "canonical request: GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
    )
    assert lines[1] == query_string_hash(
        "GET", "/path/to/service?zee_last=param&repeated=parameter 1&first=param&repeated=parameter 2"
    )


def test_inspect_accepts_a_good_token_line_by_line() -> None:
    code, output = run(
        "token",
        "inspect",
        token(),
        "--secret",
        SECRET,
        "--method",
        "POST",
        "--url",
        URL,
        "--context-path",
        "/apps/issue-mailer",
        "--at",
        NOW,
    )
    assert code == 0, output
    assert "✓ algorithm: HS256" in output
    assert "✓ signature: verifies" in output
    assert "✓ qsh: matches this request" in output
    assert output.rstrip().endswith("verdict: ACCEPTED")


def test_inspect_names_the_reason_code_of_each_failure() -> None:
    code, output = run(
        "token",
        "inspect",
        token(),
        "--secret",
        "wrong-secret-" * 4,
        "--method",
        "GET",
        "--url",
        URL,
        "--context-path",
        "/apps/issue-mailer",
        "--at",
        "2026-11-27T10:00:00+00:00",
    )
    assert code == 1
    assert "✗ signature: signature_invalid" in output
    assert "✗ times: token_expired" in output
    assert "✗ qsh: qsh_mismatch" in output
    assert "expected" in output and "GET&/webhooks/jira-issue-updated&a=1&b=2" in output
    assert "verdict: REFUSED (signature_invalid)" in output


def test_inspect_explains_context_jwts_and_unsigned_tokens() -> None:
    context = token(qsh="context-qsh")
    code, output = run("token", "inspect", context, "--secret", SECRET, "--at", NOW)
    assert code == 1 and "context_token_not_allowed" in output
    code, output = run("token", "inspect", context, "--secret", SECRET, "--at", NOW, "--frontend")
    assert code == 0 and "verdict: ACCEPTED" in output
    unsigned = jwt.encode({"iss": "x", "exp": IAT}, None, algorithm="none")  # type: ignore[arg-type]
    code, output = run("token", "inspect", unsigned, "--at", NOW)
    assert code == 1 and "algorithm_not_allowed" in output
    code, output = run("token", "inspect", "not.a.token")
    assert code == 1 and "token_malformed" in output


def test_inspect_verifies_a_signed_install_with_a_public_key(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    install = jwt.encode(
        {"iss": "ck", "iat": IAT, "exp": IAT + 60, "qsh": "q"}, private, algorithm="RS256", headers={"kid": "k1"}
    )
    code, output = run("token", "inspect", install, "--public-key", str(pem), "--at", NOW)
    assert "✓ algorithm: RS256" in output and "✓ signature: verifies" in output
    assert "NOT REFUSED SO FAR" in output and code == 0
