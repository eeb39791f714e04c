"""One exception family, so every refusal reaches the user as one line saying what is wrong and how to fix it."""


class PledgeError(Exception):
    """Base for every error Pledge raises on purpose; its message is safe to show and to log."""


class ConfigurationError(PledgeError):
    """A setting is missing, malformed, or weaker than a promise the statement makes."""
