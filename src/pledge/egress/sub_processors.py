"""Sub-processors: the third parties an app sends customer data to on purpose, declared with what a customer must
know (who, why, where) and the hosts it reaches them at. Only declared hosts are reachable (the socket guard), and
the statement prints every declaration in the app's section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from pledge.config import ENV_PREFIX, Settings, import_object, is_loopback
from pledge.errors import ConfigurationError

_NAME: Final = re.compile(r"[^\x00-\x1f\x7f|*_`\[\]<>]{1,80}")
_PURPOSE: Final = re.compile(r"[^\x00-\x1f\x7f|*_`\[\]<>]{1,200}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_HOST: Final = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
MAX_HOSTS: Final = 16


@dataclass(frozen=True, slots=True)
class SubProcessor:
    """A third party the app sends data to: ``SubProcessor("SendGrid", "sending the app's notification e-mails",
    countries=("US",), hosts=("smtp.sendgrid.net",))``. Countries are ISO 3166-1 alpha-2 codes of where it
    processes the data; hosts are the names the app connects to (no addresses, no wildcards)."""

    name: str
    purpose: str
    countries: tuple[str, ...]
    hosts: tuple[str, ...]

    def __post_init__(self) -> None:
        # Printed in the statement's Markdown as they are: no markup, no table pipes, no control characters.
        if not _NAME.fullmatch(self.name) or self.name != self.name.strip():
            raise ValueError(f"sub-processor name {self.name!r}: 1 to 80 characters, no markup")
        if not _PURPOSE.fullmatch(self.purpose) or self.purpose != self.purpose.strip():
            raise ValueError(f"sub-processor {self.name}: the purpose is 1 to 200 characters, no markup")
        if not self.countries or not all(_COUNTRY.fullmatch(country) for country in self.countries):
            raise ValueError(f"sub-processor {self.name}: countries are ISO 3166-1 alpha-2 codes, at least one")
        if not 1 <= len(self.hosts) <= MAX_HOSTS:
            raise ValueError(f"sub-processor {self.name}: 1 to {MAX_HOSTS} hosts")
        for host in self.hosts:
            if not _HOST.fullmatch(host) or is_loopback(host):
                raise ValueError(f"sub-processor {self.name}: {host!r} is not a lower-case host name")


def declared_by_deployment(settings: Settings) -> tuple[SubProcessor, ...]:
    """The service's own sub-processors (not any one app's), named by ``PLEDGE_SUB_PROCESSORS``."""
    if settings.sub_processors is None:
        return ()
    declared = import_object(settings.sub_processors, f"{ENV_PREFIX}SUB_PROCESSORS")
    if not isinstance(declared, tuple) or not all(isinstance(item, SubProcessor) for item in declared):
        raise ConfigurationError(
            f"invalid setting {ENV_PREFIX}SUB_PROCESSORS={settings.sub_processors!r}: not a tuple of SubProcessor"
        )
    return declared
