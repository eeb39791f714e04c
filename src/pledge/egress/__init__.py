"""S13: every request leaving the process goes through one client that allows only declared destinations."""

from pledge.egress.client import EgressRefused, OutboundClient
from pledge.egress.paths import UnsafePath, product_path, request_url

__all__ = ["EgressRefused", "OutboundClient", "UnsafePath", "product_path", "request_url"]
