"""The sealed sign-in state: what authorize seals comes back exactly, and anything
else (altered, another tenant's, another key's, made up) is `invalid_state`."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidState
from shared.secret import Secret
from shared.signin.sealed_state import (
    MAX_STATE_LENGTH,
    StateKey,
    generate_state_key,
    open_state,
    parse_state_key,
    seal,
    with_state,
)
from shared.signin.transaction import AuthTransaction

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
KID, OTHER_KID = "a" * 32, "b" * 32
KEY = parse_state_key(KID, Secret(generate_state_key()))
OTHER_KEY = parse_state_key(OTHER_KID, Secret(generate_state_key()))
FLOW = {
    "state": "msal-own-state",
    "auth_uri": "https://login.example/authorize?state=msal-own-state",
    "redirect_uri": "https://auth.example.com/api/auth/acme/callback",
    "scope": ["openid", "profile", "offline_access"],
    "code_verifier": "v" * 43,
    "nonce": "n0nce",
    "claims_challenge": None,
}


def transaction(**changes: object) -> AuthTransaction:
    values: dict[str, object] = {
        "tenant": "acme",
        "state": "",
        "msal_flow": FLOW,
        "mode": "redirect",
        "return_to": "https://app.example.com/after?x=1",
        "browser_binding": "f" * 64,
        "created_at": NOW,
        "expires_at": NOW + dt.timedelta(minutes=10),
        **changes,
    }
    return AuthTransaction(**values)  # type: ignore[arg-type]


def keys(*known: StateKey) -> Callable[[str], Mapping[str, StateKey]]:
    by_kid: Mapping[str, StateKey] = {key.kid: key for key in known}
    return lambda kid: by_kid


def test_what_is_sealed_opens_as_it_was_with_the_state_in_the_flow() -> None:
    state = seal(transaction(), KEY)
    opened = open_state(state, tenant="acme", keys=keys(KEY))
    assert opened == transaction(
        state=state,
        msal_flow={k: v for k, v in FLOW.items() if k != "auth_uri"} | {"state": state},
    )
    assert "n0nce" not in state and "app.example.com" not in state  # encrypted, not encoded


def test_a_json_mode_attempt_carries_no_binding() -> None:
    state = seal(transaction(mode="json", browser_binding=None), KEY)
    opened = open_state(state, tenant="acme", keys=keys(KEY))
    assert (opened.mode, opened.browser_binding) == ("json", None)


def test_two_seals_of_one_attempt_differ() -> None:
    assert seal(transaction(), KEY) != seal(transaction(), KEY)


def test_a_state_opens_only_at_its_own_tenant() -> None:
    state = seal(transaction(), KEY)
    with pytest.raises(InvalidState):
        open_state(state, tenant="globex", keys=keys(KEY))


def test_the_previous_key_still_opens_and_an_unknown_one_does_not() -> None:
    state = seal(transaction(), OTHER_KEY)
    assert open_state(state, tenant="acme", keys=keys(KEY, OTHER_KEY))
    with pytest.raises(InvalidState):
        open_state(state, tenant="acme", keys=keys(KEY))


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_altered_character_is_refused(position: int) -> None:
    state = seal(transaction(), KEY)
    prefix, kid, body = state.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    altered = f"{prefix}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(InvalidState):
        open_state(altered, tenant="acme", keys=keys(KEY))


def test_a_longest_return_to_still_fits_in_a_state() -> None:
    state = seal(transaction(return_to="https://app.example.com/" + "p" * 2024), KEY)
    assert len(state) <= MAX_STATE_LENGTH


def test_a_state_key_must_be_32_bytes_of_base64() -> None:
    for bad in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            parse_state_key(KID, Secret(bad))
    assert repr(KEY) == f"StateKey(kid='{KID}')"  # never the key itself


def test_the_authorization_url_carries_our_state_instead_of_msals() -> None:
    url = with_state(str(FLOW["auth_uri"]) + "&scope=openid+profile", "s1.sealed")
    assert "state=s1.sealed" in url and "msal-own-state" not in url
    assert "scope=openid+profile" in url


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=600))
def test_any_text_is_refused_as_invalid_state_never_a_crash(text: str) -> None:
    with pytest.raises(InvalidState):
        open_state(text, tenant="acme", keys=keys(KEY))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=400))
def test_any_sealed_looking_body_is_refused(body: bytes) -> None:
    forged = f"s1.{KID}.{base64.urlsafe_b64encode(body).decode().rstrip('=')}"
    with pytest.raises(InvalidState):
        open_state(forged, tenant="acme", keys=keys(KEY))


@pytest.mark.parametrize(
    "respell",
    [
        lambda s: s + "~~~~",  # characters outside base64url, skipped by a lax decoder
        lambda s: s[:-10] + "!!!!" + s[-10:],
        lambda s: s + "==",  # padding
        lambda s: s[:-1] + chr(ord(s[-1]) ^ 1),  # spare low bits of the last character
    ],
)
def test_a_state_opens_only_as_it_was_spelled(respell: Callable[[str], str]) -> None:
    # Another spelling of the same bytes would open the same attempt under another
    # used-state key: a replay.
    state = seal(transaction(), KEY)
    other = respell(state)
    assert other != state
    with pytest.raises(InvalidState):
        open_state(other, tenant="acme", keys=keys(KEY))
