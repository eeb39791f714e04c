"""One exception family, so every refusal reaches the user as one line saying what is wrong and how to fix it."""


class PledgeError(Exception):
    """Base for every error Pledge raises on purpose; its message is safe to show and to log."""


class ConfigurationError(PledgeError):
    """A setting is missing, malformed, or weaker than a promise the statement makes."""


class Refused(PledgeError):
    """A request refused for what it is or carries: answered ``status_code`` with ``{"error": code, "message": …}``.

    ``code`` is one of the reason codes of docs/reason-codes.md; the message says what to fix and holds no value
    the caller sent (it is logged). 401 unless said otherwise: most refusals are of a request that did not prove
    who sent it; 403 when the caller is authentic but may not do this, 421 when it is sent to the wrong region.
    """

    def __init__(self, code: str, message: str, *, status_code: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code
