"""Job health in /readyz and /metrics, and the host running the jobs while it serves."""

from __future__ import annotations

import threading
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from pledge.clock import FrozenClock
from pledge.host import create_host
from pledge.jobs import Job, JobContext, JobRunner, Outcome
from pledge.runtime import Runtime

PERIOD = timedelta(hours=1)
DEADLINE = timedelta(minutes=5)


def failing(_context: JobContext) -> None:
    raise RuntimeError("the work failed")


def test_readyz_degrades_naming_the_job_once_it_is_overdue_beyond_its_deadline(
    runtime: Runtime, clock: FrozenClock
) -> None:
    runner = JobRunner(
        runtime.engine,
        clock,
        [Job("stuck", PERIOD, DEADLINE, failing), Job("fine", PERIOD, DEADLINE, lambda _context: None)],
    )
    client = TestClient(create_host(runtime, jobs=runner))  # no lifespan: the test ticks
    runner.tick()
    clock.advance(DEADLINE)
    runner.tick()
    assert client.get("/readyz").json() == {"status": "ready"}
    clock.advance(timedelta(seconds=1))
    answer = client.get("/readyz")
    assert (answer.status_code, answer.json()["status"]) == (200, "degraded")  # still serving: no 503 for a late job
    reason = answer.json()["reason"]
    assert "job stuck is overdue" in reason and "fine" not in reason


def test_metrics_expose_last_success_failure_duration_and_overdue_per_job(runtime: Runtime, clock: FrozenClock) -> None:
    def slow(_context: JobContext) -> None:
        clock.advance(timedelta(seconds=7))

    runner = JobRunner(
        runtime.engine, clock, [Job("slow", PERIOD, DEADLINE, slow), Job("stuck", PERIOD, DEADLINE, failing)]
    )
    client = TestClient(create_host(runtime, jobs=runner))
    started = clock.now()
    runner.tick()
    clock.advance(timedelta(seconds=30))
    gauges = job_gauges(client.get("/metrics").text)
    assert gauges[("pledge_job_last_success_timestamp_seconds", "slow")] == (started + timedelta(seconds=7)).timestamp()
    assert gauges[("pledge_job_last_duration_seconds", "slow")] == 7.0
    assert gauges[("pledge_job_overdue_seconds", "slow")] == 0.0
    assert (
        gauges[("pledge_job_last_failure_timestamp_seconds", "stuck")] == (started + timedelta(seconds=7)).timestamp()
    )
    assert ("pledge_job_last_success_timestamp_seconds", "stuck") not in gauges
    assert gauges[("pledge_job_overdue_seconds", "stuck")] == 30.0  # registered when slow had run, 7 s in
    assert gauges[("pledge_job_failures_in_a_row", "stuck")] == 1
    assert gauges[("pledge_job_failures_in_a_row", "slow")] == 0


def job_gauges(exposition: str) -> dict[tuple[str, str], float]:
    """The job gauges by (metric, job); a job is their only label."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith("pledge_job_"):
                assert set(sample.labels) == {"job"}
                found[(sample.name, sample.labels["job"])] = sample.value
    return found


def test_the_host_runs_due_jobs_while_it_serves_and_stops_them_on_shutdown(
    runtime: Runtime, clock: FrozenClock
) -> None:
    ran = threading.Event()
    runner = JobRunner(runtime.engine, clock, [Job("signal", PERIOD, DEADLINE, lambda _context: ran.set())])
    with TestClient(create_host(runtime, jobs=runner)):
        assert ran.wait(timeout=30), "the first tick runs at start-up"
    assert [record.outcome for record in runner.history("signal")] == [Outcome.SUCCEEDED]


def test_with_jobs_disabled_the_host_reports_their_health_but_does_not_run_them(
    runtime: Runtime, clock: FrozenClock
) -> None:
    disabled = Runtime.open(
        runtime.settings.model_copy(update={"jobs_enabled": False}), clock=clock, engine=runtime.engine
    )
    runner = JobRunner(runtime.engine, clock, [Job("never", PERIOD, DEADLINE, failing)])
    with TestClient(create_host(disabled, jobs=runner)) as client:
        assert client.get("/readyz").status_code == 200
    assert runner.history() == []
