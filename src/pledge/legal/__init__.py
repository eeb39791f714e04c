"""Legal requests (S13): each disclosure an authority compelled, kept append-only, counted per year in the statement
and shown to its site unless a gag order forbids it (docs/legal-requests.md)."""

from pledge.legal.records import (
    TRANSPARENCY_JSON_PATH,
    TRANSPARENCY_PAGE_PATH,
    LegalRequest,
    LegalRequestRefused,
    LegalRequests,
    YearCount,
    legal_requests_table,
)

__all__ = [
    "TRANSPARENCY_JSON_PATH",
    "TRANSPARENCY_PAGE_PATH",
    "LegalRequest",
    "LegalRequestRefused",
    "LegalRequests",
    "YearCount",
    "legal_requests_table",
]
