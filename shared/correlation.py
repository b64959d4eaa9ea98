"""One id per request, so support can find one failed sign-in: it is in the JSON
error, on the error page (and the login page a sign-in failure lands on), in the
`X-Correlation-Id` header, in every log line written while the request runs, and
in the audit event the request writes.

A context variable, set by the HTTP glue for the duration of one handler call
(functions.web.Blueprint): handlers run one per worker thread, and the variable is
reset when the call ends, so no id leaks into the next request on that thread.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("entrabridge_correlation_id", default=None)
SHAPE = re.compile(r"[0-9a-f]{32}")


def current() -> str | None:
    return _current.get()


@contextmanager
def correlated() -> Iterator[str]:
    token = _current.set(uuid.uuid4().hex)
    try:
        yield str(_current.get())
    finally:
        _current.reset(token)


_installed = False


def install_log_records() -> None:
    """Every log record made during a request carries `correlation_id` and ends its
    message with it (whatever handler or sink the host uses). Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def with_correlation(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        found = _current.get()
        record.correlation_id = found or ""
        if found and isinstance(record.msg, str):
            record.msg = f"{record.msg} [correlation {found}]"
        return record

    logging.setLogRecordFactory(with_correlation)
