"""Personal data reporting (S2): the accountIds an app stores, reported to Atlassian on its cycle, closed accounts
erased and updated ones refreshed through the app's hooks. See docs/personal-data-reporting.md."""

from pledge.reporting.cycle import JOB_NAME, Reporter, reporting_job

__all__ = ["JOB_NAME", "Reporter", "reporting_job"]
