"""Statement versions: immutable, numbered, added only when the rendered text changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tests.statement.example import deployment_with, mailer_app

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.statement.compare import ChangeKind, compare
from pledge.statement.publish import publish
from pledge.statement.versions import StatementVersions, VersionNotFound, digest


def test_publishing_the_same_text_keeps_the_version(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    first = versions.publish("# Statement\n")
    clock.advance(timedelta(hours=1))
    assert versions.publish("# Statement\n") == first
    assert (
        first.id == 1
        and first.sha256 == digest("# Statement\n")
        and first.created_at == clock.now() - timedelta(hours=1)
    )


def test_a_changed_text_is_a_new_version_and_the_old_one_stays(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    versions.publish("one\n")
    clock.advance(timedelta(days=1))
    second = versions.publish("two\n")
    third = versions.publish("one\n")  # going back is a change too
    assert [v.id for v in versions.list()] == [1, 2, 3]
    assert (second.id, third.id) == (2, 3)
    assert versions.get(1).markdown == "one\n" and versions.get(2).created_at == clock.now()
    assert versions.latest() == third
    assert versions.neighbours(2) == (1, 3)
    assert versions.neighbours(1) == (None, 2)
    assert versions.list()[0].characters == len("one\n")


def test_an_unknown_version_says_where_to_look(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    assert versions.latest() is None
    with pytest.raises(VersionNotFound, match="no statement version 7: `pledge statement versions` lists them"):
        versions.get(7)


def test_changing_the_region_makes_a_version_whose_comparison_is_exactly_that_change(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    apps = [mailer_app()]
    east = publish(deployment_with(settings, engine, clock, apps, region="us-east-1"))
    assert publish(deployment_with(settings, engine, clock, apps, region="us-east-1")).version == east.version
    clock.advance(timedelta(days=3))
    west = publish(deployment_with(settings, engine, clock, apps, region="us-west-2"))

    assert (east.version.id, west.version.id) == (1, 2)
    comparison = compare(east.version.markdown, west.version.markdown)
    changes = [(s.kind, s.text) for s in comparison.segments if s.kind is not ChangeKind.SAME]
    assert changes == [(ChangeKind.REMOVED, "us-east-1"), (ChangeKind.ADDED, "us-west-2")]
