"""A WSGI app served over HTTPS (the local CA's certificate) in background threads:
what the Entra and Key Vault stand-ins share.

cheroot serves it, not werkzeug: werkzeug's server closes every connection after
one response, while Entra and Key Vault keep them open. Over a closing stand-in
every token POST paid a new TLS handshake that production never pays, and the
service's connection reuse could not be seen at all (tests/e2e/test_signin.py
counts the connections code redemptions come over)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from devtools.localca import ensure_local_ca, server_ssl_context

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
log = logging.getLogger("devtools.tls_server")


class _QuietServer(wsgi.Server):
    """cheroot's error messages through logging instead of stderr (it writes no
    access log, so query strings with codes and tokens are never logged)."""

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback and level >= logging.ERROR)


class BackgroundTlsServer:
    """Listening once constructed (port 0 picks a free one) until `stop()`."""

    def __init__(self, app: Any, *, host: str, port: int, name: str) -> None:
        paths = ensure_local_ca()
        server = _QuietServer((host, port), app, numthreads=16, server_name=name)
        adapter = BuiltinSSLAdapter(str(paths.server_cert), str(paths.server_key))
        adapter.context = server_ssl_context(paths)  # TLS 1.2 at least, as Azure
        server.ssl_adapter = adapter
        server.prepare()  # bound and listening before the constructor returns
        self.port = int(server.bind_addr[1])
        self._server: wsgi.Server | None = server
        self._thread: threading.Thread | None = threading.Thread(
            target=server.serve, name=f"{name}:{self.port}", daemon=True
        )
        self._thread.start()

    def base_url(self, host: str) -> str:
        """`https://host:port`, a wildcard listen address shown as 127.0.0.1."""
        name = "127.0.0.1" if host in _WILDCARD_HOSTS else host
        return f"https://{f'[{name}]' if ':' in name else name}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
