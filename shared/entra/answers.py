"""MSAL's HTTP plumbing: a cache that keeps nothing, and a client that notes each
token answer's status and Retry-After for the thread that asked (MSAL hands back
neither). See shared.entra.client for why a redemption must stand alone."""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import requests

MAX_RETRY_AFTER = 3600


class KeepNothing(MutableMapping[str, Any]):
    """MSAL's `http_cache` that stores nothing: no answer is replayed to another
    redemption (see the module's docstring)."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        return None

    def __delitem__(self, key: str) -> None:
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: int | None


class AnswerRecorder:
    """The HTTP client MSAL is given: our session, noting for the calling thread the
    status and Retry-After of the last POST (MSAL hands back neither)."""

    def __init__(self, http: requests.Session) -> None:
        self._http = http
        self._local = threading.local()

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        self._local.answer = None
        response = self._http.post(*args, **kwargs)
        self._local.answer = Answer(
            response.status_code, parse_retry_after(response.headers.get("Retry-After"))
        )
        return response

    def get(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self._http.get(*args, **kwargs)

    def close(self) -> None:
        return None  # the session is shared and closed by its owner

    def clear(self) -> None:
        self._local.answer = None

    def last_answer(self) -> Answer | None:
        answer: Answer | None = getattr(self._local, "answer", None)
        return answer


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> int | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date), at most an
    hour; None when absent or malformed."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        # Past 10 digits it is past any cap (and int() of thousands of digits raises).
        seconds = int(text) if len(text) <= 10 else MAX_RETRY_AFTER
        return min(seconds, MAX_RETRY_AFTER) or None  # "0": no wait worth telling
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    ahead = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(0, int(ahead + 0.999)), MAX_RETRY_AFTER) or None
