"""Errors a caller can act on.

Every error names what was wrong (``field``) and says so in Chinese first, English
second, so a kiosk operator and an integrator read the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD_PREFIX = re.compile(r"^[\x21-\x7e]+: ")  # "week: ", "windows[3].class: " — a field path, no CJK


@dataclass(frozen=True)
class Bilingual:
    """One message in Chinese (shown first) and English, kept apart so a page never has to guess."""

    zh: str
    en: str

    @classmethod
    def parse(cls, text: str) -> Bilingual:
        """Split hallq's 「中文 (English)」 convention into its halves.

        The English is the balanced ASCII ``(…)`` group that ends the text (full-width （…）
        belong to the Chinese, e.g. 「12月7日（一）」); a leading field path such as ``week: ``
        belongs to both. Text without such a group is the same in both languages.
        """
        text = text.strip()
        start = _closing_group_start(text)
        zh = text[:start].rstrip() if start is not None else ""
        if not zh or start is None:
            return cls(text, text)
        en = text[start + 1 : -1].strip()
        prefix = _FIELD_PREFIX.match(zh)
        if prefix and not en.startswith(prefix.group(0)):
            en = prefix.group(0) + en
        return cls(zh, en)

    def __str__(self) -> str:
        """「中文 (English)」, or the text alone when both are the same."""
        return self.zh if self.zh == self.en else f"{self.zh} ({self.en})"

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


def _closing_group_start(text: str) -> int | None:
    """Index of the "(" that opens the group closed by the text's last ")", or None."""
    if not text.endswith(")"):
        return None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return i
    return None


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
