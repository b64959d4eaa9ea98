"""A log line per event, but a bounded number per minute: for events anyone can cause.

Refusals of anonymous requests (a made-up callback, a logout with no credential)
are logged rather than audited, so that nobody can fill a tenant's audit log; a
flood of them must not fill the instance's log either. Past the limit, lines are
counted and the count is reported with the next line that gets through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        per_minute: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._in_window = 0
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> bool:
        """Log at WARNING unless this minute's lines are spent; True when logged."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= 60:
                self._window_start, self._in_window = now, 0
            if self._in_window >= self._per_minute:
                self._suppressed += 1
                return False
            self._in_window += 1
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            message += " (%d similar lines suppressed)"
            args = (*args, suppressed)
        self._logger.warning(message, *args)
        return True
