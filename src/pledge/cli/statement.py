"""``pledge statement``: show, list, compare and verify the Data Security & Privacy Statement; Marketplace answers.

Every subcommand first publishes the statement: it verifies the deployment and renders the statement marked by what
the verification found, so the versions it reads include the current one (a new version only when the text changed).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pledge import schema
from pledge.cli.common import command_with_settings, load_apps
from pledge.clock import SystemClock
from pledge.config import Settings
from pledge.db import open_engine
from pledge.errors import PledgeError
from pledge.runtime import Runtime
from pledge.statement.compare import KEY, TERMINAL_STYLES, ChangeKind, compare, render_terminal
from pledge.statement.facts import Deployment
from pledge.statement.marketplace import answers
from pledge.statement.publish import Published, publish
from pledge.statement.render import render_app
from pledge.statement.verify import Outcome
from pledge.statement.versions import StatementVersions

_PLAIN_MARKS = {
    ChangeKind.SAME: ("", ""),
    ChangeKind.ADDED: ("{+", "+}"),
    ChangeKind.REMOVED: ("[-", "-]"),
    ChangeKind.FORMAT: ("{~", "~}"),
}
_OUTCOME_STYLES = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.MISSING: "yellow",
    Outcome.NOT_OFFERED: "dim",
}


@click.group()
def statement() -> None:
    """The Data Security & Privacy Statement: generated, versioned, compared, verified."""


@contextmanager
def open_deployment(settings: Settings) -> Iterator[Deployment]:
    """The deployment the settings describe, on a current schema.

    A runtime that cannot open (a keyring readable by others) does not stop verification: the checks that
    need it fail, with the reason as their evidence.
    """
    apps = tuple(load_apps(settings.apps))
    engine = open_engine(settings.resolved_database_url)
    try:
        current = schema.status(engine)
        if not current.is_current:
            raise PledgeError(current.describe())
        try:
            runtime = Runtime.open(settings, engine=engine)
        except PledgeError as exc:
            yield Deployment(settings, engine, SystemClock(), apps, runtime_error=str(exc))
            return
        try:
            yield Deployment.of(runtime, apps)
        finally:
            runtime.close()
    finally:
        engine.dispose()


@statement.command()
@click.option("--version", "version_id", type=click.IntRange(min=1), help="Show this stored version instead.")
@click.option("--app", "app_key", help="Show only this app's section.")
@command_with_settings
def show(settings: Settings, version_id: int | None, app_key: str | None) -> None:
    """Print the statement's Markdown source."""
    with open_deployment(settings) as deployment:
        published = _publish(deployment)
        if app_key is not None:
            app = published.facts.app(app_key)
            if app is None:
                raise PledgeError(f"no served app has the key {app_key!r}: see PLEDGE_APPS")
            click.echo(render_app(app, published.facts), nl=False)
        elif version_id is not None:
            click.echo(StatementVersions(deployment.engine, deployment.clock).get(version_id).markdown, nl=False)
        else:
            click.echo(published.markdown, nl=False)


@statement.command()
@command_with_settings
def versions(settings: Settings) -> None:
    """List every version of the statement, newest first."""
    with open_deployment(settings) as deployment:
        current = _publish(deployment).version.id
        listed = StatementVersions(deployment.engine, deployment.clock).list()
    table = Table("Version", "Published (UTC)", "SHA-256", "Characters", "Verification", "")
    for version in reversed(listed):
        table.add_row(
            str(version.id),
            version.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            version.sha256[:16],
            f"{version.characters:,}",
            version.verification_summary or "none (published before versions carried it)",
            "current" if version.id == current else "",
        )
    Console().print(table)


@statement.command(name="compare")
@click.argument("old", type=click.IntRange(min=1))
@click.argument("new", type=click.IntRange(min=1))
@command_with_settings
def compare_command(settings: Settings, old: int, new: int) -> None:
    """Show what changed from version OLD to version NEW, word by word."""
    with open_deployment(settings) as deployment:
        _publish(deployment)
        stored = StatementVersions(deployment.engine, deployment.clock)
        old_version, new_version = stored.get(old), stored.get(new)
    comparison = compare(old_version.markdown, new_version.markdown)
    console = Console()
    console.print(f"Versions Compared: {old} and {new}", style="bold")
    console.print(
        f"{_plural(comparison.added_words, 'word')} added, {comparison.removed_words} removed, "
        f"{_plural(comparison.format_changes, 'formatting change')}"
    )
    if console.is_terminal:
        legend = Text("Key: ")
        for kind, label in KEY:
            legend.append(label, style=TERMINAL_STYLES[kind])
            legend.append("  ")
        console.print(legend, "")
        console.print(render_terminal(comparison))
    else:
        # Without colours the changes are marked the way wdiff marks them.
        marked = "  ".join(f"{_PLAIN_MARKS[kind][0]}{label}{_PLAIN_MARKS[kind][1]}" for kind, label in KEY)
        click.echo(f"Key: {marked}\n")
        click.echo(
            "".join(
                f"{_PLAIN_MARKS[segment.kind][0]}{segment.text}{_PLAIN_MARKS[segment.kind][1]}"
                for segment in comparison.segments
            )
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@statement.command()
@command_with_settings
def verify(settings: Settings) -> None:
    """Check every claim against live evidence and publish the statement marked by the outcomes; exit 1 when any
    claim fails or has no check yet."""
    with open_deployment(settings) as deployment:
        verification = _publish(deployment).verification
    table = Table("Claim", "Promise", "Evidence", "Result", show_lines=True)
    for result in verification.results:
        table.add_row(
            result.claim_id,
            result.promise,
            result.evidence,
            Text(result.outcome.value, style=_OUTCOME_STYLES[result.outcome]),
        )
    Console().print(table)
    if not verification.passed:
        raise PledgeError(f"statement verification {verification.summary()}")
    click.echo(f"statement verification {verification.summary()}")


@statement.command()
@click.option("--app", "app_key", help="Print only this app's answers.")
@command_with_settings
def marketplace(settings: Settings, app_key: str | None) -> None:
    """Print the answers for the Marketplace "Privacy & Security" tab as JSON, in Atlassian's field names (also
    served at /privacy/marketplace.json)."""
    with open_deployment(settings) as deployment:
        published = _publish(deployment)
    answered = answers(published.facts, published.verification)
    if app_key is not None:
        app = next((app for app in answered["apps"] if app["addonKey"] == app_key), None)
        if app is None:
            raise PledgeError(f"no served app has the key {app_key!r}: see PLEDGE_APPS")
        answered = {"source": answered["source"], **app}
    click.echo(json.dumps(answered, indent=2))


def _publish(deployment: Deployment) -> Published:
    return asyncio.run(publish(deployment))
