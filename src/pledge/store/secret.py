"""A value of a field declared SECRET: it stays wrapped until the app asks for it by name (S2, S10).

Printing, logging or JSON-encoding a record therefore never shows a secret by accident; ``reveal()`` does.
"""

from __future__ import annotations

from typing import Any

_MASK = "**********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def reveal(self) -> Any:
        """The secret value itself: call it only where the secret is used, never to show or log it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    __hash__ = None  # type: ignore[assignment]
