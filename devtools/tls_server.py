"""A WSGI app served over HTTPS (the local CA's certificate) in a background thread:
what the Entra and Key Vault stand-ins share."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devtools.localca import server_ssl_context

_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


class QuietHandler(WSGIRequestHandler):
    """No access log: query strings carry codes and tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class BackgroundTlsServer:
    """Listening once constructed (port 0 picks a free one) until `stop()`."""

    def __init__(self, app: Any, *, host: str, port: int, name: str) -> None:
        self._server: BaseWSGIServer | None = make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietHandler,
            ssl_context=server_ssl_context(),
        )
        self.port = self._server.server_port
        server = self._server
        self._thread: threading.Thread | None = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.1),
            name=f"{name}:{self.port}",
            daemon=True,
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
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
