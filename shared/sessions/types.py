"""Values shared by the sign-in and session services."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: str
