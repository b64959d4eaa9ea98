"""What carries a credential never shows it in a repr: a repr is what a log line, an
exception message or a failed assertion prints."""

from __future__ import annotations

import datetime as dt

from shared.entra.certificates import new_certificate
from shared.entra.client import TokenResult
from shared.onboarding.consent import Proof
from shared.sessions.types import SessionTokens
from shared.signin.transaction import AuthTransaction

NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def test_tokens_verifiers_and_keys_stay_out_of_reprs() -> None:
    tokens = SessionTokens("access-SECRET", 900, "refresh-SECRET", 3600, "sid-1")
    result = TokenResult(id_token="id-SECRET", access_token="graph-SECRET")
    proof = Proof.new()
    attempt = AuthTransaction(
        tenant="acme",
        state="state-SECRET",
        msal_flow={"code_verifier": "verifier-SECRET"},
        mode="redirect",
        return_to="/",
        browser_binding=None,
        created_at=NOW,
        expires_at=NOW,
    )
    certificate = new_certificate(subject="acme", now=NOW)
    shown = " ".join(repr(x) for x in (tokens, result, proof, attempt, certificate))
    assert "SECRET" not in shown
    assert proof.code_verifier not in shown and proof.nonce not in shown
    assert "PRIVATE KEY" not in shown
    assert "sid-1" in shown and "acme" in shown  # what identifies them still shows
