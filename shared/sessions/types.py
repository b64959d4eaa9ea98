"""Values shared by the sign-in and session services."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SessionTokens:
    # Never in a repr (a log line, an assertion message): they are credentials.
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)
    refresh_expires_in: int
    session_id: str
