"""The one outbound HTTP session: default timeouts, trusts REQUESTS_CA_BUNDLE.

MSAL ignores its own `timeout` once it is handed an `http_client`, and
`requests` has no session-wide timeout, so the session applies one itself.
`requests` reads REQUESTS_CA_BUNDLE for every call (trust_env), which is how
the local stand-ins' CA is trusted in dev and tests.

With a bundle path, urllib3 re-reads the bundle into a fresh SSL context for
every new connection (~27 ms of CPU for the system bundle); the adapter here
loads each bundle once per process and shares the context.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.ssl_ import create_urllib3_context

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs
    from requests.sessions import _Settings

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0

_contexts: dict[tuple[str, float], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def trust_context(ca_bundle: str) -> ssl.SSLContext:
    """A verifying client context trusting `ca_bundle`, loaded once per file version."""
    key = (ca_bundle, os.stat(ca_bundle).st_mtime)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            context.load_verify_locations(cafile=ca_bundle)
            _contexts[key] = context
        return context


class SharedTrustAdapter(HTTPAdapter):
    """An adapter that hands urllib3 a preloaded context instead of a bundle path."""

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        ca_bundle = pool_kwargs.get("ca_certs")
        # Not with a client certificate: urllib3 would load it into the shared context.
        if host_params["scheme"] == "https" and ca_bundle and cert is None:
            pool_kwargs["ssl_context"] = trust_context(ca_bundle)
            del pool_kwargs["ca_certs"]
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        shared = getattr(conn, "conn_kw", {}).get("ssl_context")
        if shared is not None and isinstance(verify, str):
            # The pool's context already trusts this bundle: a path here would make
            # urllib3 load it into the shared context again on every connection.
            conn.ca_certs = None


class EnvCachedSession(requests.Session):
    """A session that reads proxy and CA-bundle settings from the environment once per
    host instead of on every request.

    With `trust_env` (the default, and how REQUESTS_CA_BUNDLE is honoured) requests
    walks the whole environment twice per request for proxy variables: a fifth of
    a Table Storage call's CPU. A Functions worker's environment changes only with
    a restart; the CA-bundle variables are part of the key all the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[object, ...], _Settings] = {}
        # One session serves every tenant's server-to-server calls: a cookie one
        # answer sets (Entra, Graph) must not ride along on another tenant's request.
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._environment_lock = threading.Lock()

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> _Settings:
        if proxies or not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (
            parts.scheme,
            parts.netloc,
            stream,
            verify,
            cert,
            os.environ.get("REQUESTS_CA_BUNDLE"),
            os.environ.get("CURL_CA_BUNDLE"),
        )
        with self._environment_lock:
            known = self._environment.get(key)
        if known is None:
            known = super().merge_environment_settings(url, proxies, stream, verify, cert)
            with self._environment_lock:
                if len(self._environment) > 256:
                    self._environment.clear()
                self._environment[key] = known
        # A copy with its own proxies dict: requests may change what it is given.
        return known | {"proxies": dict(known["proxies"])}


class TimeoutSession(EnvCachedSession):
    """A `requests.Session` whose calls time out unless the caller says otherwise."""

    def __init__(
        self, *, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT
    ) -> None:
        super().__init__()
        self._timeout = (connect_timeout, read_timeout)
        # No transport retries: a sign-in retries nothing behind the user's back
        # (an authorization code is single-use), and a dead peer must fail fast.
        adapter = SharedTrustAdapter(max_retries=0, pool_connections=16, pool_maxsize=32)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)


# azure-core logs every request's URL and headers at INFO. Our Table keys hold a
# sign-in's state, emails and user ids; the Functions host forwards INFO. Warnings
# and errors of the SDKs still show. Both Azure adapters import this module.
AZURE_REQUEST_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


logging.getLogger(AZURE_REQUEST_LOGGER).setLevel(logging.WARNING)  # set once, on import
