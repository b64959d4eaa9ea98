"""The outbound session shares one SSL context per CA bundle and still verifies: an
untrusted certificate or a name the certificate does not carry is refused. Against the
Entra stand-in over real TLS (it closes every connection, so each request is a new
handshake)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from devtools.fake_entra import FakeEntra
from shared.http import TimeoutSession, trust_context


@pytest.fixture
def wildcard_entra() -> Iterator[FakeEntra]:
    # Listening on every address, so it can be reached by a name its certificate lacks.
    entra = FakeEntra().serve(host="0.0.0.0", public_host="127.0.0.1")  # noqa: S104
    yield entra
    entra.stop()


def discovery_url(entra: FakeEntra, host: str = "127.0.0.1") -> str:
    port = entra.base_url.rsplit(":", 1)[1]
    return f"https://{host}:{port}/{entra.tenant_ids[0]}/v2.0/.well-known/openid-configuration"


def test_new_connections_share_the_loaded_bundle(
    wildcard_entra: FakeEntra, local_ca_bundle: str
) -> None:
    with TimeoutSession() as http:
        for _ in range(3):
            assert http.get(discovery_url(wildcard_entra)).status_code == 200
    assert trust_context(local_ca_bundle) is trust_context(local_ca_bundle)


def test_a_certificate_from_an_untrusted_ca_is_refused(
    wildcard_entra: FakeEntra, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import certifi

    # The system CAs only: the stand-in's local CA is not among them.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with TimeoutSession() as http, pytest.raises(requests.exceptions.SSLError):
        http.get(discovery_url(wildcard_entra))


def test_a_name_the_certificate_does_not_carry_is_refused(wildcard_entra: FakeEntra) -> None:
    # 127.0.0.2 reaches the same server, but its certificate names 127.0.0.1 and localhost.
    with TimeoutSession() as http, pytest.raises(requests.exceptions.SSLError):
        http.get(discovery_url(wildcard_entra, host="127.0.0.2"))


def test_a_cookie_one_answer_sets_is_never_sent_on_a_later_request() -> None:
    # One outbound session serves every tenant: what Entra or Graph sets for one
    # tenant's call must not travel with the next tenant's.
    seen: list[str | None] = []

    class SetsACookie(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Set-Cookie", "affinity=tenant-a; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SetsACookie)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TimeoutSession() as http:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            for _ in range(2):
                assert http.get(url).status_code == 200
            assert len(http.cookies) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None, None]
