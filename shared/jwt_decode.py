"""The one PyJWT call both token validators make, and its errors in our words.

Pure. PyJWT's traps are handled here once (see pitfalls): claims it does not
check unless told (`require`), an audience list that merely contains ours
(`strict_aud`), and times read from the system clock (turned off: callers
check exp/nbf/iat against their injected clock, with a bounded leeway).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt


@dataclass(frozen=True)
class Refusals:
    """How a validator words each failure, and the exception it raises."""

    error: Callable[[str], Exception]
    what: str  # "The ID token", "The access token"
    audience: str  # what a wrong aud means, e.g. "is not for this application (aud)"
    issuer: str  # what a wrong iss means, e.g. "was not issued by this directory (iss)"


def decode_verified(
    raw: str,
    *,
    key: Any,
    algorithms: Sequence[str],
    audience: str,
    issuer: str,
    required: Sequence[str],
    refusals: Refusals,
) -> dict[str, Any]:
    """Claims of a token signed by `key` with one of `algorithms`, for exactly `audience`
    from exactly `issuer`, carrying every `required` claim; else `refusals.error`.
    Times are NOT checked here."""
    say = refusals.what
    try:
        claims: dict[str, Any] = jwt.decode(
            raw,
            key=key,
            algorithms=list(algorithms),
            audience=audience,
            issuer=issuer,
            options={
                "require": list(required),
                "strict_aud": True,
                "enforce_minimum_key_length": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as error:
        raise refusals.error(f"{say} has no '{error.claim}' claim.") from None
    except jwt.InvalidAudienceError:
        raise refusals.error(f"{say} {refusals.audience}.") from None
    except jwt.InvalidIssuerError:
        raise refusals.error(f"{say} {refusals.issuer}.") from None
    except jwt.InvalidSignatureError:
        raise refusals.error(f"{say}'s signature is not valid.") from None
    except jwt.InvalidKeyError:
        raise refusals.error(f"{say}'s signing key is not acceptable.") from None
    except jwt.PyJWTError as error:
        raise refusals.error(f"{say} is malformed ({type(error).__name__}).") from None
    return claims


# Header parameters that point at keys elsewhere, or demand extensions: never honoured
# (pitfalls: jku/x5u/jwk/x5c are never followed or trusted).
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c", "crit")


def checked_kid(
    header: Mapping[str, Any], *, algorithms: Collection[str], refusals: Refusals
) -> str:
    """The header's key id, once the algorithm is pinned (before any key is chosen, so
    a public key can never serve as an HMAC secret) and no header names a key
    elsewhere. The kid is only ever a key into an in-memory key set."""
    if header.get("alg") not in algorithms:
        raise refusals.error(f"{refusals.what} is signed with an algorithm that is not allowed.")
    for name in FORBIDDEN_HEADERS:
        if name in header:
            raise refusals.error(f"{refusals.what}'s header carries '{name}', which is refused.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise refusals.error(f"{refusals.what}'s header has no key id (kid).")
    return kid
