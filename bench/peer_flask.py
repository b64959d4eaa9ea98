"""The peer of `make bench`: "Login with Microsoft" as a tuned Flask + Authlib app.

What a careful team writes with the usual libraries, tuned the way the sign-in
cost issue measured it: one shared HTTP connection pool for Entra (the CA bundle
loaded once, keep-alive), the JWKS fetched once, one shared Table client. It
does less than entrabridge, on purpose, as such apps do: the state lives in
Flask's signed session cookie (not single use), the ID token is checked by
joserfc, Authlib's JOSE library (signature, iss, aud, exp, nonce), the user row is upserted and a
session row inserted (two Table writes, no transaction, no audit event).

Served by werkzeug's threaded server, like the local Functions host, in its own
process: `python -m bench.peer_flask --port P --settings FILE` (the same
settings file as the host). Never shipped: it lives under bench/ only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from azure.data.tables import TableServiceClient, UpdateMode
from flask import Flask, redirect, request, session
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from shared.http import SharedTrustAdapter

TENANT = "demo"


class PeerConfig:
    def __init__(self, values: dict[str, str]) -> None:
        self.authority = f"{values['ENTRA_AUTHORITY_HOST']}/{values['PEER_ENTRA_TENANT_ID']}"
        self.client_id = values["PEER_CLIENT_ID"]
        self.client_secret = values["PEER_CLIENT_SECRET"]
        self.redirect_uri = f"{values['PUBLIC_BASE_URL']}/api/auth/{TENANT}/callback"
        self.tables = values["TABLES_CONNECTION_STRING"]
        self.ca_bundle = values["REQUESTS_CA_BUNDLE"]


def create_app(config: PeerConfig) -> Flask:
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_SECURE=False, SESSION_COOKIE_SAMESITE="Lax")
    # Shared: one pool, keep-alive, and the CA bundle loaded once (urllib3 would read
    # it again for every new connection; the same tuning entrabridge has).
    http = requests.Session()
    http.mount("https://", SharedTrustAdapter())
    http.verify = config.ca_bundle
    service = TableServiceClient.from_connection_string(config.tables)
    for name in ("peerusers", "peersessions"):
        service.create_table_if_not_exists(name)
    users = service.get_table_client("peerusers")
    sessions = service.get_table_client("peersessions")
    keys: dict[str, Any] = {}
    keys_lock = threading.Lock()

    def oauth() -> OAuth2Session:
        client = OAuth2Session(
            config.client_id,
            config.client_secret,
            scope="openid profile email",
            redirect_uri=config.redirect_uri,
            code_challenge_method="S256",
        )
        client.mount("https://", http.get_adapter("https://"))
        client.verify = config.ca_bundle
        return client

    def jwks() -> Any:
        with keys_lock:
            if "set" not in keys:
                document = http.get(f"{config.authority}/discovery/v2.0/keys", timeout=5).json()
                keys["set"] = KeySet.import_key_set(document)
            return keys["set"]

    @app.get(f"/api/auth/{TENANT}/authorize")
    def authorize() -> Response:
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        url, state = oauth().create_authorization_url(
            f"{config.authority}/oauth2/v2.0/authorize",
            code_verifier=verifier,
            nonce=nonce,
            login_hint=request.args.get("login_hint"),
        )
        session.update(state=state, verifier=verifier, nonce=nonce)
        return redirect(url)

    @app.get(f"/api/auth/{TENANT}/callback")
    def callback() -> Response:
        if not session.get("state") or request.args.get("state") != session["state"]:
            return redirect("/?sso_error=invalid_state")
        token = oauth().fetch_token(
            f"{config.authority}/oauth2/v2.0/token",
            code=request.args["code"],
            code_verifier=session.pop("verifier"),
            timeout=5,
        )
        claims = jwt.decode(token["id_token"], jwks(), algorithms=["RS256"]).claims
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": f"{config.authority}/v2.0"},
            aud={"essential": True, "value": config.client_id},
            nonce={"essential": True, "value": session.pop("nonce")},
            exp={"essential": True},
        ).validate(claims)
        user_id = hashlib.sha256(f"{claims['tid']}:{claims['oid']}".encode()).hexdigest()[:32]
        users.upsert_entity(
            {
                "PartitionKey": TENANT,
                "RowKey": user_id,
                "email": claims.get("email") or claims.get("preferred_username") or "",
                "name": claims.get("name") or "",
                "last_login_at": int(time.time()),
            },
            mode=UpdateMode.REPLACE,
        )
        session_id = secrets.token_urlsafe(24)
        sessions.create_entity({"PartitionKey": TENANT, "RowKey": session_id, "user_id": user_id})
        session.clear()
        session["sid"] = session_id
        return redirect("/")

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    options = parser.parse_args()
    values = json.loads(options.settings.read_text())["Values"]
    # requests lets REQUESTS_CA_BUNDLE override a session's `verify`: point it at ours.
    os.environ["REQUESTS_CA_BUNDLE"] = values["REQUESTS_CA_BUNDLE"]
    app = create_app(PeerConfig(values))
    from werkzeug.serving import make_server

    make_server("127.0.0.1", options.port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()
