"""The service's own sub-processors, as a deployment names them: PLEDGE_SUB_PROCESSORS=tests.egress.declared:SERVICE."""

from __future__ import annotations

from pledge.egress.sub_processors import SubProcessor

SERVICE = (SubProcessor("Sentry", "error reports", ("DE", "US"), ("o1.ingest.sentry.io",)),)
NOT_A_REGISTER = ["Sentry"]
