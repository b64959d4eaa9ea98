"""Refresh tokens: rotation, reuse detection, families (pure given a clock).

Refresh tokens are opaque to clients; only their sha256 is stored, and each is
good for one use: a second use revokes its whole family (RFC 9700 4.14.2), for
the last `USED_TOKENS_KEPT` tokens of a family (an older one is only refused).

A family is one sign-in's chain of refresh tokens, kept as ONE record: the hash
of the token that is good now, plus short fingerprints of the ones already used.
A token names its family (`{user_id}.{family_id}.{secret}`), so a refresh is a
point read and one conditional write, and a sign-in writes a single row.

A caller may allow a repeat (the hosted pages do; the token endpoint does not): the
token such a rotation replaced, presented again there within `REPEAT_WINDOW`,
gets the same successor back instead of ending the family. A browser sends one
twice when a form is submitted twice or tabs reload together, and both answers
must set the same cookie. The successor is kept sealed under a key only the
replaced token gives (AES-GCM), so the row alone reveals nothing; a rotation
where repeats are not allowed keeps none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import InvalidGrant

REFRESH_ABSOLUTE_TTL = 30 * 24 * 3600
REFRESH_IDLE_TTL = 7 * 24 * 3600
# Reuse of the last this-many used tokens revokes the family; an older one is merely
# refused (about 25 hours of continuous 15-minute refreshes).
USED_TOKENS_KEPT = 100
# How long the token a rotation replaced may come back for the same successor (where
# a caller allows repeats): a double submit or tabs restored together, not a day.
REPEAT_WINDOW = 30.0
_FINGERPRINT_LENGTH = 16  # hex digits of the sha256: 64 bits, enough to recognise a token
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_FAMILY_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def hash_refresh_token(token: str) -> str:
    # The token carries 256 random bits, so a plain hash is enough (no salt, no KDF).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _fingerprint(token_hash: str) -> str:
    return token_hash[:_FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class RefreshFamily:
    """One sign-in's refresh tokens; times are epoch seconds.

    `current_hash` is the sha256 of the one token that may be used now; `used` holds
    fingerprints of earlier ones, newest first. `entra_sid` is the Entra sign-in
    session (`sid` of the ID token) that started the family: Entra's front-channel
    logout names only that. `directory` is the Entra tenant id the sign-in came
    through (None for a password session, and for a family stored before it was
    kept): a session of a directory the tenant no longer trusts ends at its next
    use, whichever route it is used at. `successor` is the current token sealed
    under the one it replaced (`issued_at` is when), for a repeat.
    """

    family_id: str
    user_id: str
    tenant: str
    current_hash: str
    issued_at: float
    expires_at: float
    idle_expires_at: float
    used: tuple[str, ...] = ()
    revoked: bool = False
    entra_sid: str | None = None
    directory: str | None = None
    successor: str | None = None

    @property
    def started(self) -> float:
        """When the sign-in that began the family happened: its absolute expiry, fixed
        at the start, less the one lifetime every family gets."""
        return self.expires_at - REFRESH_ABSOLUTE_TTL


@dataclass(frozen=True)
class RefreshTokenId:
    """What a refresh token says about itself: where its family is. Not a credential."""

    user_id: str
    family_id: str


def new_refresh_token(user_id: str, family_id: str) -> tuple[str, str]:
    """(token for the client, sha256 hex to store). Only the hash is ever stored."""
    if not _USER_ID.fullmatch(user_id) or not _FAMILY_ID.fullmatch(family_id):
        raise ValueError("a refresh token names a well-formed user id and family id")
    token = f"{user_id}.{family_id}.{secrets.token_urlsafe(32)}"
    return token, hash_refresh_token(token)


def parse_refresh_token(token: str) -> RefreshTokenId | None:
    """The family a token names, or None when it has not our shape."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    user_id, family_id, secret = parts
    if not (
        _USER_ID.fullmatch(user_id)
        and _FAMILY_ID.fullmatch(family_id)
        and _SECRET.fullmatch(secret)
    ):
        return None
    return RefreshTokenId(user_id=user_id, family_id=family_id)


def new_family_id() -> str:
    return secrets.token_urlsafe(16)


def start_family(
    *,
    user_id: str,
    tenant: str,
    now: float,
    entra_sid: str | None = None,
    directory: str | None = None,
    idle_ttl: float = REFRESH_IDLE_TTL,
) -> tuple[RefreshFamily, str]:
    """A new family (a sign-in) and its first token; the family id is the session's `sid`."""
    family_id = new_family_id()
    token, token_hash = new_refresh_token(user_id, family_id)
    expires_at = now + REFRESH_ABSOLUTE_TTL
    family = RefreshFamily(
        family_id=family_id,
        user_id=user_id,
        tenant=tenant,
        current_hash=token_hash,
        issued_at=now,
        expires_at=expires_at,
        idle_expires_at=min(now + idle_ttl, expires_at),
        entra_sid=entra_sid,
        directory=directory.lower() if directory else None,
    )
    return family, token


def rotated(
    family: RefreshFamily,
    *,
    presented: str,
    now: float,
    repeatable: bool = False,
    idle_ttl: float = REFRESH_IDLE_TTL,
) -> tuple[RefreshFamily, str]:
    """The family after a rotation of its current token `presented`, and the new token:
    the current token joins the used ones, the idle window slides, the absolute expiry
    stays. Only a `repeatable` rotation (one where repeats are allowed) seals the new
    token for a repeat of `presented`; any other clears the last one's, so a token
    rotated at the token endpoint can never come back as a repeat elsewhere."""
    token, token_hash = new_refresh_token(family.user_id, family.family_id)
    used = (_fingerprint(family.current_hash), *family.used)[:USED_TOKENS_KEPT]
    successor = replace(
        family,
        current_hash=token_hash,
        issued_at=now,
        idle_expires_at=min(now + idle_ttl, family.expires_at),
        used=used,
        successor=(
            seal_successor(token, under=presented, family_id=family.family_id)
            if repeatable
            else None
        ),
    )
    return successor, token


def _successor_key(token: str) -> bytes:
    # Another hash than the stored one (sha256 of the token alone): the row gives no key.
    return hashlib.sha256(f"entrabridge refresh successor|{token}".encode()).digest()


def seal_successor(token: str, *, under: str, family_id: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_successor_key(under)).encrypt(nonce, token.encode(), family_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_successor(family: RefreshFamily, *, presented: str) -> str | None:
    """The successor `presented` was rotated into, if it is still the current token."""
    if not family.successor:
        return None
    try:
        raw = base64.urlsafe_b64decode(family.successor)
        token = (
            AESGCM(_successor_key(presented))
            .decrypt(raw[:12], raw[12:], family.family_id.encode())
            .decode("utf-8")
        )
    except (InvalidTag, ValueError, binascii.Error):
        return None
    current = hmac.compare_digest(hash_refresh_token(token), family.current_hash)
    return token if current else None


@dataclass(frozen=True)
class Rotate:
    """Good: replace the family's current token (only if the family is unchanged)."""

    family: RefreshFamily


@dataclass(frozen=True)
class Refuse:
    """Refuse the grant; nothing to change."""

    reason: str

    def error(self) -> InvalidGrant:
        return InvalidGrant(self.reason)


@dataclass(frozen=True)
class RevokeFamily:
    """A used token came back: someone holds a copy. Revoke the family, then refuse."""

    family: RefreshFamily
    reason: str = "The refresh token was already used; the session is revoked."

    def error(self) -> InvalidGrant:
        return InvalidGrant(self.reason)


@dataclass(frozen=True)
class Repeat:
    """The token the last rotation replaced, back within the window where repeats are
    allowed: answer with that rotation's successor (`open_successor`), change nothing."""

    family: RefreshFamily


RefreshDecision = Rotate | Refuse | RevokeFamily | Repeat


def decide_refresh(
    family: RefreshFamily | None, token_hash: str, *, now: float, repeat_within: float = 0.0
) -> RefreshDecision:
    """What presenting the token with `token_hash` to `family` (its stored family) means;
    `repeat_within`: seconds after a rotation in which the token it replaced is a
    repeat (0: never, every reuse ends the family)."""
    if family is None:
        return Refuse("The refresh token is not valid.")
    current = hmac.compare_digest(token_hash, family.current_hash)
    used = not current and _fingerprint(token_hash) in family.used
    if not current and not used:
        # Names a real family but is none of its tokens: a guess, not a leak. Revoking
        # here would let anyone who saw a session id end that session.
        return Refuse("The refresh token is not valid.")
    if family.revoked:
        return Refuse("The refresh token was revoked.")
    if now >= family.expires_at:
        return Refuse("The refresh token has expired.")
    # Reuse is checked before the idle window: the family's newest token may still be
    # alive even when this old one idled out.
    if used:
        just_replaced = family.used[0] == _fingerprint(token_hash)
        in_window = repeat_within > 0 and now - family.issued_at <= repeat_within
        if just_replaced and in_window and family.successor:
            return Repeat(family)
        return RevokeFamily(family)
    if now >= family.idle_expires_at:
        return Refuse("The refresh token expired after inactivity.")
    return Rotate(family)


class RefreshConflict(Exception):
    """A rotation lost a race: the family changed since it was read (treat as reuse)."""
