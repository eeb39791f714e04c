"""What a verifier makes of a request: the verified :class:`Identity`, or a :class:`~pledge.errors.Refused`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request

from pledge.tenants import Tenant


@dataclass(frozen=True, slots=True)
class Identity:
    """Who called, as verified: the tenant, the user when there is one, and the token's verified claims."""

    tenant: Tenant
    account_id: str | None
    claims: dict[str, Any]


class Verifier(Protocol):
    """Turns a request into its verified identity, or raises ``Refused`` with a reason code."""

    async def __call__(self, request: Request) -> Identity: ...


def raw_header(request: Request, name: bytes) -> bytes | None:
    """A header's raw value straight from the ASGI scope (``name`` lowercase, as ASGI delivers names).

    Verifiers read their headers this way: Starlette's ``Headers`` is built per request, and its ``get`` of an
    absent header raises and catches a KeyError (about 1 µs each; the Forge route asks for two that are often absent).
    """
    for key, value in request.scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None
