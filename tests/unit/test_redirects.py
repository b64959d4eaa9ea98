"""return_to: paths on this origin and allow-listed origins only; no open redirects."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.redirects import safe_return_to

PAYLOADS = [
    line
    for line in (Path(__file__).parents[1] / "data" / "openredirects.txt").read_text().splitlines()
    if line and not line.startswith("#")
]
DEFAULT = "https://auth.example.com/home"


def target(value: str | None) -> str:
    return safe_return_to(
        value,
        public_base_url="https://auth.example.com",
        allowed_origins=["https://app.example.net"],
        default=DEFAULT,
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_known_open_redirect_payloads_fall_back_to_the_default(payload: str) -> None:
    assert target(payload) == DEFAULT


@pytest.mark.parametrize(
    "allowed",
    [
        "/",
        "/app/settings?tab=sso#top",
        "/a%20b",
        "https://auth.example.com/after",
        "https://app.example.net/dashboard?x=1",
        "https://APP.example.net/case",
    ],
)
def test_paths_and_allow_listed_origins_are_kept(allowed: str) -> None:
    assert target(allowed) == allowed


def test_nothing_or_too_long_falls_back() -> None:
    assert target(None) == DEFAULT
    assert target("") == DEFAULT
    assert target("/" + "a" * 3000) == DEFAULT


def test_the_corpus_is_substantial() -> None:
    assert len(PAYLOADS) >= 60
