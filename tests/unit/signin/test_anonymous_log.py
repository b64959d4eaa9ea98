"""A bounded number of log lines per minute for events anyone can cause."""

from __future__ import annotations

import logging

import pytest

from shared.signin.anonymous_log import RateLimitedLog


def test_past_the_limit_lines_are_counted_and_reported_with_the_next_minutes_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    log = RateLimitedLog(logging.getLogger("entrabridge.test"), per_minute=3, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="entrabridge.test"):
        logged = [log.warning("refused %s", n) for n in range(10)]
        assert logged == [True] * 3 + [False] * 7
        now[0] += 60
        assert log.warning("refused %s", "later")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused 0",
        "refused 1",
        "refused 2",
        "refused later (7 similar lines suppressed)",
    ]
