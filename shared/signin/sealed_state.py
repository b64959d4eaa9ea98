"""The sign-in attempt sealed into its own OAuth `state`: authorize writes nothing.

The state carries the whole auth transaction (MSAL's flow: nonce, PKCE verifier,
redirect URI; the mode, where to return, the browser binding, the expiry),
encrypted and authenticated with AES-256-GCM under a key kept in Key Vault
(`signin-state-key`, a `KeyRing`: the current version seals, it and the previous
one open). The tenant is bound in as associated data, so a state opens only at
its own tenant's callback. What the browser sees is opaque; what comes back is
either exactly what we sealed or refused (`InvalidState`). Single use is the
callback's job: it writes the state's "used" row in the sign-in's own
transaction (shared.store.used_states).

Format: `s1.<kid>.<base64url(nonce || ciphertext || tag)>`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.errors import InvalidState
from shared.secret import Secret
from shared.signin.transaction import AuthTransaction
from shared.store.key_ring import KeyKind

STATE_KEY_SECRET = "signin-state-key"  # noqa: S105 (a name, not a secret)
# A return_to may be 2,048 characters; with the flow around it a state stays well
# under this (Entra returns the state as it was sent).
MAX_STATE_LENGTH = 4096
_PREFIX = "s1"
_KID = re.compile(r"[0-9a-f]{32}")
_NONCE_BYTES = 12
# What of MSAL's flow the state need not carry: the state itself, and the URL.
_NOT_SEALED = ("state", "auth_uri")


@dataclass(frozen=True)
class StateKey:
    kid: str
    aead: AESGCM = field(repr=False)
    # Derived from the same secret for the settings pages' CSRF tokens (HKDF: the
    # AES key itself is never used for anything else).
    csrf_key: bytes = field(default=b"", repr=False)


def parse_state_key(kid: str, value: Secret) -> StateKey:
    try:
        raw = base64.b64decode(value.reveal(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError("a sign-in state key is 32 bytes (AES-256)")
    csrf_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"entrabridge settings csrf"
    ).derive(raw)
    return StateKey(kid=kid, aead=AESGCM(raw), csrf_key=csrf_key)


def generate_state_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


STATE_KEYS = KeyKind(
    secret_name=STATE_KEY_SECRET,
    what="sign-in state key",
    parse=parse_state_key,
    generate=generate_state_key,
    content_type="application/octet-stream;base64",
    tags={"alg": "A256GCM"},
)


def seal(transaction: AuthTransaction, key: StateKey) -> str:
    """The state that carries `transaction` (its `state` field is not used)."""
    payload = {
        "m": transaction.mode,
        "r": transaction.return_to,
        "b": transaction.browser_binding,
        "c": int(transaction.created_at.timestamp()),
        "e": int(transaction.expires_at.timestamp()),
        "f": {k: v for k, v in transaction.msal_flow.items() if k not in _NOT_SEALED},
    }
    plain = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.aead.encrypt(nonce, plain, _associated(key.kid, transaction.tenant))
    return f"{_PREFIX}.{key.kid}.{_b64url(nonce + sealed)}"


def open_state(
    state: str, *, tenant: str, keys: Callable[[str], Mapping[str, StateKey]]
) -> AuthTransaction:
    """The transaction sealed into `state` at `tenant`'s authorize, or `InvalidState`
    (not ours, altered, another tenant's, made with a key no longer kept). Expiry is
    the caller's to check (`expires_at`), with its own clock."""
    parts = state.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or not _KID.fullmatch(parts[1]):
        raise InvalidState()
    kid = parts[1]
    key = keys(kid).get(kid)
    if key is None:
        raise InvalidState()
    try:
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        # One spelling per state: the decoder skips foreign characters and spare
        # bits, and a state spelled otherwise would open the same attempt under
        # another used-state key (a replay).
        if _b64url(raw) != parts[2]:
            raise ValueError("not the canonical spelling")
        plain = key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(kid, tenant))
        payload = json.loads(plain)
        return _transaction(payload, tenant=tenant, state=state)
    except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
        raise InvalidState() from None


def with_state(auth_uri: str, state: str) -> str:
    """MSAL's authorization URL with our sealed state in place of its own."""
    parts = urlsplit(auth_uri)
    query = [(k, state if k == "state" else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _transaction(payload: Any, *, tenant: str, state: str) -> AuthTransaction:
    # Only we can have sealed it, so a shape error is a bug of ours or an old format:
    # refused all the same.
    mode, flow = payload["m"], payload["f"]
    if mode not in ("redirect", "json") or not isinstance(flow, dict):
        raise ValueError("not a sealed transaction")
    binding = payload["b"]
    return AuthTransaction(
        tenant=tenant,
        state=state,
        msal_flow={**flow, "state": state},
        mode=mode,
        return_to=str(payload["r"]),
        browser_binding=str(binding) if binding is not None else None,
        created_at=dt.datetime.fromtimestamp(int(payload["c"]), dt.UTC),
        expires_at=dt.datetime.fromtimestamp(int(payload["e"]), dt.UTC),
    )


def _associated(kid: str, tenant: str) -> bytes:
    return f"entrabridge-state|{kid}|{tenant}".encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
