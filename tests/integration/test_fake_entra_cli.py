"""`python -m devtools.fake_entra` with the demo directory, and the directory file format."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from devtools.fake_entra import DEMO_DIRECTORY, DirectoryError, load_directories
from devtools.localca import PROJECT_ROOT, ensure_local_ca


def first_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("the stand-in printed nothing")
    return process.stdout.readline()


@pytest.fixture
def demo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI as a person runs it (demo directory by default), on a free port."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ensure_local_ca().bundle))
    with subprocess.Popen(
        [sys.executable, "-m", "devtools.fake_entra", "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            line = first_line(process)
            assert line.startswith("Entra ID stand-in listening on https://127.0.0.1:")
            yield line.rsplit(" ", 1)[1].strip()
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0


def demo() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEMO_DIRECTORY.read_text())["directories"][0]
    return data


def test_the_demo_directory_serves_a_sign_in_that_returns_to_the_local_host(
    demo_server: str,
) -> None:
    directory = demo()
    tid = directory["tenant_id"]
    app = directory["apps"][0]
    with requests.Session() as http:
        discovery = http.get(
            f"{demo_server}/{tid}/v2.0/.well-known/openid-configuration", timeout=10
        ).json()
        assert discovery["issuer"] == f"{demo_server}/{tid}/v2.0"
        query = urlencode(
            {
                "client_id": app["client_id"],
                "response_type": "code",
                "redirect_uri": "http://127.0.0.1:7071/api/auth/demo/callback",
                "scope": "openid profile email",
                "state": "s",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            }
        )
        page = http.get(f"{discovery['authorization_endpoint']}?{query}", timeout=10)
        for user in directory["users"]:
            assert user["upn"] in page.text
        chosen = http.post(
            discovery["authorization_endpoint"],
            data={**dict(parse_qsl(query)), "stand_in_user": directory["users"][0]["oid"]},
            allow_redirects=False,
            timeout=10,
        )
    location = urlsplit(chosen.headers["Location"])
    assert location.netloc == "127.0.0.1:7071" and location.path == "/api/auth/demo/callback"
    assert "code=" in location.query and "state=s" in location.query


def test_a_missing_directory_file_stops_the_cli_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.fake_entra",
            "--port",
            "0",
            "--directory",
            str(tmp_path / "absent.json"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "cannot load" in result.stderr


def test_the_demo_directory_covers_every_kind_of_user() -> None:
    directories = load_directories(DEMO_DIRECTORY)
    assert len(directories) == 1
    directory = next(iter(directories.values()))
    app = next(iter(directory.apps.values()))
    assert app.redirect_uris == (
        "http://127.0.0.1:7071/api/auth/demo/callback",
        "http://127.0.0.1:7071/api/auth/acme/callback",  # the README's admin walkthrough
    )
    assert all(s.expires_at is None or s.expires_at.year >= 2099 for s in app.secrets)
    counts = sorted(len(directory.group_claim_ids(user, app)) for user in directory.users.values())
    assert counts[0] == 0 and 1 in counts and any(2 < c <= 200 for c in counts)
    assert counts[-1] > 200  # the overage case
    assert any(user.email is None for user in directory.users.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["users"][0]["groups"].append("9f9f9f9f-0000-4000-8000-000000000000"),
            "unknown group",
        ),
        (lambda d: d["users"].append(dict(d["users"][0])), "listed twice"),
        (lambda d: d.update(tenant_id="contoso"), "must be a UUID"),
        (lambda d: d["apps"][0].update(group_membership_claims="Some"), "group_membership"),
        (lambda d: d["apps"][0]["secrets"][0].update(expires="soon"), "ISO 8601"),
    ],
)
def test_a_broken_directory_file_is_refused_with_a_reason(change: Any, message: str) -> None:
    document = json.loads(DEMO_DIRECTORY.read_text())
    change(document["directories"][0])
    with pytest.raises(DirectoryError, match=message):
        load_directories(document)
