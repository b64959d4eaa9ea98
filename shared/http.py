"""The one outbound HTTP session: default timeouts, trusts REQUESTS_CA_BUNDLE.

MSAL ignores its own `timeout` once it is handed an `http_client`, and
`requests` has no session-wide timeout, so the session applies one itself.
`requests` reads REQUESTS_CA_BUNDLE for every call (trust_env), which is how
the local stand-ins' CA is trusted in dev and tests.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0


class TimeoutSession(requests.Session):
    """A `requests.Session` whose calls time out unless the caller says otherwise."""

    def __init__(
        self, *, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT
    ) -> None:
        super().__init__()
        self._timeout = (connect_timeout, read_timeout)
        # No transport retries: a sign-in retries nothing behind the user's back
        # (an authorization code is single-use), and a dead peer must fail fast.
        adapter = HTTPAdapter(max_retries=0, pool_connections=16, pool_maxsize=32)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)
