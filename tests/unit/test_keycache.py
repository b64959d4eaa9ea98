"""The JWKS cache: TTL, stale-on-error, unknown-kid refetch with cooldown, single flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.errors import SsoUnavailable
from shared.keycache import KeyCache, parse_jwks

URI = "https://login.example/tid/discovery/v2.0/keys"


def jwk(kid: str, **extra: Any) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    document: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**document, "kid": kid, "use": "sig", **extra}


class Directory:
    def __init__(self, *kids: str) -> None:
        self.keys = [jwk(k) for k in kids]
        self.fetches = 0
        self.down = False

    def fetch(self, uri: str) -> Mapping[str, Any]:
        self.fetches += 1
        if self.down:
            raise SsoUnavailable("down")
        return {"keys": list(self.keys)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_keys_are_fetched_once_and_refreshed_after_a_day() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    assert set(cache.get_keys(URI)) == {"a"}
    cache.get_keys(URI)
    assert directory.fetches == 1
    directory.keys.append(jwk("b"))
    clock.now += 24 * 3600
    assert set(cache.get_keys(URI)) == {"a", "b"}
    assert directory.fetches == 2


def test_a_failed_refresh_keeps_the_last_good_keys_and_no_keys_at_all_is_unavailable() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    directory.down = True
    clock.now += 24 * 3600
    assert set(cache.get_keys(URI)) == {"a"}
    with pytest.raises(SsoUnavailable):
        KeyCache(directory.fetch, clock=clock).get_keys(URI)


def test_an_unknown_kid_refetches_once_per_cooldown_but_not_after_a_cold_fetch() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)  # cold fetch: does not start the cooldown
    directory.keys.append(jwk("rotated"))
    assert "rotated" in cache.refresh_for_unknown_kid(URI, "rotated")
    assert directory.fetches == 2
    for forged in ("x1", "x2", "x3"):
        cache.refresh_for_unknown_kid(URI, forged)
    assert directory.fetches == 2  # the rotation refetch started the cooldown
    clock.now += 300
    cache.refresh_for_unknown_kid(URI, "x4")
    assert directory.fetches == 3


def test_a_cold_start_under_concurrency_fetches_once() -> None:
    directory = Directory("a")
    original = directory.fetch

    def slow(uri: str) -> Mapping[str, Any]:
        time.sleep(0.05)
        return original(uri)

    cache = KeyCache(slow)
    threads = [threading.Thread(target=cache.get_keys, args=(URI,)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert directory.fetches == 1


def test_only_rsa_signing_keys_are_kept() -> None:
    keys = parse_jwks(
        {
            "keys": [
                jwk("good"),
                jwk("enc", use="enc"),
                jwk("hs", alg="HS256"),
                {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "broken", "n": "x", "e": "AQAB"},
                "garbage",
            ]
        }
    )
    assert set(keys) == {"good"}
