"""Secrets in memory and on screen: a value that never shows itself, and the one
masking rule every reader of a secret uses (admin documents, answers, logs)."""

from __future__ import annotations


class Secret:
    """A string that never shows itself in repr/str (logs, tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


MASK = "*****"


def mask_secret(value: str | Secret | None) -> str | None:
    """The display form: the first 3 characters, then ``*****``; all asterisks when short."""
    if value is None:
        return None
    text = value.reveal() if isinstance(value, Secret) else value
    if len(text) < 8:
        # Three characters of a short value are too much of it.
        return "*" * 8
    return f"{text[:3]}{MASK}"


def looks_masked(value: str) -> bool:
    """Whether a string has the shape `mask_secret` produces."""
    return len(value) == 8 and value.endswith(MASK)
