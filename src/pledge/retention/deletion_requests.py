"""Deletion on request: a site's administrator asks from the app, an operator with ``pledge purge`` (S7).

The app's admin page asks in two steps: :meth:`DeletionConfirmation.issue` gives a token to put on the confirm
button, and the request that carries it back within ten minutes deletes the site. The token is an HMAC under a key
derived from the tenant's own data key, over its expiry: it is bound to the tenant, short-lived, and made useless by
the purge it leads to. An operator's reason is kept in the shred ledger, so it is bounded and checked for personal
data (:mod:`pledge.store.pii`) before anything is recorded.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from pledge.clock import Clock
from pledge.errors import PledgeError, Refused
from pledge.store.pii import first_finding
from pledge.tenants import TenantRegistry
from pledge.tenants.timeline import MAX_REASON, DeletionCause
from pledge.vault import Vault

CONFIRMATION_LIFETIME: Final = timedelta(minutes=10)
_TOKEN: Final = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")
_SCOPE: Final = ("_deletion", "confirm")  # no manifest can name a collection "_deletion"
_PRINTABLE: Final = re.compile(r"[^\x00-\x1f\x7f]+")


class ReasonRefused(PledgeError):
    """An operator's reason for a deletion that cannot be kept in the shred ledger."""


class ConfirmationRefused(Refused):
    """A deletion request without a valid, current confirmation token of its own tenant: 403."""


def check_reason(reason: str) -> str:
    """The reason, stripped, if the ledger may keep it: 1 to 200 characters, one line, no personal data."""
    text = reason.strip()
    if not 1 <= len(text) <= MAX_REASON or not _PRINTABLE.fullmatch(text):
        raise ReasonRefused(f"a reason is one line of 1 to {MAX_REASON} characters: it is kept in the shred ledger")
    finding = first_finding(text)
    if finding is not None:
        raise ReasonRefused(
            f"the reason holds what looks like personal data ({finding.kind}): the shred ledger keeps no personal "
            "data; describe the reason without it (e.g. a ticket number)"
        )
    return text


@dataclass(frozen=True, slots=True)
class DeletionConfirmation:
    """The confirm step of a deletion asked for from the app."""

    vault: Vault
    clock: Clock

    def issue(self, tenant_id: str) -> str:
        expires = int((self.clock.now() + CONFIRMATION_LIFETIME).timestamp())
        return f"{expires}.{self._mac(tenant_id, expires)}"

    def check(self, tenant_id: str, token: object) -> None:
        """Refuse unless ``token`` is one :meth:`issue` gave for this tenant and it has not expired."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise ConfirmationRefused(
                "deletion_unconfirmed",
                "the deletion needs the confirmation token the confirm step gave",
                status_code=403,
            )
        expires = int(match.group(1))
        if not hmac.compare_digest(match.group(2), self._mac(tenant_id, expires)):
            raise ConfirmationRefused(
                "deletion_unconfirmed", "this confirmation token is not this site's: ask for a new one", status_code=403
            )
        if expires < self.clock.now().timestamp():
            raise ConfirmationRefused(
                "deletion_unconfirmed",
                "the confirmation expired (it lasts ten minutes): ask for a new one",
                status_code=403,
            )

    def _mac(self, tenant_id: str, expires: int) -> str:
        version = self.vault.key_version(tenant_id)
        return self.vault.blind_index(tenant_id, version, *_SCOPE, str(expires).encode()).hex()


@dataclass(frozen=True, slots=True)
class DeletionRequests:
    """Deletion asked for from the app: the confirm step, then the request."""

    tenants: TenantRegistry
    confirmation: DeletionConfirmation

    def confirm_token(self, tenant_id: str) -> str:
        return self.confirmation.issue(tenant_id)

    def request(self, tenant_id: str, token: object) -> None:
        """Check the token, then make the tenant ``deleting``: its requests are refused from now on, and the next
        ``tenant-purge`` run deletes it."""
        self.confirmation.check(tenant_id, token)
        self.tenants.request_deletion(tenant_id, DeletionCause.REQUEST)
