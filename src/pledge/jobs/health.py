"""Job health as Prometheus gauges, labelled by job name only, read from the database at each scrape.

Every instance reports the same figures (they come from the shared tables), whichever of them ran the job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from pledge.jobs.runner import JobRunner, JobStatus

log = logging.getLogger("pledge.jobs")


class JobHealthCollector(Collector):
    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "success": GaugeMetricFamily(
                "pledge_job_last_success_timestamp_seconds", "When the job last succeeded (Unix time)", labels=["job"]
            ),
            "failure": GaugeMetricFamily(
                "pledge_job_last_failure_timestamp_seconds", "When the job last failed (Unix time)", labels=["job"]
            ),
            "duration": GaugeMetricFamily(
                "pledge_job_last_duration_seconds", "How long the job's last finished run took", labels=["job"]
            ),
            "overdue": GaugeMetricFamily(
                "pledge_job_overdue_seconds", "How long the job has been due without a success", labels=["job"]
            ),
            "failures": GaugeMetricFamily(
                "pledge_job_failures_in_a_row", "Failed runs since the job's last success", labels=["job"]
            ),
        }
        try:
            statuses = self._runner.status()
        except SQLAlchemyError:
            # /metrics still answers with the request figures; /readyz says the database is down.
            log.warning("job health: the database cannot be read")
            statuses = []
        for status in statuses:
            name = status.job.name
            if status.last_success is not None:
                families["success"].add_metric([name], status.last_success.timestamp())
            if status.last_failure is not None:
                families["failure"].add_metric([name], status.last_failure.timestamp())
            if status.last_duration_seconds is not None:
                families["duration"].add_metric([name], status.last_duration_seconds)
            families["overdue"].add_metric([name], status.overdue_seconds)
            families["failures"].add_metric([name], status.failures_in_a_row)
        yield from families.values()


def describe_late(late: Sequence[JobStatus]) -> str:
    """``/readyz``'s reason: each late job by name, how long it has been due and how long a run may take."""
    return "; ".join(
        f"job {status.job.name} is overdue: due for {status.overdue_seconds:.0f} s without a success"
        f" (a run may take {status.job.deadline.total_seconds():.0f} s): see `pledge jobs history {status.job.name}`"
        for status in late
    )
