"""What a sign-in step answers: started (where to send the browser), completed (the
user and their session), or handed to an SPA."""

from __future__ import annotations

from dataclasses import dataclass

from shared.sessions.types import SessionTokens
from shared.users import User


@dataclass(frozen=True)
class Started:
    authorization_url: str
    state: str


@dataclass(frozen=True)
class Completed:
    user: User
    tokens: SessionTokens
    return_to: str


@dataclass(frozen=True)
class SpaHandoff:
    """A JSON-mode sign-in came back through the browser: hand code and state to the SPA."""

    location: str
