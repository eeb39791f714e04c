"""The shared memory of used FIT ``jti``s: uses that arrive together share one transaction, and every ``jti`` is
accepted once across instances on one database, whatever the interleaving; a batch that cannot be written accepts
none of its uses."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

from pledge.db import open_engine
from pledge.trust.fit_uses import SharedTokenUses

APP_ID = "ari:cloud:ecosystem::app/0d2c8a31-54c6-4f1e-9d7b-2a6e5f8c1b30"
UNTIL = 4_102_444_800.0  # 2100: the sweep never matters here


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
def other_engine(engine: Engine, database_url: str) -> Iterator[Engine]:
    """A second instance's engine on the same database (its own connections)."""
    other = open_engine(database_url)
    yield other
    other.dispose()


def _commits(engine: Engine) -> list[object]:
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    return commits


async def test_uses_arriving_together_share_one_transaction_and_a_replay_refuses_only_itself(
    engine: Engine, threads: ThreadPoolExecutor
) -> None:
    uses = SharedTokenUses(engine, threads)
    assert await uses.use_once(APP_ID, "used-before", UNTIL)
    commits = _commits(engine)

    results = await asyncio.gather(*(uses.use_once(APP_ID, jti, UNTIL) for jti in ("a", "used-before", "b", "c")))

    assert results == [True, False, True, True]
    assert len(commits) == 1


async def test_one_jti_used_at_once_by_several_calls_is_accepted_once(
    engine: Engine, threads: ThreadPoolExecutor
) -> None:
    uses = SharedTokenUses(engine, threads)
    results = await asyncio.gather(*(uses.use_once(APP_ID, "same", UNTIL) for _ in range(5)))
    assert results == [True, False, False, False, False]


async def test_the_same_jti_of_another_app_is_another_use(engine: Engine, threads: ThreadPoolExecutor) -> None:
    uses = SharedTokenUses(engine, threads)
    other_app = "ari:cloud:ecosystem::app/7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    assert await asyncio.gather(uses.use_once(APP_ID, "j", UNTIL), uses.use_once(other_app, "j", UNTIL)) == [True, True]


async def test_two_instances_using_the_same_jtis_at_once_accept_each_once(
    engine: Engine, other_engine: Engine, threads: ThreadPoolExecutor
) -> None:
    with ThreadPoolExecutor(2) as other_threads:
        first, second = SharedTokenUses(engine, threads), SharedTokenUses(other_engine, other_threads)
        jtis = [f"shared-{number}" for number in range(20)]
        # Opposite orders: on PostgreSQL two batches locking the same keys in different orders would deadlock.
        results = await asyncio.gather(
            *(first.use_once(APP_ID, jti, UNTIL) for jti in jtis),
            *(second.use_once(APP_ID, jti, UNTIL) for jti in reversed(jtis)),
        )
    accepted = Counter(jti for jti, new in zip([*jtis, *reversed(jtis)], results, strict=True) if new)
    assert accepted == Counter(jtis)


@pytest.fixture
def unreachable(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose database cannot be reached: a PostgreSQL port nobody listens on, or a SQLite file whose
    directory is gone."""
    if database_url.startswith("postgresql"):
        engine = open_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    else:
        (tmp_path / "gone").mkdir()
        engine = open_engine(f"sqlite:///{tmp_path / 'gone' / 'pledge.db'}")
        shutil.rmtree(tmp_path / "gone")
    yield engine
    engine.dispose()


async def test_a_batch_that_cannot_be_written_accepts_none_of_its_uses(
    unreachable: Engine, threads: ThreadPoolExecutor
) -> None:
    uses = SharedTokenUses(unreachable, threads)
    results = await asyncio.gather(*(uses.use_once(APP_ID, jti, UNTIL) for jti in "abc"), return_exceptions=True)
    assert [type(result) for result in results] == [OperationalError] * 3


async def test_uses_after_the_threads_were_shut_down_fail(engine: Engine) -> None:
    threads = ThreadPoolExecutor(1)
    threads.shutdown()
    with pytest.raises(RuntimeError):
        await SharedTokenUses(engine, threads).use_once(APP_ID, "late", UNTIL)


async def test_a_caller_that_goes_away_leaves_the_others_their_answers(
    engine: Engine, threads: ThreadPoolExecutor
) -> None:
    uses = SharedTokenUses(engine, threads)
    leaving = asyncio.ensure_future(uses.use_once(APP_ID, "gone", UNTIL))
    staying = asyncio.ensure_future(uses.use_once(APP_ID, "here", UNTIL))
    replaying = asyncio.ensure_future(uses.use_once(APP_ID, "gone", UNTIL))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await asyncio.gather(staying, replaying) == [True, False]
    assert not await uses.use_once(APP_ID, "gone", UNTIL)  # recorded all the same: its token is spent


# Each use: which instance takes it, which jti (few, so they repeat), and how many turns of the loop it waits first.
_USES = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=24)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=_USES)
async def test_every_jti_is_accepted_exactly_once_whatever_the_interleaving(
    engine: Engine, other_engine: Engine, threads: ThreadPoolExecutor, plan: list[tuple[int, int, int]]
) -> None:
    run = uuid.uuid4().hex  # the database outlives the examples: each uses jtis of its own
    with ThreadPoolExecutor(2) as other_threads:
        instances = (SharedTokenUses(engine, threads), SharedTokenUses(other_engine, other_threads))

        async def use(instance: int, jti: int, turns: int) -> tuple[int, bool]:
            for _ in range(turns):
                await asyncio.sleep(0)
            return jti, await instances[instance].use_once(APP_ID, f"{run}-{jti}", UNTIL)

        results = await asyncio.gather(*(use(*step) for step in plan))
    accepted = Counter(jti for jti, new in results if new)
    assert accepted == Counter({jti for _, jti, _ in plan})


async def test_a_burst_is_written_in_bounded_batches_and_every_use_is_answered(
    engine: Engine, threads: ThreadPoolExecutor
) -> None:
    uses = SharedTokenUses(engine, threads, max_batch=3)
    assert await uses.use_once(APP_ID, "j-1", UNTIL)
    commits = _commits(engine)

    jtis = [f"j-{number}" for number in range(1, 9)]
    results = await asyncio.gather(*(uses.use_once(APP_ID, jti, UNTIL) for jti in jtis))

    assert results == [False, *[True] * 7]  # j-1 was used before the burst
    assert len(commits) == 3  # 8 uses, at most 3 a transaction
