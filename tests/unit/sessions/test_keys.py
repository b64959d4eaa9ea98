"""The session signing key ring over an in-memory secret store.

The store here is a small fake because this file tests the ring's caching,
creation and rotation logic with a controllable clock and failure switch;
the real SecretStore against the Key Vault stand-in is covered in
tests/integration/test_session_keys.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.errors import ConfigurationError, SsoUnavailable, Unauthorized
from shared.secret import Secret
from shared.sessions.access import SessionClaims, issue_access_token, verify_access_token
from shared.sessions.keys import (
    CREATED_TAG,
    SESSION_KEY_SECRET,
    SessionKeyRing,
    SigningKey,
    generate_private_key_pem,
    jwks_document,
)
from shared.store.secrets import SESSION_KEY_NAME, SecretValue, SecretVersion

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
CLAIMS = SessionClaims(sub="u-1", tenant="acme", sid="f-1", provider="microsoft")
ISSUER = "https://auth.example.com"


class MemorySecrets:
    """Versions in memory, `created` at one-second resolution like Key Vault."""

    def __init__(self) -> None:
        self.versions: dict[str, list[SecretValue]] = {}
        self.now = T0
        self.down = False
        self.calls: dict[str, int] = {"get_secret_version": 0, "list_versions": 0, "set_secret": 0}
        self._lock = threading.Lock()

    def get_secret_version(self, name: str, version: str) -> SecretValue | None:
        self._call("get_secret_version")
        return next((v for v in self.versions.get(name, []) if v.version == version), None)

    def list_versions(self, name: str) -> list[SecretVersion]:
        self._call("list_versions")
        # Key Vault makes no promise about order; return oldest first to prove the
        # ring sorts for itself.
        return [v.properties for v in self.versions.get(name, [])]

    def set_secret(
        self,
        name: str,
        value: str | Secret,
        *,
        tags: Mapping[str, str] | None = None,
        expires_on: dt.datetime | None = None,
        content_type: str | None = None,
    ) -> SecretVersion:
        self._call("set_secret")
        text = value.reveal() if isinstance(value, Secret) else value
        properties = SecretVersion(
            name=name,
            version=uuid.uuid4().hex,
            enabled=True,
            created_on=self.now,
            expires_on=expires_on,
            tags=dict(tags or {}),
        )
        self.content_type = content_type
        with self._lock:
            self.versions.setdefault(name, []).append(SecretValue(Secret(text), properties))
        return properties

    def add(self, pem: str, *, enabled: bool = True, created: dt.datetime | None = None) -> str:
        version = uuid.uuid4().hex
        properties = SecretVersion(
            name=SESSION_KEY_SECRET,
            version=version,
            enabled=enabled,
            created_on=created or self.now,
            expires_on=None,
            tags={},
        )
        self.versions.setdefault(SESSION_KEY_SECRET, []).append(
            SecretValue(Secret(pem), properties)
        )
        return version

    def _call(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
        if self.down:
            raise SsoUnavailable("Key Vault could not be reached.")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> MemorySecrets:
    return MemorySecrets()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def store_time(store: MemorySecrets) -> Callable[[], float]:
    """The wall clock of the store's world (its versions are dated by `store.now`),
    a millisecond further at each reading, as a real clock moves between calls."""
    last = [0.0]

    def now() -> float:
        last[0] = max(last[0] + 0.001, store.now.timestamp())
        return last[0]

    return now


@pytest.fixture
def ring(store: MemorySecrets, clock: Clock) -> SessionKeyRing:
    return SessionKeyRing(store, ttl_seconds=600, clock=clock, wall_clock=store_time(store))


def test_the_secret_name_is_the_one_the_key_vault_adapter_knows() -> None:
    assert SESSION_KEY_SECRET == SESSION_KEY_NAME == "session-signing-key"


def test_the_first_use_creates_a_p256_key_in_the_vault(
    ring: SessionKeyRing, store: MemorySecrets
) -> None:
    key = ring.current()
    [stored] = store.versions[SESSION_KEY_SECRET]
    assert key.kid == stored.version
    assert store.content_type == "application/x-pem-file"
    assert stored.properties.tags["alg"] == "ES256"
    pem = stored.value.reveal()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS8
    parsed = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(parsed, ec.EllipticCurvePrivateKey)
    assert isinstance(parsed.curve, ec.SECP256R1)


def test_an_existing_key_is_used_not_replaced(ring: SessionKeyRing, store: MemorySecrets) -> None:
    version = store.add(generate_private_key_pem())
    assert ring.current().kid == version
    assert store.calls["set_secret"] == 0


def test_a_warm_ring_does_not_call_the_vault_until_the_ttl_passes(
    ring: SessionKeyRing, store: MemorySecrets, clock: Clock
) -> None:
    first = ring.current()
    calls = dict(store.calls)
    for _ in range(50):
        assert ring.current() is first
        ring.verification_keys()
    assert store.calls == calls
    clock.now += 601
    assert ring.current() is first
    assert store.calls["list_versions"] == calls["list_versions"] + 1


def test_a_key_is_parsed_once_per_process_not_per_refresh(
    ring: SessionKeyRing, store: MemorySecrets, clock: Clock
) -> None:
    first = ring.current()
    fetched = store.calls["get_secret_version"]
    for _ in range(3):
        clock.now += 601
        assert ring.current() is first  # the same parsed object
    assert store.calls["get_secret_version"] == fetched


def test_verification_keys_are_the_current_and_the_previous_version(
    ring: SessionKeyRing,
) -> None:
    old = ring.current()
    new = ring.rotate()
    assert new.kid != old.kid and ring.current() is new
    keys = ring.verification_keys()
    assert list(keys) == [new.kid, old.kid]
    newest = ring.rotate()
    assert list(ring.verification_keys()) == [newest.kid, new.kid]


def test_a_token_signed_before_a_rotation_still_verifies(ring: SessionKeyRing) -> None:
    raw = issue_access_token(key=ring.current(), claims=CLAIMS, issuer=ISSUER, now=5000)
    ring.rotate()
    keys = ring.verification_keys()
    assert verify_access_token(raw, keys=keys, issuer=ISSUER, now=5000).sub == "u-1"


def test_versions_created_in_the_same_second_are_ordered_by_their_precise_tag(
    store: MemorySecrets, clock: Clock
) -> None:
    # Each version's creation time, then the time the ring reads them at.
    # Made at 100.25, read at 100.5, the rotation made at 100.75, then read.
    wall = itertools.chain([100.25, 100.5, 100.75], itertools.repeat(101.0))
    ring = SessionKeyRing(store, clock=clock, wall_clock=lambda: next(wall))
    first = ring.current()
    second = ring.rotate()
    # Both have the same `created` second; the tag puts the rotation first.
    assert [v.properties.created_on for v in store.versions[SESSION_KEY_SECRET]] == [T0, T0]
    assert [v.properties.tags[CREATED_TAG] for v in store.versions[SESSION_KEY_SECRET]] == [
        "100.250000",
        "100.750000",
    ]
    assert ring.current() is second
    assert list(ring.verification_keys()) == [second.kid, first.kid]


def test_a_rotation_by_another_instance_is_verified_at_once_via_the_unknown_kid(
    store: MemorySecrets, clock: Clock
) -> None:
    here = SessionKeyRing(store, clock=clock, wall_clock=store_time(store))
    there = SessionKeyRing(store, clock=clock, wall_clock=store_time(store))
    old = here.current()
    assert there.current().kid == old.kid
    new = there.rotate()
    assert new.kid not in here.verification_keys()
    keys = here.verification_keys(kid=new.kid)
    assert list(keys) == [new.kid, old.kid]
    # The refresh also moved this instance to the new signing key.
    assert here.current().kid == new.kid


def test_made_up_kids_cannot_make_the_ring_hammer_the_vault(
    ring: SessionKeyRing, store: MemorySecrets, clock: Clock
) -> None:
    ring.current()
    before = store.calls["list_versions"]
    for i in range(100):
        ring.verification_keys(kid=f"made-up-{i}")
    assert store.calls["list_versions"] == before + 1
    clock.now += 61
    ring.verification_keys(kid="made-up-again")
    assert store.calls["list_versions"] == before + 2


def test_a_vault_outage_keeps_the_cached_keys_and_retries_soon(
    ring: SessionKeyRing, store: MemorySecrets, clock: Clock
) -> None:
    key = ring.current()
    store.down = True
    clock.now += 601
    assert ring.current() is key
    failed = store.calls["list_versions"]
    clock.now += 10
    assert ring.current() is key  # no new attempt within the back-off
    assert store.calls["list_versions"] == failed
    store.down = False
    clock.now += 21
    assert ring.current() is key
    assert store.calls["list_versions"] == failed + 1


def test_a_vault_outage_before_any_key_is_loaded_is_sso_unavailable(
    ring: SessionKeyRing, store: MemorySecrets
) -> None:
    store.down = True
    with pytest.raises(SsoUnavailable):
        ring.current()


def test_disabled_versions_are_neither_signing_nor_verifying(
    ring: SessionKeyRing, store: MemorySecrets
) -> None:
    older = store.add(generate_private_key_pem(), created=T0 - dt.timedelta(days=2))
    store.add(generate_private_key_pem(), enabled=False, created=T0 - dt.timedelta(days=1))
    current = store.add(generate_private_key_pem())
    assert ring.current().kid == current
    assert list(ring.verification_keys()) == [current, older]


def test_an_unparseable_previous_version_is_skipped(
    ring: SessionKeyRing, store: MemorySecrets
) -> None:
    store.add("not a pem", created=T0 - dt.timedelta(days=1))
    current = store.add(generate_private_key_pem())
    assert list(ring.verification_keys()) == [current]


def test_an_unparseable_current_version_is_a_configuration_error(
    ring: SessionKeyRing, store: MemorySecrets
) -> None:
    store.add("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError) as caught:
        ring.current()
    assert "nope" not in caught.value.description


def test_concurrent_first_uses_create_one_key(ring: SessionKeyRing, store: MemorySecrets) -> None:
    barrier = threading.Barrier(8)
    kids: list[str] = []

    def use() -> None:
        barrier.wait()
        kids.append(ring.current().kid)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.calls["set_secret"] == 1
    assert len(set(kids)) == 1


def test_racing_instances_settle_on_the_newest_key_and_keep_the_other_verifiable(
    store: MemorySecrets, clock: Clock
) -> None:
    # Two instances both found no key and each created one.
    loser_version = store.add(generate_private_key_pem())
    store.now = T0 + dt.timedelta(seconds=1)
    winner_version = store.add(generate_private_key_pem())
    ring = SessionKeyRing(store, clock=clock, wall_clock=store_time(store))
    assert ring.current().kid == winner_version
    assert list(ring.verification_keys()) == [winner_version, loser_version]


# --- keys and JWKS ---------------------------------------------------------------------------


def test_a_signing_key_must_be_p256() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        SigningKey(kid="k", private_key=p384)


def test_a_bad_pem_error_does_not_quote_the_pem() -> None:
    with pytest.raises(ValueError) as caught:
        SigningKey.from_pem(
            "k", "-----BEGIN PRIVATE KEY-----\nsecretish\n-----END PRIVATE KEY-----"
        )
    assert "secretish" not in str(caught.value)


def test_a_signing_key_does_not_print_its_private_key() -> None:
    key = SigningKey.from_pem("kid-1", generate_private_key_pem())
    assert repr(key) == "SigningKey(kid='kid-1')"


def test_the_jwks_publishes_current_and_previous_as_es256_p256_keys(ring: SessionKeyRing) -> None:
    old = ring.current()
    new = ring.rotate()
    document = jwks_document(ring.verification_keys())
    assert [jwk["kid"] for jwk in document["keys"]] == [new.kid, old.kid]
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("EC", "P-256", "sig", "ES256")
        assert len(jwk["x"]) == len(jwk["y"]) == 43  # 32 bytes, base64url without padding
        assert "d" not in jwk  # never the private part


def test_a_client_can_verify_our_token_with_the_published_jwks(ring: SessionKeyRing) -> None:
    raw = issue_access_token(key=ring.current(), claims=CLAIMS, issuer=ISSUER, now=5000)
    jwk_set = jwt.PyJWKSet.from_dict(jwks_document(ring.verification_keys()))
    kid = jwt.get_unverified_header(raw)["kid"]
    claims = jwt.decode(
        raw,
        key=jwk_set[kid].key,
        algorithms=["ES256"],
        audience="entrabridge",
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "u-1"


def test_importing_the_session_modules_loads_no_azure_sdk() -> None:
    code = (
        "import sys, shared.sessions.access, shared.sessions.keys; "
        "print(sorted(m for m in sys.modules if m.startswith(('azure', 'msal'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_previous_key_stops_verifying_30_minutes_after_its_successor_was_made(
    store: MemorySecrets, clock: Clock
) -> None:
    # A rotation made because a key leaked must end that key's use for good: what it
    # signed before the rotation lives 15 minutes, plus an instance's 10-minute cache.
    ring = SessionKeyRing(store, ttl_seconds=600, clock=clock, wall_clock=store_time(store))
    old = ring.current()
    store.now += dt.timedelta(seconds=1)
    new = ring.rotate()
    assert list(ring.verification_keys()) == [new.kid, old.kid]
    store.now += dt.timedelta(minutes=29)
    clock.now += 601  # a fresh read of the key set, still within the 30 minutes
    assert list(ring.verification_keys()) == [new.kid, old.kid]
    store.now += dt.timedelta(minutes=2)
    clock.now += 601  # the cached key set expires; the next read retires the old key
    assert list(ring.verification_keys()) == [new.kid]
    forged = issue_access_token(key=old, claims=CLAIMS, issuer=ISSUER, now=5000)
    with pytest.raises(Unauthorized):
        verify_access_token(forged, keys=ring.verification_keys(), issuer=ISSUER, now=5000)


class SlowVault(MemorySecrets):
    """Key Vault that, once `hold` is set, keeps a list call waiting until `release`
    (a vault slow to answer, or timing out)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.inside = threading.Event()
        self.release = threading.Event()

    def list_versions(self, name: str) -> list[SecretVersion]:
        if self.hold:
            self.inside.set()
            self.release.wait(10)
        return super().list_versions(name)


def test_while_one_request_refreshes_from_a_slow_vault_the_others_go_on() -> None:
    # The keys are due (10 minutes): one request asks Key Vault, which hangs; every
    # other request meanwhile verifies with the keys it has instead of queueing
    # behind the vault's timeouts.
    vault, clock = SlowVault(), Clock()
    ring = SessionKeyRing(vault, ttl_seconds=600, clock=clock, wall_clock=store_time(vault))
    token = issue_access_token(key=ring.current(), claims=CLAIMS, issuer=ISSUER, now=T0.timestamp())
    clock.now += 601
    vault.hold = True
    refresher = threading.Thread(target=ring.verification_keys)
    refresher.start()
    assert vault.inside.wait(5)
    answered: list[SessionClaims] = []
    others = [
        threading.Thread(
            target=lambda: answered.append(
                verify_access_token(
                    token, keys=ring.verification_keys(), issuer=ISSUER, now=T0.timestamp()
                )
            )
        )
        for _ in range(4)
    ]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(2)
    assert len(answered) == 4  # before the vault answered
    vault.release.set()
    refresher.join(5)


def test_a_vault_down_at_a_cold_start_is_asked_once_for_all_waiting_requests() -> None:
    # A new instance while Key Vault is down: the requests that waited for the one
    # read share its failure (sso_unavailable) instead of each waiting out its own.
    vault = SlowVault()
    ring = SessionKeyRing(vault, ttl_seconds=600, clock=Clock())
    vault.down, vault.hold = True, True
    outcomes: list[str] = []

    def use() -> None:
        try:
            ring.current()
            outcomes.append("key")
        except SsoUnavailable:
            outcomes.append("sso_unavailable")

    first = threading.Thread(target=use)
    first.start()
    assert vault.inside.wait(5)
    waiting = [threading.Thread(target=use) for _ in range(4)]
    for thread in waiting:
        thread.start()
    time.sleep(0.3)  # they reach the lock the first holds (no event marks that)
    vault.release.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert outcomes == ["sso_unavailable"] * 5
    assert vault.calls["list_versions"] == 1
    # The next request, later, asks again (and gets the key once the vault is back).
    vault.down, vault.hold = False, False
    assert ring.current() is not None
