"""Statement versions: immutable, numbered, added only when the rendered text changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tests.statement.example import deployment_with, mailer_app, published

from pledge.clock import FrozenClock
from pledge.config import Settings
from pledge.statement.compare import ChangeKind, compare
from pledge.statement.verify import Verification
from pledge.statement.versions import StatementVersions, VersionNotFound, digest


def _verification(clock: FrozenClock) -> Verification:
    return Verification(clock.now(), None, ())


def test_publishing_the_same_text_keeps_the_version(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    first = versions.publish("# Statement\n", _verification(clock))
    clock.advance(timedelta(hours=1))
    assert versions.publish("# Statement\n", _verification(clock)) == first
    assert first.verification == Verification(clock.now() - timedelta(hours=1), 1, ())
    assert (
        first.id == 1
        and first.sha256 == digest("# Statement\n")
        and first.created_at == clock.now() - timedelta(hours=1)
    )


def test_a_changed_text_is_a_new_version_and_the_old_one_stays(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    versions.publish("one\n", _verification(clock))
    clock.advance(timedelta(days=1))
    second = versions.publish("two\n", _verification(clock))
    third = versions.publish("one\n", _verification(clock))  # going back is a change too
    assert [v.id for v in versions.list()] == [1, 2, 3]
    assert (second.id, third.id) == (2, 3)
    assert versions.get(1).markdown == "one\n" and versions.get(2).created_at == clock.now()
    assert versions.latest() == third
    assert versions.neighbours(2) == (1, 3)
    assert versions.neighbours(1) == (None, 2)
    assert versions.list()[0].characters == len("one\n")
    assert versions.list()[0].verification_summary == "passed: 0 of 0 claims hold, 0 failed, 0 not yet provided"


def test_an_unknown_version_says_where_to_look(engine: Engine, clock: FrozenClock) -> None:
    versions = StatementVersions(engine, clock)
    assert versions.latest() is None
    with pytest.raises(VersionNotFound, match="no statement version 7: `pledge statement versions` lists them"):
        versions.get(7)


def test_the_seeds_own_move_from_us_east_1_to_us_west_2_is_reproduced_word_for_word(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """The seed statement's change: "US East (us-east-1)" became "US West (Oregon)", hosted by Amazon AWS."""
    apps = [mailer_app()]
    east = published(deployment_with(settings, engine, clock, apps, region="us-east-1", hosting_provider="aws"))
    again = published(deployment_with(settings, engine, clock, apps, region="us-east-1", hosting_provider="aws"))
    assert again.version == east.version
    clock.advance(timedelta(days=3))
    west = published(deployment_with(settings, engine, clock, apps, region="us-west-2", hosting_provider="aws"))

    assert (east.version.id, west.version.id) == (1, 2)
    assert "hosted by **Amazon Web Services (AWS)** in the **US West (Oregon)** region (`us-west-2`)" in west.markdown
    comparison = compare(east.version.markdown, west.version.markdown)
    changes = [(s.kind, s.text) for s in comparison.segments if s.kind is not ChangeKind.SAME]
    assert changes == [
        (ChangeKind.REMOVED, "East"),
        (ChangeKind.ADDED, "West"),
        (ChangeKind.REMOVED, "N. Virginia"),
        (ChangeKind.ADDED, "Oregon"),
        (ChangeKind.REMOVED, "us-east-1"),
        (ChangeKind.ADDED, "us-west-2"),
    ]
    assert west.version.verification is not None and west.version.verification.version_id == 2
