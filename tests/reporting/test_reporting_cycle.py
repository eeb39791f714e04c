"""A full personal data reporting cycle through `pledge sim`'s reporting API, on both engines (S2)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from tests.reporting.conftest import World

from pledge.jobs import Outcome
from pledge.reporting.claims import check_reporting
from pledge.reporting.tables import CycleOutcome, last_successes, latest_cycle
from pledge.statement.facts import Deployment

ALICE = "557058:" + "1b2c3d4e-0000-4000-8000-00000000a11c"
BOB = "5b10ac8d82e05b22cc7d4ef5"
CAROL = "712020:" + "9f8e7d6c-0000-4000-8000-0000000ca201"


def account(n: int) -> str:
    return f"557058:{uuid.UUID(int=n)}"


def reported_ids(world: World) -> list[list[str]]:
    """The accountIds of each report request the sites received: acme's in order, then globex's."""
    requests = [*world.acme.site.recorder.received("/report/"), *world.globex.site.recorder.received("/report/")]
    return [[a["accountId"] for a in json.loads(r.body)["accounts"]] for r in requests]


async def test_a_closed_account_is_erased_from_every_record_and_the_others_are_kept(world: World) -> None:
    acme, globex = world.tenants()
    acme_store, globex_store = world.store(acme), world.store(globex)
    alone = acme_store.create(
        "followers", {"issue_key": "SIM-1", "follower": ALICE, "display_name": "Alice", "note": "x"}
    )
    kept = acme_store.create("followers", {"issue_key": "SIM-2", "follower": BOB, "display_name": "Bob", "note": "y"})
    shared = acme_store.create("digests", {"recipients": [ALICE, BOB], "subject": "weekly"})
    only_alice = acme_store.create("digests", {"recipients": [ALICE], "subject": "for Alice"})
    elsewhere = globex_store.create("followers", {"issue_key": "SIM-1", "follower": ALICE, "display_name": "Alice"})
    world.accounts.close(ALICE)

    run = await world.report()

    assert run.outcome == Outcome.SUCCEEDED
    # Both tenants reported what they hold, with when each person's data was last written.
    assert sorted(map(sorted, reported_ids(world))) == [[ALICE], sorted([ALICE, BOB])]
    first = json.loads(world.acme.site.recorder.received("/report/accounts")[0].body)["accounts"][0]
    assert first["updatedAt"] == "2026-11-27T09:00:00.000Z"
    # The app's hook ran for each tenant (and deleted the digest addressed to Alice alone) ...
    assert sorted(world.hooks.closed) == sorted([(acme.id, ALICE), (globex.id, ALICE)])
    assert acme_store.count("digests") == 1
    # ... then Pledge erased Alice everywhere: her id and the personal fields beside it; Bob's data is untouched.
    assert acme_store.get("followers", alone.id).values == {
        "issue_key": "SIM-1",
        "follower": None,
        "display_name": None,
        "note": "x",
    }
    assert acme_store.get("followers", kept.id).values == kept.values
    assert acme_store.get("digests", shared.id)["recipients"] == [BOB]
    assert globex_store.get("followers", elsewhere.id)["follower"] is None
    assert only_alice.id not in {r.id for r in acme_store.list("digests")}
    # The next cycle no longer holds Alice: nothing is reported for her again.
    world.clock.advance(timedelta(days=7))
    await world.report()
    assert reported_ids(world) == [sorted([ALICE, BOB]), [BOB], [ALICE]]  # globex holds no accountId any more


async def test_an_updated_account_calls_the_refresh_hook_once_and_is_then_current(world: World) -> None:
    acme, _ = world.tenants()
    record = world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": CAROL, "display_name": "C"})
    world.clock.advance(timedelta(minutes=5))
    world.accounts.update(CAROL)  # her profile changed after the app stored it

    await world.report()

    assert world.hooks.updated == [(acme.id, CAROL)]
    assert world.store(acme).get("followers", record.id)["display_name"] == "refreshed by app"
    world.clock.advance(timedelta(days=7))
    await world.report()
    assert world.hooks.updated == [(acme.id, CAROL)]  # refreshed after the change: Atlassian has nothing new


async def test_429_is_waited_out_as_retry_after_asks_then_the_cycle_succeeds(world: World) -> None:
    acme, _ = world.tenants()
    world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    world.accounts.throttle, world.accounts.retry_after_seconds = 2, 42

    await world.report()

    statuses = [e.status for e in world.acme.site.recorder.received("/report/accounts")]
    assert statuses == [429, 429, 204]
    assert world.waits == [42, 42]
    assert last_successes(world.runtime.engine, [acme.id])[acme.id].batches == 1


async def test_5xx_is_retried_with_backoff_and_a_bounded_number_of_times(world: World) -> None:
    acme, _ = world.tenants()
    world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    world.accounts.fail = 100

    run = await world.report()

    assert run.outcome == Outcome.SUCCEEDED  # the job ran; this tenant's cycle failed and stays due
    assert len(world.acme.site.recorder.received("/report/accounts")) == 5
    assert world.waits == [1, 2, 4, 8]
    cycle = latest_cycle(world.runtime.engine, [acme.id])
    assert (
        cycle is not None
        and cycle.outcome is CycleOutcome.FAILED
        and cycle.error == "the reporting API answered 503 5 times"
    )
    world.accounts.fail = 0
    world.clock.advance(timedelta(hours=1))
    await world.report()
    assert acme.id in last_successes(world.runtime.engine, [acme.id])


async def test_a_retry_after_longer_than_a_run_waits_leaves_the_cycle_throttled(world: World) -> None:
    acme, _ = world.tenants()
    world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    world.accounts.throttle, world.accounts.retry_after_seconds = 1, 3600

    await world.report()

    cycle = latest_cycle(world.runtime.engine, [acme.id])
    assert cycle is not None and cycle.outcome is CycleOutcome.THROTTLED and world.waits == []


async def test_200_accounts_are_reported_in_batches_of_90(world: World) -> None:
    acme, _ = world.tenants()
    store = world.store(acme)
    for n in range(200):
        store.create("followers", {"issue_key": "SIM-1", "follower": account(n)})
    world.accounts.close(account(150))

    await world.report()

    sizes = [len(ids) for ids in reported_ids(world)]
    assert sizes == [90, 90, 20]
    assert sorted(a for ids in reported_ids(world) for a in ids) == sorted(account(n) for n in range(200))
    cycle = last_successes(world.runtime.engine, [acme.id])[acme.id]
    assert (cycle.accounts, cycle.batches, cycle.closed, cycle.records_erased) == (200, 3, 1, 1)


async def test_the_cycle_period_atlassian_asks_for_is_honoured(world: World) -> None:
    acme, _ = world.tenants()
    world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    world.accounts.cycle_period_days = 3

    await world.report()
    world.clock.advance(timedelta(days=2, hours=23))
    await world.report()
    assert len(reported_ids(world)) == 1  # not due yet
    world.clock.advance(timedelta(hours=1))
    await world.report()
    assert len(reported_ids(world)) == 2
    assert last_successes(world.runtime.engine, [acme.id])[acme.id].cycle == timedelta(days=3)


async def test_the_statement_claim_holds_while_every_site_is_reported_and_fails_when_one_is_stale(world: World) -> None:
    acme, globex = world.tenants()
    world.store(acme).create("followers", {"issue_key": "SIM-1", "follower": BOB})
    deployment = Deployment.of(world.runtime, [world.app])
    await world.report()

    evidence = check_reporting(deployment, object())
    assert evidence.passed, evidence.detail
    assert "2 sites of 1 app storing accountIds" in evidence.detail and "succeeded" in evidence.detail

    world.clock.advance(timedelta(days=8, minutes=1))  # a cycle and a day: the job has not run since
    evidence = check_reporting(deployment, object())
    assert not evidence.passed
    assert acme.id in evidence.detail and globex.id in evidence.detail and BOB not in evidence.detail
    await world.report()
    assert check_reporting(deployment, object()).passed


async def test_a_tenant_without_accountids_is_reported_without_a_request(world: World) -> None:
    run = await world.report()
    assert run.outcome == Outcome.SUCCEEDED and reported_ids(world) == []
    acme, _ = world.tenants()
    cycle = latest_cycle(world.runtime.engine, [acme.id])
    assert cycle is not None and cycle.outcome is CycleOutcome.SUCCEEDED and cycle.accounts == 0
