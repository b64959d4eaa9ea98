"""The JWKS cache: TTL, stale-on-error, unknown-kid refetch with cooldown, single flight.

The fetch function is a small in-memory directory (no HTTP here: the Entra
client's fetch has its own tests), and the clock is a settable counter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from shared.entra.keys import KeyCache, parse_jwks
from shared.errors import SsoUnavailable
from tests.support.jwtkeys import rsa_test_key

URI = "https://login.example/tid/discovery/v2.0/keys"
OTHER_URI = "https://login.example/other/discovery/v2.0/keys"
DAY = 24 * 3600


def inline(job: Any) -> None:
    """Runs a due refresh on the caller's thread, so a test sees its outcome at once."""
    job()


def jwk(kid: str, **extra: Any) -> dict[str, Any]:
    return rsa_test_key(kid).jwk(**extra)


class Directory:
    """A JWKS endpoint: its keys, how often it was asked, and whether it is down."""

    def __init__(self, *kids: str) -> None:
        self.keys = [jwk(k) for k in kids]
        self.fetches = 0
        self.down: Exception | None = None
        self.gate: threading.Event | None = None  # when set, fetches wait for it

    def fetch(self, uri: str) -> Mapping[str, Any]:
        self.fetches += 1
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.down is not None:
            raise self.down
        return {"keys": list(self.keys)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_threads(count: int, target: Any) -> list[Any]:
    results: list[Any] = []

    def call() -> None:
        try:
            results.append(target())
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


# --- fetching and TTL ------------------------------------------------------------------


def test_keys_are_fetched_once_and_refreshed_after_a_day() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock, spawn=inline)
    keys = cache.get_keys(URI)
    assert set(keys) == {"a"}
    assert isinstance(keys["a"], RSAPublicKey)
    clock.now += DAY - 1
    cache.get_keys(URI)
    assert directory.fetches == 1
    directory.keys.append(jwk("b"))
    clock.now += 1
    assert set(cache.get_keys(URI)) == {"a", "b"}
    assert directory.fetches == 2


def test_parsed_keys_are_reused_not_parsed_per_call() -> None:
    cache = KeyCache(Directory("a").fetch, clock=Clock())
    assert cache.get_keys(URI)["a"] is cache.get_keys(URI)["a"]


def test_the_returned_key_set_cannot_be_changed_by_a_caller() -> None:
    cache = KeyCache(Directory("a").fetch, clock=Clock())
    keys = cache.get_keys(URI)
    with pytest.raises(TypeError):
        keys["forged"] = keys["a"]  # type: ignore[index]


def test_each_directory_has_its_own_key_set() -> None:
    first, second = Directory("a"), Directory("b")
    cache = KeyCache(lambda uri: (first if uri == URI else second).fetch(uri), clock=Clock())
    assert set(cache.get_keys(URI)) == {"a"}
    assert set(cache.get_keys(OTHER_URI)) == {"b"}


# --- failures ----------------------------------------------------------------------------


def test_a_failed_refresh_keeps_the_last_good_keys() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock, spawn=inline)
    cache.get_keys(URI)
    directory.down = SsoUnavailable("down")
    clock.now += DAY
    assert set(cache.get_keys(URI)) == {"a"}


def test_a_failed_refresh_is_retried_after_a_pause_not_on_every_call() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock, retry_interval=60, spawn=inline)
    cache.get_keys(URI)
    directory.down = SsoUnavailable("down")
    clock.now += DAY
    for _ in range(5):
        cache.get_keys(URI)
    assert directory.fetches == 2
    directory.down = None
    directory.keys.append(jwk("b"))
    clock.now += 60
    assert set(cache.get_keys(URI)) == {"a", "b"}
    assert directory.fetches == 3


def test_no_keys_at_all_is_unavailable_and_retried_on_the_next_call() -> None:
    directory = Directory("a")
    directory.down = SsoUnavailable("Microsoft Entra ID signing keys could not be read.")
    cache = KeyCache(directory.fetch, clock=Clock())
    with pytest.raises(SsoUnavailable):
        cache.get_keys(URI)
    directory.down = None
    assert set(cache.get_keys(URI)) == {"a"}
    assert directory.fetches == 2


def test_any_fetch_exception_becomes_unavailable_without_details() -> None:
    directory = Directory("a")
    directory.down = requests.ConnectionError("connect to 10.0.0.1 refused")
    with pytest.raises(SsoUnavailable) as refused:
        KeyCache(directory.fetch, clock=Clock()).get_keys(URI)
    assert "10.0.0.1" not in refused.value.description


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": []}, {"keys": "x"}, {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}],
)
def test_a_key_set_with_no_usable_key_is_unavailable(document: Mapping[str, Any]) -> None:
    cache = KeyCache(lambda uri: document, clock=Clock())
    with pytest.raises(SsoUnavailable, match="no usable signing key"):
        cache.get_keys(URI)


def test_a_key_set_with_no_usable_key_does_not_replace_a_good_one() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock, spawn=inline)
    cache.get_keys(URI)
    directory.keys = [jwk("enc", use="enc")]
    clock.now += DAY
    assert set(cache.get_keys(URI)) == {"a"}


# --- unknown kid --------------------------------------------------------------------------


def test_an_unknown_kid_refetches_once_per_cooldown_but_not_after_a_cold_fetch() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)  # cold fetch: does not start the cooldown
    directory.keys.append(jwk("rotated"))
    assert "rotated" in cache.refresh_for_unknown_kid(URI, "rotated")
    assert directory.fetches == 2
    for forged in ("x1", "x2", "x3"):
        assert "rotated" in cache.refresh_for_unknown_kid(URI, forged)
    assert directory.fetches == 2  # the rotation refetch started the cooldown
    clock.now += 299
    cache.refresh_for_unknown_kid(URI, "x4")
    assert directory.fetches == 2
    clock.now += 1
    cache.refresh_for_unknown_kid(URI, "x5")
    assert directory.fetches == 3


def test_a_key_rotated_right_after_a_cold_start_is_picked_up_at_once() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    directory.keys = [jwk("b")]
    clock.now += 1
    assert set(cache.refresh_for_unknown_kid(URI, "b")) == {"b"}


def test_a_flood_of_forged_kids_costs_one_fetch_per_cooldown() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    for second in range(600):
        clock.now += 1
        cache.refresh_for_unknown_kid(URI, f"forged-{second}")
    assert directory.fetches == 1 + 2  # the cold fetch, then one per 5 minutes


def test_the_cooldown_is_per_directory() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.refresh_for_unknown_kid(URI, "forged")  # cold: a fetch, no cooldown yet
    cache.refresh_for_unknown_kid(URI, "forged")  # starts URI's cooldown
    cache.refresh_for_unknown_kid(URI, "forged")
    cache.refresh_for_unknown_kid(OTHER_URI, "forged")
    cache.refresh_for_unknown_kid(OTHER_URI, "forged")
    assert directory.fetches == 4


def test_an_unknown_kid_refetch_that_fails_keeps_the_keys_and_still_counts() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    directory.down = SsoUnavailable("down")
    assert set(cache.refresh_for_unknown_kid(URI, "x1")) == {"a"}
    assert set(cache.refresh_for_unknown_kid(URI, "x2")) == {"a"}
    assert directory.fetches == 2


def test_a_kid_another_thread_already_fetched_costs_nothing() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    directory.keys.append(jwk("rotated"))
    cache.refresh_for_unknown_kid(URI, "rotated")
    clock.now += 300
    assert "rotated" in cache.refresh_for_unknown_kid(URI, "rotated")
    assert directory.fetches == 2


# --- concurrency ------------------------------------------------------------------------


def test_a_cold_start_under_concurrency_fetches_once() -> None:
    directory = Directory("a")
    directory.gate = threading.Event()
    cache = KeyCache(directory.fetch)
    timer = threading.Timer(0.1, directory.gate.set)
    timer.start()
    results = run_threads(10, lambda: cache.get_keys(URI))
    timer.join()
    assert [set(r) for r in results] == [{"a"}] * 10
    assert directory.fetches == 1


def test_a_failed_cold_fetch_under_concurrency_is_shared_not_repeated() -> None:
    directory = Directory("a")
    directory.down = SsoUnavailable("down")
    directory.gate = threading.Event()
    cache = KeyCache(directory.fetch)
    timer = threading.Timer(0.1, directory.gate.set)
    timer.start()
    results = run_threads(10, lambda: cache.get_keys(URI))
    timer.join()
    assert all(isinstance(r, SsoUnavailable) for r in results) and len(results) == 10
    assert directory.fetches == 1


def test_a_due_refresh_runs_in_the_background_and_nobody_waits_for_it() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)  # the real background thread
    cache.get_keys(URI)
    clock.now += DAY
    directory.keys.append(jwk("b"))
    directory.gate = threading.Event()  # the refresh's fetch blocks until set
    callers = run_threads(5, lambda: set(cache.get_keys(URI)))
    assert callers == [{"a"}] * 5  # answered while the refresh is (or is about to be) stuck
    for _ in range(1000):
        if directory.fetches == 2:
            break
        threading.Event().wait(0.005)
    assert set(cache.get_keys(URI)) == {"a"}  # the refresh is inside the fetch now
    assert directory.fetches == 2  # one refresh, however many callers found it due
    directory.gate.set()
    for _ in range(1000):  # at most 5 s for the background refresh to land
        if set(cache.get_keys(URI)) == {"a", "b"}:
            break
        threading.Event().wait(0.005)
    assert set(cache.get_keys(URI)) == {"a", "b"}
    assert directory.fetches == 2


def test_concurrent_unknown_kids_refetch_once() -> None:
    directory, clock = Directory("a"), Clock()
    cache = KeyCache(directory.fetch, clock=clock)
    cache.get_keys(URI)
    directory.keys.append(jwk("rotated"))
    results = run_threads(10, lambda: set(cache.refresh_for_unknown_kid(URI, "rotated")))
    assert results == [{"a", "rotated"}] * 10
    assert directory.fetches == 2


# --- parsing ---------------------------------------------------------------------------


def test_only_rs256_rsa_signing_keys_of_2048_bits_or_more_are_kept() -> None:
    weak = rsa_test_key("weak", bits=1024).jwk()
    no_use_no_alg = {k: v for k, v in jwk("bare").items() if k not in ("use", "alg")}
    keys = parse_jwks(
        {
            "keys": [
                jwk("good"),
                no_use_no_alg,
                jwk("enc", use="enc"),
                jwk("hs", alg="HS256"),
                jwk("ps", alg="PS256"),
                {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "broken", "n": "x", "e": "AQAB"},
                {"kty": "RSA", "kid": "missing-n", "e": "AQAB"},
                {**jwk("nokid"), "kid": None},
                {**jwk("numeric"), "kid": 7},
                weak,
                "garbage",
                None,
            ]
        }
    )
    assert set(keys) == {"good", "bare"}


def test_a_second_key_under_the_same_kid_does_not_replace_the_first() -> None:
    first = jwk("same")
    second = {**jwk("other"), "kid": "same"}
    keys = parse_jwks({"keys": [first, second]})
    assert keys["same"].public_numbers().n == rsa_test_key("same").public_key.public_numbers().n


@pytest.mark.parametrize("failure", ["before the job runs", "after the job ran"])
def test_a_spawner_that_fails_leaves_the_cache_able_to_refresh_later(failure: str) -> None:
    directory, clock = Directory("a"), Clock()
    failing = [True]

    def spawn(job: Any) -> None:
        if not failing[0]:
            job()
            return
        if failure == "after the job ran":
            job()
        raise RuntimeError("can't start new thread")

    cache = KeyCache(directory.fetch, clock=clock, spawn=spawn)
    cache.get_keys(URI)
    clock.now += DAY
    assert set(cache.get_keys(URI)) == {"a"}  # no error reaches the sign-in
    # The lock was released exactly once (twice would have raised above; never, and
    # no refresh could run again): a later refresh takes it and lands.
    failing[0] = False
    directory.keys.append(jwk("b"))
    clock.now += DAY
    assert set(cache.get_keys(URI)) == {"a", "b"}
