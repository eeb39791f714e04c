"""Weekly and monthly tiers on top of the daily window: which backups retention keeps, for any history of backups
(a property test against a model written from the rule), and the same through a real prune over simulated months."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backup_corpus import populate
from hypothesis import given, settings
from hypothesis import strategies as st

from pledge.backup.backups import Backups, RetentionTiers, created_at
from pledge.backup.pruning import backups_to_keep, prune
from pledge.backup.writer import run_backup
from pledge.clock import FrozenClock
from pledge.config import load_settings
from pledge.errors import ConfigurationError
from pledge.runtime import Runtime
from pledge.serving import backups_for

NOW = datetime(2027, 6, 15, 12, 0, tzinfo=UTC)


def backup_id(made: datetime, serial: int) -> str:
    return f"{made.strftime('%Y%m%dt%H%M%Sz')}-{serial:08x}"


histories = st.lists(st.integers(0, 3 * 365 * 24), min_size=0, max_size=60, unique=True).map(
    lambda hours_ago: [
        backup_id(NOW - timedelta(hours=h), serial) for serial, h in enumerate(sorted(hours_ago, reverse=True))
    ]
)


@settings(max_examples=300, deadline=None)
@given(ids=histories, weeks=st.integers(0, 10), months=st.integers(0, 14))
def test_kept_is_the_daily_window_plus_the_newest_of_the_last_weeks_and_months(
    ids: list[str], weeks: int, months: int
) -> None:
    kept = backups_to_keep(ids, NOW, 30, RetentionTiers(weeks=weeks, months=months))

    def newest_per(period: object, last: int, among: list[str]) -> set[str]:
        by_period: dict[object, str] = {}
        for i in among:
            by_period[period(created_at(i))] = i  # type: ignore[operator]
        ordered = sorted(by_period.values())
        return set(ordered[max(0, len(ordered) - last) :]) if last else set()

    in_window = [i for i in ids if created_at(i) >= NOW - timedelta(days=30)]
    expected = (
        set(ids[-1:])
        | {i for i in ids if created_at(i) >= NOW - timedelta(days=1)}
        | newest_per(lambda made: made.date(), len(in_window), in_window)
        | newest_per(lambda made: made.isocalendar()[:2], weeks, ids)
        | newest_per(lambda made: (made.year, made.month), months, ids)
    )
    assert kept == expected
    assert kept <= set(ids)
    # The promise itself: every day of the window that has a backup keeps one.
    assert {created_at(i).date() for i in in_window} == {created_at(i).date() for i in kept if i in in_window}


def test_without_tiers_nothing_older_than_the_window_is_kept_but_the_newest() -> None:
    ids = [backup_id(NOW - timedelta(days=d), d) for d in range(90, 40, -1)]
    assert backups_to_keep(ids, NOW, 30, RetentionTiers()) == {ids[-1]}


def test_tier_settings_are_bounded_and_reach_the_deployment_s_backups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLEDGE_BACKUP_KEEP_WEEKLY", "8")
    monkeypatch.setenv("PLEDGE_BACKUP_KEEP_MONTHLY", "12")
    runtime = Runtime.open(load_settings(data_dir=tmp_path))
    try:
        assert backups_for(runtime).tiers == RetentionTiers(weeks=8, months=12)
    finally:
        runtime.close()
    monkeypatch.setenv("PLEDGE_BACKUP_KEEP_WEEKLY", "-1")
    with pytest.raises(
        ConfigurationError, match="PLEDGE_BACKUP_KEEP_WEEKLY='-1': Input should be greater than or equal to 0"
    ):
        load_settings()


def test_a_year_of_backups_with_tiers_keeps_the_window_eight_weeks_and_twelve_months(
    runtime: Runtime, backups: Backups, clock: FrozenClock
) -> None:
    populate(runtime, sites=1, records=1)
    tiered = dataclasses.replace(backups, tiers=RetentionTiers(weeks=8, months=12))
    made_at = []
    for _ in range(130):  # every third day, for 390 days
        made_at.append(created_at(run_backup(tiered).backup_id))
        prune(tiered)
        clock.advance(timedelta(days=3))
    kept = [created_at(i) for i in tiered.complete_ids()]
    now = clock.now()
    newest_of_week = {made.isocalendar()[:2]: made for made in made_at}
    newest_of_month = {(made.year, made.month): made for made in made_at}
    last_weeks = [made for _, made in sorted(newest_of_week.items())[-8:]]
    last_months = [made for _, made in sorted(newest_of_month.items())[-12:]]
    window = [made for made in made_at if made >= now - timedelta(days=30)]  # one every third day: all kept
    assert set(kept) == set(window) | set(last_weeks) | set(last_months)
    assert len(last_months) == 12 and min(kept) == min(last_months)
    # The monthly tier's oldest pick is eleven months back, the current month counting as one.
    assert now - min(kept) > timedelta(days=300)
