"""What a password must be: 12 to 128 characters, no composition rules (NIST SP
800-63B), not a common one.

"Common" is judged on what is left once digits and punctuation are trimmed
from both ends and case is ignored: a word of the bundled list
(`common_words.txt`, the words people build passwords from), a repetition of
one, a run along the keyboard or the digits, or too few distinct characters.
So `Password1234!` and `qwertyuiop123` are refused, a passphrase is not.
"""

from __future__ import annotations

import functools
import string
from importlib import resources

MIN_LENGTH = 12
MAX_LENGTH = 128
_TRIM = string.digits + string.punctuation + " "
_RUNS = (
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertzuiopasdfghjklyxcvbnm",
    "1234567890",
    "abcdefghijklmnopqrstuvwxyz",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Why `password` is refused (for the `password` field), or None."""
    if any("\ud800" <= char <= "\udfff" for char in password):
        # A JSON string may hold half a UTF-16 pair; no keyboard types one, and it has
        # no UTF-8 form to hash.
        return "must be text: it holds a lone surrogate (half of a UTF-16 pair)"
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if _is_common(password):
        return "is too common: choose a longer phrase of your own"
    local_part = (email or "").split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in password.lower():
        return "must not contain your email address"
    return None


def _is_common(password: str) -> bool:
    lowered = password.lower()
    if len(set(lowered)) < 5:
        return True
    if any(lowered in run or lowered in run[::-1] for run in _RUNS):
        return True
    core = lowered.strip(_TRIM)
    if not core or any(core in run or core in run[::-1] for run in _RUNS):
        return True
    words = _common_words()
    if core in words:
        return True
    # "passwordpassword", "monkeymonkey123"
    for size in range(3, len(core) // 2 + 1):
        if len(core) % size == 0 and core == core[:size] * (len(core) // size):
            return core[:size] in words or size <= 4
    return False


@functools.cache
def _common_words() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_words.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )
