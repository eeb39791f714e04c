"""Scheduled jobs: declared with a period and a deadline, run exactly once per period across every instance.

See docs/jobs.md. The runner lives in :mod:`pledge.jobs.runner`, the lease's fence in :mod:`pledge.jobs.job`.
"""

from pledge.jobs.builtin import builtin_jobs
from pledge.jobs.job import Job, JobContext, LeaseLost
from pledge.jobs.runner import JobBusy, JobRunner, JobStatus, Run, RunRecord, UnknownJob
from pledge.jobs.tables import Outcome

__all__ = [
    "Job",
    "JobBusy",
    "JobContext",
    "JobRunner",
    "JobStatus",
    "LeaseLost",
    "Outcome",
    "Run",
    "RunRecord",
    "UnknownJob",
    "builtin_jobs",
]
