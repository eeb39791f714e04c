"""``pledge doctor URL``: check a running deployment's HTTPS from outside, one line per check."""

from __future__ import annotations

from pathlib import Path

import click

from pledge.transport.doctor import Target, diagnose


@click.command()
@click.argument("url")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM file of the CAs to trust (a test or self-signed certificate); default: the system's.",
)
@click.option("--plain-port", type=int, help="Port to try plain HTTP on (default: the URL's port, else 80).")
def doctor(url: str, ca_file: Path | None, plain_port: int | None) -> None:
    """Check the deployment at URL: plain HTTP refused, TLS 1.2+, certificate, HSTS, headers, redirects, cookies.

    Exits 1 when any check fails."""
    checks = diagnose(Target.of(url, plain_port=plain_port, ca_file=None if ca_file is None else str(ca_file)))
    for check in checks:
        click.echo(check.line())
    if not all(check.passed for check in checks):
        raise SystemExit(1)
