"""`python -m bench load`, shorter: three `pledge serve` processes on one PostgreSQL schema take signed Connect
webhooks and Forge invocations round-robin, one is SIGKILLed halfway, and every delivery ends acknowledged and
stored. Nothing here is timed: the assertions are about answers and the store."""

from __future__ import annotations

import pytest
from bench.load import run

pytestmark = pytest.mark.postgres


def test_three_instances_one_killed_midway_answer_no_5xx_and_lose_nothing(postgres_url: str) -> None:
    outcome = run("killed midway", seconds=6, rate=16, kill_one=True, database_url=postgres_url)
    tally = outcome.tally

    assert outcome.failures == []
    assert tally.by_class(5) == 0 and tally.by_class(4) == 0
    assert len(tally.acknowledged) == tally.sent and outcome.lost == 0
    # The dead instance's share was refused at connect (or cut mid-answer) and acknowledged by another one.
    assert tally.retried["connection refused"] > 0
    assert set(tally.retried) <= {"connection refused", "no answer (ReadError)", "no answer (RemoteProtocolError)"}
