"""The logs' claim: tokens, secrets and e-mail addresses are masked before a line is written (S2).

The check passes a probe line through the same redactor the log handler runs (:func:`pledge.logs.redact`); the
probe is never logged.
"""

from __future__ import annotations

from pledge.logs import redact
from pledge.promises import Claim, Evidence, Section, plural

# Values the log redaction must mask; the probe line is never logged, only passed through the redactor.
_LOG_PROBE_SECRETS = ("c2lnbmF0dXJlLXByb2Jl", "probe-shared-secret", "probe-bearer-token", "probe.person@example.com")
_LOG_PROBE = (
    f"Authorization: JWT eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJwcm9iZSJ9.{_LOG_PROBE_SECRETS[0]} "
    f'{{"sharedSecret": "{_LOG_PROBE_SECRETS[1]}"}} Authorization: Bearer {_LOG_PROBE_SECRETS[2]} '
    f"installer {_LOG_PROBE_SECRETS[3]}"
)


def check_logs_redacted(deployment: object, facts: object) -> Evidence:
    redacted = redact(_LOG_PROBE)
    leaked = [value for value in _LOG_PROBE_SECRETS if value in redacted]
    if leaked:
        return Evidence(False, f"the log redaction let {plural(len(leaked), 'probe value')} through")
    return Evidence(True, "a probe line's JWT, shared secret, bearer token and e-mail address were all masked")


LOGS_REDACTED: Claim[object, object] = Claim(
    "logs-redacted",
    "S2",
    Section.SECURITY,
    "Tokens, secrets and e-mail addresses are masked in every log line before it is written. Log lines do "
    "name your site's address and, where a request names them, issue keys.",
    check_logs_redacted,
)

CLAIMS: tuple[Claim[object, object], ...] = (LOGS_REDACTED,)
"""The logs' claims; :mod:`pledge.statement.claims` places them in the statement."""
