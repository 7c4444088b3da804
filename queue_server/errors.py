"""Errors a caller can act on.

Every error names what was wrong (``field``) and says so in Chinese first, English
second, so a kiosk operator and an integrator read the same message.
"""

from __future__ import annotations

from dataclasses import dataclass


class HallqError(Exception):
    """Base of every error hallq raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where (``path``) and what (``message``)."""

    path: str
    message: str  # English
    zh: str = ""  # Chinese, shown first

    @property
    def text(self) -> str:
        """「中文 (English)」, or the English alone when there is no Chinese text."""
        return f"{self.zh} ({self.message})" if self.zh else self.message

    def __str__(self) -> str:
        return f"{self.path}: {self.text}" if self.path else self.text


class ConfigError(HallqError):
    """The configuration cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue], source: str = "") -> None:
        self.issues = issues
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(str(i) for i in issues))


class CommandRejected(HallqError):
    """A command was refused; nothing was stored.

    ``code`` is stable for programs (``illegal_transition``, ``unknown_ticket`` …),
    ``message`` is for people, ``field`` names the input at fault when there is one,
    ``status`` is the HTTP status the API answers with.
    """

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class StoreUnavailable(HallqError):
    """The store (e.g. Redis) cannot be reached; the command was not applied."""
