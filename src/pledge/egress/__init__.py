"""S13: every request leaving the process goes through one client that allows only declared destinations."""

from pledge.egress.client import EgressRefused, OutboundClient

__all__ = ["EgressRefused", "OutboundClient"]
