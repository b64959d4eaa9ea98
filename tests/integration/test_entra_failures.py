"""How each way a code redemption can fail reaches the contract: `EntraClient.redeem`
against the Entra stand-in over HTTPS, MSAL's real code path, nothing mocked.

Every failure has one code: no answer, a 5xx, a 429 or an answer that is not JSON
is `sso_unavailable` (with Entra's Retry-After where it sent one); an OAuth error
answer is `sso_idp_rejected` with its AADSTS number; only a state that is not the
flow's is `invalid_state`. And no failure is remembered: the next redemption of
the same app reaches Entra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from devtools.fake_entra import FakeEntra
from shared.entra.answers import parse_retry_after
from shared.entra.client import ClientCredentials, ClientSecretRejected, EntraClient
from shared.errors import EntraBridgeError, InvalidState, SsoIdpRejected, SsoUnavailable
from shared.http import TimeoutSession
from shared.secret import Secret
from tests.support.entra import TEST_REDIRECT_URI, EntraTestDirectory, follow_authorize

Redeemer = Callable[..., Any]


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with TimeoutSession(read_timeout=2.0) as session:
        yield session


def credentials(directory: EntraTestDirectory, *, secret: str | None = None) -> ClientCredentials:
    return ClientCredentials(
        tenant_id=directory.tenant_id,
        client_id=directory.client_id,
        secret=Secret(secret or directory.client_secret),
        secret_version="v1",
    )


def entra_client(entra: FakeEntra, http: requests.Session) -> EntraClient:
    return EntraClient(
        authority_host=entra.base_url, graph_base_url=entra.graph_base_url, http=http
    )


def code_for(
    client: EntraClient,
    creds: ClientCredentials,
    directory: EntraTestDirectory,
    http: requests.Session,
    user_key: str = "one_group",
) -> tuple[dict[str, Any], dict[str, str]]:
    """A flow and Entra's answer to it (code and state), not yet redeemed."""
    flow = client.begin(
        creds, redirect_uri=TEST_REDIRECT_URI, login_hint=directory.users[user_key].upn
    )
    answer = follow_authorize(http, flow["auth_uri"])
    assert "code" in answer.params, answer
    return flow, {"code": answer.params["code"], "state": answer.params["state"]}


def token_posts(entra: FakeEntra) -> int:
    return sum(1 for method, path in entra.requests_seen() if path.endswith("/oauth2/v2.0/token"))


def refusal(call: Callable[[], object]) -> EntraBridgeError:
    with pytest.raises(EntraBridgeError) as raised:
        call()
    return raised.value


@pytest.mark.parametrize(
    ("faults", "retry_after"),
    [
        ({"token_status": 500}, None),
        ({"token_status": 500, "token_retry_after": 600}, None),  # only 429/503 mean "later"
        ({"token_status": 502, "token_body": "html"}, None),
        ({"token_status": 503, "token_retry_after": 120}, 120),
        ({"token_status": 429, "token_retry_after": 600}, 600),
        ({"token_status": 429}, None),
        ({"token_status": 200, "token_body": "html"}, None),  # a 200 that is not JSON
        ({"token_status": 200, "token_body": "null"}, None),  # JSON, but no object
        ({"token_status": 200, "token_body": "list"}, None),
    ],
    ids=[
        "500",
        "500-retry-after",
        "502-html",
        "503-retry",
        "429-retry",
        "429",
        "200-not-json",
        "200-null",
        "200-list",
    ],
)
def test_an_unusable_answer_is_sso_unavailable_and_the_next_redemption_reaches_entra(
    fake_entra: FakeEntra,
    entra_directory: EntraTestDirectory,
    http: requests.Session,
    faults: dict[str, Any],
    retry_after: int | None,
) -> None:
    client = entra_client(fake_entra, http)
    creds = credentials(entra_directory)
    flow_a, answer_a = code_for(client, creds, entra_directory, http, "one_group")
    flow_b, answer_b = code_for(client, creds, entra_directory, http, "several_groups")
    fake_entra.set_faults(**faults, token_fault_times=1)

    error = refusal(lambda: client.redeem(creds, flow_a, answer_a))
    assert isinstance(error, SsoUnavailable)
    assert error.retry_after == retry_after
    if retry_after:
        assert "try again in" in error.description
    seen = token_posts(fake_entra)
    # Person B, at once, on the same app: a fresh request to Entra, and a token.
    result = client.redeem(creds, flow_b, answer_b)
    assert result.id_token
    assert token_posts(fake_entra) == seen + 1


def test_no_answer_in_time_is_sso_unavailable(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = entra_client(fake_entra, http)
    creds = credentials(entra_directory)
    flow, answer = code_for(client, creds, entra_directory, http)
    fake_entra.set_faults(token_delay=3.0)  # the session reads for 2 s
    error = refusal(lambda: client.redeem(creds, flow, answer))
    assert isinstance(error, SsoUnavailable)
    assert "in time" in error.description


def test_an_unreachable_entra_is_sso_unavailable(
    make_fake_entra: Callable[..., FakeEntra],
    entra_directory: EntraTestDirectory,
    http: requests.Session,
) -> None:
    entra = make_fake_entra(entra_directory.document())
    client = entra_client(entra, http)
    creds = credentials(entra_directory)
    flow, answer = code_for(client, creds, entra_directory, http)  # the app is built
    entra.stop()  # and then Entra is gone: the connection is refused
    error = refusal(lambda: client.redeem(creds, flow, answer))
    assert isinstance(error, SsoUnavailable)
    assert "could not be reached" in error.description


def test_a_redeemed_code_is_sso_idp_rejected_with_its_aadsts_number(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = entra_client(fake_entra, http)
    creds = credentials(entra_directory)
    flow, answer = code_for(client, creds, entra_directory, http)
    client.redeem(creds, flow, answer)
    error = refusal(lambda: client.redeem(creds, flow, answer))
    assert type(error) is SsoIdpRejected
    assert error.reference is not None and error.reference.startswith("AADSTS")
    assert error.reference in error.description


def test_a_refused_client_secret_is_sso_idp_rejected_keeping_entras_number(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = entra_client(fake_entra, http)
    wrong = credentials(entra_directory, secret="not-the-secret")
    flow, answer = code_for(client, wrong, entra_directory, http)
    error = refusal(lambda: client.redeem(wrong, flow, answer))
    assert isinstance(error, ClientSecretRejected)
    assert error.code == "sso_idp_rejected"
    assert error.reference == "AADSTS7000215"


def test_only_a_state_that_is_not_the_flows_is_invalid_state(
    fake_entra: FakeEntra, entra_directory: EntraTestDirectory, http: requests.Session
) -> None:
    client = entra_client(fake_entra, http)
    creds = credentials(entra_directory)
    flow, answer = code_for(client, creds, entra_directory, http)
    seen = token_posts(fake_entra)
    for state in ("", "x" + answer["state"], "\ud800"):
        with pytest.raises(InvalidState):
            client.redeem(creds, flow, answer | {"state": state})
    assert token_posts(fake_entra) == seen  # nothing was sent to Entra


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        (" 5 ", 5),
        ("0", None),  # no wait worth telling
        ("999999", 3600),
        ("9" * 5000, 3600),
        ("Fri, 04 Dec 2026 19:00:30 GMT", 30),
        ("Fri, 04 Dec 2026 18:00:00 GMT", None),
        ("-5", None),
        ("soon", None),
        ("1e3", None),
        ("", None),
        (None, None),
        ("٣", None),  # a digit, but not an ASCII one
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date_and_capped_at_an_hour(
    header: str | None, seconds: int | None
) -> None:
    import datetime as dt

    now = dt.datetime(2026, 12, 4, 19, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after(header, now=now) == seconds
