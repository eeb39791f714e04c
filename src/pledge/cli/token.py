"""``pledge token``: compute a request's QSH and explain, check by check, why a Connect JWT passes or fails (S11).

This is what an app developer debugs a 401 with: ``inspect`` runs the very checks Pledge's verifiers run and names
the reason code the server would answer with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pledge.errors import PledgeError, Refused
from pledge.trust.jws import check_algorithm, read_unverified, verify_signature
from pledge.trust.jwt_policy import check_connect_times, check_qsh
from pledge.trust.qsh import CONTEXT_QSH, canonical_request, query_string_hash

PASS, FAIL, SKIP = "✓", "✗", "?"


@click.group()
def token() -> None:
    """Compute query string hashes and explain Connect JWTs."""


@token.command()
@click.argument("method")
@click.argument("url")
@click.option("--context-path", default="", help="Prefix left out of the hash: the app's base path, or /wiki.")
@click.option("--canonical", is_flag=True, help="Also print the canonical request that is hashed.")
def qsh(method: str, url: str, context_path: str, canonical: bool) -> None:
    """Print the QSH of METHOD URL (the jwt parameter, if any, is ignored)."""
    if canonical:
        click.echo(f"canonical request: {canonical_request(method, url, context_path=context_path)}")
    click.echo(query_string_hash(method, url, context_path=context_path))


@token.command()
@click.argument("raw_token", metavar="TOKEN")
@click.option("--secret", envvar="CONNECT_SHARED_SECRET", help="Shared secret to verify an HS256 token with.")
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key to verify an RS256 (signed install) token with.",
)
@click.option("--method", help="Method of the request the token came with (for the QSH check).")
@click.option("--url", help="URL of the request the token came with (for the QSH check).")
@click.option("--context-path", default="", help="Prefix left out of the hash: the app's base path, or /wiki.")
@click.option("--frontend", is_flag=True, help="Check as a route the app's own frontend calls (context JWTs allowed).")
@click.option("--at", "at", help="Check the times as of this ISO 8601 instant instead of now.")
def inspect(
    raw_token: str,
    secret: str | None,
    public_key: Path | None,
    method: str | None,
    url: str | None,
    context_path: str,
    frontend: bool,
    at: str | None,
) -> None:
    """Decode TOKEN and explain, line by line, whether Pledge would accept it."""
    now = _instant(at)
    refusals: list[str] = []

    def check(label: str, run: Callable[[], object], explain: Callable[[], str]) -> None:
        try:
            run()
        except Refused as exc:
            refusals.append(exc.code)
            click.echo(f"{FAIL} {label}: {exc.code}: {exc}")
            return
        click.echo(f"{PASS} {label}: {explain()}")

    try:
        unverified = read_unverified(raw_token.strip())
    except Refused as exc:
        click.echo(f"{FAIL} format: {exc.code}: {exc}")
        raise SystemExit(1) from None
    click.echo(f"header: {json.dumps(dict(unverified.header), sort_keys=True)}")
    click.echo(f"claims: {json.dumps(dict(unverified.claims), sort_keys=True)}")
    key: str | RSAPublicKey | None = _public_key(public_key) if public_key else secret
    pinned = "RS256" if public_key else "HS256"
    check("algorithm", lambda: check_algorithm(unverified, pinned), lambda: f"{pinned}, as the endpoint pins it")
    check("issuer", lambda: unverified.issuer, lambda: f"iss={unverified.issuer!r} (a clientKey names the tenant)")
    if key is None:
        click.echo(f"{SKIP} signature: not checked (pass --secret, or --public-key for a signed install)")
    else:
        check("signature", lambda: verify_signature(unverified, key, pinned), lambda: "verifies with the given key")
    check(
        "times", lambda: check_connect_times(unverified.claims, now.timestamp()), lambda: _times(unverified.claims, now)
    )
    claimed = unverified.claims.get("qsh")
    if method and url:
        expected = query_string_hash(method, url, context_path=context_path)
        check(
            "qsh", lambda: check_qsh(unverified.claims, expected, accept_context=frontend), lambda: _qsh_note(claimed)
        )
        if claimed not in (expected, CONTEXT_QSH):
            click.echo(f"  expected {expected} for {canonical_request(method, url, context_path=context_path)!r}")
    elif claimed == CONTEXT_QSH:
        check("qsh", lambda: check_qsh(unverified.claims, "", accept_context=frontend), lambda: _qsh_note(claimed))
    else:
        click.echo(f"{SKIP} qsh: not checked (pass --method and --url of the request the token came with)")
    if refusals:
        click.echo(f'verdict: REFUSED ({refusals[0]}): a Pledge server answers 401 {{"error": "{refusals[0]}"}}')
        raise SystemExit(1)
    unchecked = key is None or (not (method and url) and claimed != CONTEXT_QSH)
    click.echo("verdict: " + ("NOT REFUSED SO FAR (some checks were skipped)" if unchecked else "ACCEPTED"))


def _instant(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        raise PledgeError(f"--at {at!r} is not an ISO 8601 instant such as 2026-11-27T09:00:00+00:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _public_key(path: Path) -> RSAPublicKey:
    try:
        key = load_pem_public_key(path.read_bytes())
    except ValueError:
        raise PledgeError(f"{path} is not a PEM public key") from None
    if not isinstance(key, RSAPublicKey):
        raise PledgeError(f"{path} is not an RSA public key: signed installs use RS256")
    return key


def _times(claims: Any, now: datetime) -> str:
    expires = claims.get("exp")
    left = int(expires - now.timestamp())
    return f"valid until {datetime.fromtimestamp(expires, UTC).isoformat()} ({left} s left, 30 s leeway)"


def _qsh_note(claimed: object) -> str:
    if claimed == CONTEXT_QSH:
        return "context JWT, accepted because --frontend says the app's own frontend calls this route"
    return "matches this request"
