"""S7: the uninstall grace, the purge that ends it, deletion on request and per-collection record retention.

docs/retention.md tells the timeline; the shred ledger the purge writes lives below, in
:mod:`pledge.tenants.shred_ledger`, where backups can read it.
"""

from pledge.retention.deletion_requests import DeletionConfirmation, DeletionRequests, check_reason
from pledge.retention.purge import PURGE_JOB, Purger, PurgeStep
from pledge.retention.record_retention import RETENTION_JOB, record_retention_job

__all__ = [
    "PURGE_JOB",
    "RETENTION_JOB",
    "DeletionConfirmation",
    "DeletionRequests",
    "PurgeStep",
    "Purger",
    "check_reason",
    "record_retention_job",
]
