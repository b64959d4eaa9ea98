"""Session access tokens, refresh-token decisions and cookies: pure, fixed clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.entra.id_tokens import validate_id_token
from shared.errors import InvalidGrant, InvalidIdToken, Unauthorized
from shared.sessions.access import (
    ACCESS_TOKEN_AUDIENCE,
    SessionClaims,
    UnknownSessionKey,
    issue_access_token,
    session_issuer,
    verify_access_token,
    verify_with_key_source,
)
from shared.sessions.cookies import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    clear_session_cookies,
    parse_cookie_header,
    session_cookies,
)
from shared.sessions.keys import PublicKey, SigningKey, generate_private_key_pem
from shared.sessions.refresh import (
    REPEAT_WINDOW,
    USED_TOKENS_KEPT,
    RefreshFamily,
    Refuse,
    Repeat,
    RevokeFamily,
    Rotate,
    decide_refresh,
    hash_refresh_token,
    open_successor,
    parse_refresh_token,
    rotated,
    start_family,
)

NOW = 1_795_000_000.0
ISSUER = session_issuer("https://auth.example.com")
KEY = SigningKey.from_pem("3f1c0a9e5b7d4e2f8a6c1b0d9e7f5a3c", generate_private_key_pem())
OTHER_KEY = SigningKey.from_pem("0badc0de0badc0de0badc0de0badc0de", generate_private_key_pem())
KEYS: Mapping[str, PublicKey] = {KEY.kid: KEY.public_key}
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CLAIMS = SessionClaims(
    sub="u-123",
    tenant="acme",
    sid="family-1",
    provider="microsoft",
    customer_id="46478538-4689-45b5-994c-d12a49c354b0",
    email="ada@example.com",
    name="Ada Lovelace",
    profiles=("aaaaaaaa-0000-0000-0000-000000000001",),
    roles=("tenant_admin",),
)


def issue(now: float = NOW, **overrides: Any) -> str:
    return issue_access_token(key=KEY, claims=CLAIMS, issuer=ISSUER, now=now, **overrides)


def verify(raw: str, *, now: float = NOW, keys: Mapping[str, PublicKey] = KEYS) -> SessionClaims:
    return verify_access_token(
        raw, keys=keys, issuer=ISSUER, audience=ACCESS_TOKEN_AUDIENCE, now=now
    )


def payload(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": ACCESS_TOKEN_AUDIENCE,
        "sub": "u-123",
        "tenant": "acme",
        "customer_id": None,
        "email": "ada@example.com",
        "name": "Ada",
        "profiles": [],
        "roles": [],
        "provider": "microsoft",
        "sid": "family-1",
        "iat": int(NOW),
        "exp": int(NOW) + 900,
        "jti": "j-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def forge(claims: dict[str, Any], *, key: Any = None, alg: str = "ES256", **header: Any) -> str:
    headers = {"kid": KEY.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key or KEY.private_key, algorithm=alg, headers=headers)


def refused(raw: str, **kwargs: Any) -> str:
    with pytest.raises(Unauthorized) as caught:
        verify(raw, **kwargs)
    assert caught.value.code == "unauthorized"
    if raw:
        assert raw not in caught.value.description
    return caught.value.description


# --- access tokens --------------------------------------------------------------------------


def test_an_issued_token_verifies_to_the_same_claims_with_times_and_jti() -> None:
    claims = verify(issue())
    assert claims.sub == "u-123" and claims.tenant == "acme" and claims.sid == "family-1"
    assert claims.provider == "microsoft"
    assert claims.customer_id == CLAIMS.customer_id
    assert (claims.email, claims.name) == ("ada@example.com", "Ada Lovelace")
    assert claims.profiles == CLAIMS.profiles
    assert claims.roles == ("tenant_admin",) and claims.has_role("tenant_admin")
    assert (claims.iat, claims.exp) == (int(NOW), int(NOW) + 900)
    assert len(claims.jti) >= 16


def test_each_token_gets_its_own_jti() -> None:
    assert verify(issue()).jti != verify(issue()).jti


def test_the_header_names_the_key_version_and_the_access_token_type() -> None:
    header = jwt.get_unverified_header(issue())
    assert header == {"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}


def test_the_payload_carries_every_contract_claim() -> None:
    claims = jwt.decode(issue(), options={"verify_signature": False})
    assert set(claims) == {
        "iss", "aud", "sub", "tenant", "customer_id", "email", "name",
        "profiles", "roles", "provider", "sid", "iat", "exp", "jti",
    }  # fmt: skip
    assert claims["iss"] == "https://auth.example.com"
    assert claims["aud"] == "entrabridge"


def test_the_ttl_sets_the_expiry() -> None:
    assert verify(issue(ttl=60)).exp == int(NOW) + 60


def test_a_token_is_accepted_within_the_leeway_after_expiry() -> None:
    assert verify(issue(), now=NOW + 900 + 29).sub == "u-123"


def test_an_expired_token_is_refused() -> None:
    assert "expired (exp)" in refused(issue(), now=NOW + 900 + 31)


def test_a_token_issued_in_the_future_is_refused() -> None:
    assert "future (iat)" in refused(issue(now=NOW + 120))


def test_a_token_from_another_issuer_is_refused() -> None:
    raw = issue_access_token(key=KEY, claims=CLAIMS, issuer="https://evil.example", now=NOW)
    assert "(iss)" in refused(raw)


def test_a_token_for_another_audience_is_refused() -> None:
    raw = issue_access_token(key=KEY, claims=CLAIMS, issuer=ISSUER, audience="other", now=NOW)
    assert "(aud)" in refused(raw)


def test_an_audience_list_that_includes_ours_is_refused() -> None:
    assert "(aud)" in refused(forge(payload(aud=["other", ACCESS_TOKEN_AUDIENCE])))


def test_a_token_signed_with_a_key_we_do_not_hold_is_refused_as_unknown_kid() -> None:
    raw = issue_access_token(key=OTHER_KEY, claims=CLAIMS, issuer=ISSUER, now=NOW)
    with pytest.raises(UnknownSessionKey) as caught:
        verify(raw)
    assert caught.value.kid == OTHER_KEY.kid
    assert "(kid)" in caught.value.description


def test_a_token_without_kid_is_refused() -> None:
    raw = jwt.encode(payload(), KEY.private_key, algorithm="ES256", headers={"typ": "at+jwt"})
    assert "no key id (kid)" in refused(raw)


def test_another_key_claiming_our_kid_fails_the_signature() -> None:
    assert "signature" in refused(forge(payload(), key=OTHER_KEY.private_key))


def test_a_tampered_payload_fails_the_signature() -> None:
    header, _, signature = issue().split(".")
    claims = jwt.decode(issue(), options={"verify_signature": False})
    claims["tenant"] = "other-tenant"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "signature" in refused(f"{header}.{body}.{signature}")


def test_an_rs256_token_is_refused_before_any_key_is_used() -> None:
    raw = forge(payload(), key=RSA_KEY, alg="RS256")
    assert "algorithm" in refused(raw)


def test_an_hs256_token_keyed_with_our_public_key_is_refused() -> None:
    # The classic confusion attack: the public key's bytes used as an HMAC secret.
    public_pem = KEY.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "kid": KEY.kid, "typ": "at+jwt"})
    body = _b64(payload())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert "algorithm" in refused(f"{header}.{body}.{sig}")


def test_an_unsigned_alg_none_token_is_refused() -> None:
    raw = f"{_b64({'alg': 'none', 'kid': KEY.kid, 'typ': 'at+jwt'})}.{_b64(payload())}."
    assert "algorithm" in refused(raw)


def test_an_es384_token_is_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert "algorithm" in refused(forge(payload(), key=p384, alg="ES384"))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "id_token", "at+jwt2"])
def test_a_token_of_another_type_is_refused(typ: str) -> None:
    assert "(typ)" in refused(forge(payload(), typ=typ))


def test_a_token_without_a_type_is_refused() -> None:
    # An empty typ makes PyJWT leave the header out.
    raw = forge(payload(), typ="")
    assert "typ" not in jwt.get_unverified_header(raw)
    assert "(typ)" in refused(raw)


def test_the_media_type_form_of_at_jwt_is_accepted() -> None:
    raw = forge(payload(), typ="application/at+jwt")
    assert verify(raw).sub == "u-123"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_headers_that_point_at_other_keys_are_refused(name: str) -> None:
    assert f"'{name}'" in refused(forge(payload(), **{name: "https://evil.example/keys"}))


def test_a_token_demanding_unknown_extensions_is_refused() -> None:
    refused(forge(payload(), crit=["exp"]))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub", "tenant", "sid", "jti"])
def test_a_token_missing_a_required_claim_is_refused(claim: str) -> None:
    assert f"'{claim}'" in refused(forge(payload(**{claim: ...})))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("provider", "google"),
        ("profiles", "not-a-list"),
        ("roles", [1, 2]),
        ("sub", ""),
        ("email", 42),
        ("exp", "soon"),
        ("exp", True),
    ],
)
def test_a_token_with_a_malformed_claim_is_refused(claim: str, value: object) -> None:
    assert f"'{claim}'" in refused(forge(payload(**{claim: value})))


def test_garbage_is_refused_as_malformed() -> None:
    assert "malformed" in refused("not.a.jwt")
    assert "malformed" in refused("")


def test_an_entra_id_token_is_refused() -> None:
    entra_kid = "entra-key-1"
    id_token = jwt.encode(
        {
            "iss": "https://login.microsoftonline.com/7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc/v2.0",
            "aud": "550e8400-e29b-41d4-a716-446655440000",
            "sub": "u-123",
            "tenant": "acme",
            "sid": "s",
            "jti": "j",
            "ver": "2.0",
            "iat": int(NOW),
            "exp": int(NOW) + 3600,
        },
        RSA_KEY,
        algorithm="RS256",
        headers={"kid": entra_kid, "typ": "JWT"},
    )
    # Even with the directory's key in the same key map, alg and typ refuse it.
    keys: dict[str, Any] = {KEY.kid: KEY.public_key, entra_kid: RSA_KEY.public_key()}
    with pytest.raises(Unauthorized, match="algorithm"):
        verify_access_token(id_token, keys=keys, issuer=ISSUER, now=NOW)


def test_our_access_token_is_not_an_entra_id_token() -> None:
    with pytest.raises(InvalidIdToken):
        validate_id_token(
            issue(),
            keys={KEY.kid: KEY.public_key},
            issuer_host=ISSUER,
            tenant_id="7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc",
            client_id=ACCESS_TOKEN_AUDIENCE,
            nonce_hash="n",
            now=NOW,
        )


class _Ring:
    """A key source whose first answer is stale (a rotation made elsewhere)."""

    def __init__(self) -> None:
        self.asked_for: list[str | None] = []

    def verification_keys(self, *, kid: str | None = None) -> Mapping[str, PublicKey]:
        self.asked_for.append(kid)
        if kid is None:
            return {KEY.kid: KEY.public_key}
        return {KEY.kid: KEY.public_key, OTHER_KEY.kid: OTHER_KEY.public_key}


def test_a_token_from_a_newer_key_verifies_after_one_key_refresh() -> None:
    ring = _Ring()
    raw = issue_access_token(key=OTHER_KEY, claims=CLAIMS, issuer=ISSUER, now=NOW)
    assert verify_with_key_source(raw, source=ring, issuer=ISSUER, now=NOW).sub == "u-123"
    assert ring.asked_for == [None, OTHER_KEY.kid]


def test_a_known_kid_needs_no_key_refresh() -> None:
    ring = _Ring()
    verify_with_key_source(issue(), source=ring, issuer=ISSUER, now=NOW)
    assert ring.asked_for == [None]


def test_an_unknown_kid_still_refused_after_the_refresh() -> None:
    stranger = SigningKey.from_pem("feedfeedfeedfeedfeedfeedfeedfeed", generate_private_key_pem())
    raw = issue_access_token(key=stranger, claims=CLAIMS, issuer=ISSUER, now=NOW)
    with pytest.raises(UnknownSessionKey):
        verify_with_key_source(raw, source=_Ring(), issuer=ISSUER, now=NOW)


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# --- refresh tokens ------------------------------------------------------------------------

DAY = 24 * 3600.0
USER = "0b9f3c7e-5d1a-4e8b-9c2f-6a7d8e9f0a1b"


def family(**overrides: Any) -> tuple[RefreshFamily, str]:
    """A family whose current token is the returned one."""
    first, token = start_family(user_id=USER, tenant="acme", now=NOW - DAY, entra_sid="sid")
    return replace(first, **overrides), token


def test_a_refresh_token_names_its_family_and_only_its_hash_is_kept() -> None:
    first, token = start_family(user_id=USER, tenant="acme", now=NOW)
    other, other_token = start_family(user_id=USER, tenant="acme", now=NOW)
    assert token != other_token and first.family_id != other.family_id
    assert first.current_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(first)
    named = parse_refresh_token(token)
    assert named is not None and (named.user_id, named.family_id) == (USER, first.family_id)
    assert len(token.rsplit(".", 1)[1]) == 43  # 256 random bits


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", f"{USER}..x", f"{USER}.{'f' * 22}.short", "x" * 200],
)
def test_a_token_without_our_shape_names_no_family(token: str) -> None:
    assert parse_refresh_token(token) is None


def test_the_current_token_rotates() -> None:
    current, token = family()
    assert decide_refresh(current, hash_refresh_token(token), now=NOW) == Rotate(current)


def test_an_unknown_family_is_refused() -> None:
    decision = decide_refresh(None, hash_refresh_token("x"), now=NOW)
    assert isinstance(decision, Refuse)
    assert isinstance(decision.error(), InvalidGrant)


def test_a_made_up_token_naming_a_real_family_is_refused_without_revoking_it() -> None:
    # The family id is the session's `sid`, visible in access tokens: knowing it must
    # not be enough to end someone's session.
    current, token = family()
    forged = token.rsplit(".", 1)[0] + "." + "A" * 43
    decision = decide_refresh(current, hash_refresh_token(forged), now=NOW)
    assert isinstance(decision, Refuse) and "not valid" in decision.reason


def test_a_reused_token_revokes_its_whole_family() -> None:
    first, old = family()
    second, new = rotated(first, presented=old, now=NOW)
    decision = decide_refresh(second, hash_refresh_token(old), now=NOW)
    assert isinstance(decision, RevokeFamily)
    assert decision.family.family_id == first.family_id
    assert decision.error().code == "invalid_grant"
    assert isinstance(decide_refresh(second, hash_refresh_token(new), now=NOW), Rotate)


def test_where_allowed_the_token_just_replaced_is_a_repeat_for_30_seconds() -> None:
    first, old = family()
    second, new = rotated(first, presented=old, now=NOW, repeatable=True)
    repeat = decide_refresh(second, hash_refresh_token(old), now=NOW + 30, repeat_within=30)
    assert isinstance(repeat, Repeat)
    assert open_successor(repeat.family, presented=old) == new
    late = decide_refresh(second, hash_refresh_token(old), now=NOW + 31, repeat_within=30)
    assert isinstance(late, RevokeFamily)
    # Two rotations on, the first token is no repeat: it was not the one just replaced.
    third, _ = rotated(second, presented=new, now=NOW + 1, repeatable=True)
    older = decide_refresh(third, hash_refresh_token(old), now=NOW + 1, repeat_within=30)
    assert isinstance(older, RevokeFamily)
    assert REPEAT_WINDOW == 30


def test_a_rotation_where_repeats_are_not_allowed_keeps_no_successor() -> None:
    # The token endpoint's rotations: their replaced token is a reuse on every route.
    first, old = family()
    sealed, new = rotated(first, presented=old, now=NOW, repeatable=True)
    plain, _ = rotated(sealed, presented=new, now=NOW + 1)
    assert plain.successor is None
    decision = decide_refresh(plain, hash_refresh_token(new), now=NOW + 2, repeat_within=30)
    assert isinstance(decision, RevokeFamily)


def test_the_stored_successor_opens_only_with_the_token_it_replaced() -> None:
    first, old = family()
    second, new = rotated(first, presented=old, now=NOW, repeatable=True)
    assert second.successor is not None and new not in second.successor
    assert open_successor(second, presented=new) is None
    other = old.rsplit(".", 1)[0] + "." + "A" * 43  # the family id is no secret
    assert open_successor(second, presented=other) is None
    tampered = replace(second, successor=second.successor[:-4] + "AAAA")
    assert open_successor(tampered, presented=old) is None
    # Sealed for another family (its id is bound in), it does not open here either.
    assert open_successor(replace(second, family_id="B" * 22), presented=old) is None


def test_a_reused_token_revokes_the_family_even_after_its_idle_window() -> None:
    # Its successor may still be alive: the replay is the signal that matters.
    first, old = family()
    second, _ = rotated(first, presented=old, now=NOW)
    decision = decide_refresh(
        replace(second, idle_expires_at=NOW - 1), hash_refresh_token(old), now=NOW
    )
    assert isinstance(decision, RevokeFamily)


def test_reuse_is_recognised_for_the_last_100_rotations_then_only_refused() -> None:
    current, token = family()
    tokens = [token]
    for step in range(USED_TOKENS_KEPT + 1):
        current, token = rotated(current, presented=token, now=NOW + step)
        tokens.append(token)
    assert len(current.used) == USED_TOKENS_KEPT
    recent = decide_refresh(current, hash_refresh_token(tokens[1]), now=NOW + 200)
    assert isinstance(recent, RevokeFamily)
    oldest = decide_refresh(current, hash_refresh_token(tokens[0]), now=NOW + 200)
    assert isinstance(oldest, Refuse)


def test_a_token_of_a_revoked_family_is_refused() -> None:
    current, token = family(revoked=True)
    second, _ = rotated(current, presented=token, now=NOW)
    for presented, stored in ((token, current), (token, second)):
        decision = decide_refresh(stored, hash_refresh_token(presented), now=NOW)
        assert isinstance(decision, Refuse) and "revoked" in decision.reason


def test_a_token_past_the_family_lifetime_is_refused() -> None:
    current, token = family(expires_at=NOW)
    decision = decide_refresh(current, hash_refresh_token(token), now=NOW)
    assert isinstance(decision, Refuse) and "expired" in decision.reason


def test_a_reused_token_past_the_family_lifetime_is_only_refused() -> None:
    first, old = family(expires_at=NOW + 10)
    second, _ = rotated(first, presented=old, now=NOW)
    decision = decide_refresh(second, hash_refresh_token(old), now=NOW + 10)
    assert isinstance(decision, Refuse)


def test_a_token_idle_too_long_is_refused() -> None:
    current, token = family(idle_expires_at=NOW - 1)
    decision = decide_refresh(current, hash_refresh_token(token), now=NOW)
    assert isinstance(decision, Refuse) and "inactivity" in decision.reason


def test_a_family_starts_with_a_30_day_lifetime_and_7_day_idle_window() -> None:
    first, _ = start_family(user_id=USER, tenant="acme", now=NOW, entra_sid="entra-sid")
    assert first.expires_at == NOW + 30 * DAY
    assert first.idle_expires_at == NOW + 7 * DAY
    assert (first.used, first.revoked, first.entra_sid) == ((), False, "entra-sid")


def test_rotation_slides_the_idle_window_but_never_past_the_family_lifetime() -> None:
    current, token = family(expires_at=NOW + 3 * DAY)
    successor, new_token = rotated(current, presented=token, now=NOW)
    assert successor.family_id == current.family_id
    assert successor.expires_at == current.expires_at
    assert successor.idle_expires_at == NOW + 3 * DAY
    assert successor.current_hash == hash_refresh_token(new_token) != current.current_hash
    assert successor.used == (hash_refresh_token(token)[:16],)
    fresh, fresh_token = family()
    assert rotated(fresh, presented=fresh_token, now=NOW)[0].idle_expires_at == NOW + 7 * DAY


# --- cookies -------------------------------------------------------------------------------


def attributes(cookie: str) -> tuple[str, str, dict[str, str]]:
    first, *rest = [part.strip() for part in cookie.split(";")]
    name, _, value = first.partition("=")
    attrs = {k.lower(): v for k, _, v in (part.partition("=") for part in rest)}
    return name, value, attrs


def test_session_cookies_are_host_prefixed_http_only_secure_and_lax() -> None:
    cookies = session_cookies("access.tok.en", "refresh-token", access_ttl=900, refresh_ttl=86400)
    parsed = [attributes(cookie) for cookie in cookies]
    assert [(name, value) for name, value, _ in parsed] == [
        (ACCESS_COOKIE, "access.tok.en"),
        (REFRESH_COOKIE, "refresh-token"),
    ]
    assert ACCESS_COOKIE.startswith("__Host-") and REFRESH_COOKIE.startswith("__Host-")
    for _, _, attrs in parsed:
        assert attrs["path"] == "/"
        assert "httponly" in attrs and "secure" in attrs
        assert attrs["samesite"] == "Lax"
        assert "domain" not in attrs
    assert [attrs["max-age"] for _, _, attrs in parsed] == ["900", "86400"]


def test_clearing_sets_both_cookies_empty_and_expired() -> None:
    cleared = [attributes(cookie) for cookie in clear_session_cookies()]
    assert [(name, value, attrs["max-age"]) for name, value, attrs in cleared] == [
        (ACCESS_COOKIE, "", "0"),
        (REFRESH_COOKIE, "", "0"),
    ]
    assert all(attrs["path"] == "/" and "secure" in attrs for _, _, attrs in cleared)


def test_a_value_that_would_inject_cookie_attributes_is_refused() -> None:
    with pytest.raises(ValueError):
        session_cookies("tok; Domain=evil.example", "r", access_ttl=900, refresh_ttl=60)


def test_the_cookie_parser_reads_the_session_cookies() -> None:
    header = f"{ACCESS_COOKIE}=a.b.c; {REFRESH_COOKIE}=r-1"
    assert parse_cookie_header(header) == {ACCESS_COOKIE: "a.b.c", REFRESH_COOKIE: "r-1"}


def test_the_cookie_parser_skips_garbage_and_keeps_the_rest() -> None:
    header = f'junk; =novalue; bad name=1; "quoted; theme="dark"; {ACCESS_COOKIE}=tok; ;;'
    assert parse_cookie_header(header) == {"theme": "dark", ACCESS_COOKIE: "tok"}


def test_the_cookie_parser_keeps_the_first_of_duplicate_names() -> None:
    assert parse_cookie_header(f"{ACCESS_COOKIE}=first; {ACCESS_COOKIE}=second") == {
        ACCESS_COOKIE: "first"
    }


def test_the_cookie_parser_accepts_no_header() -> None:
    assert parse_cookie_header(None) == {} and parse_cookie_header("") == {}


def test_the_cookie_parser_reads_a_bounded_number_of_pairs() -> None:
    header = "; ".join(f"c{i}=v" for i in range(10_000))
    assert len(parse_cookie_header(header)) <= 64
