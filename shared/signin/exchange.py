"""From an authorization code to a person Entra vouched for: the tenant's client
credentials, the code's redemption (recovering from a client secret rotated
elsewhere), full ID-token validation, and the groups (from Graph on overage).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping

from shared.entra.client import ClientCredentials, ClientSecretRejected, TokenResult
from shared.entra.id_tokens import IdClaims, email_from_claims
from shared.entra.keys import KeySource, validate_with_directory_keys
from shared.errors import IdpError, SsoDisabled, SsoNoEmailClaim, SsoUnavailable
from shared.secret import Secret
from shared.settings import Settings
from shared.signin.ports import AuditLog, ClientSecretSource, ConfigSource, Entra
from shared.signin.provisioning import SignInIdentity
from shared.signin.transaction import AuthTransaction
from shared.tenants.model import OAuth2Config

log = logging.getLogger("entrabridge.signin")


class TokenExchange:
    def __init__(
        self,
        *,
        settings: Settings,
        configs: ConfigSource,
        client_secrets: ClientSecretSource,
        entra: Entra,
        keys: KeySource,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._configs = configs
        self._client_secrets = client_secrets
        self._entra = entra
        self._keys = keys
        self._audit = audit
        self._clock = clock

    def credentials(self, tenant: str, config: OAuth2Config) -> ClientCredentials:
        """The tenant's client id and current secret; SsoDisabled when the secret the
        config names cannot be read (the tenant row says so, for the login page)."""
        secret = self._client_secrets.current(tenant, config)
        if (secret is None) != config.client_secret_unavailable:
            # Tell the status route and login page (they cannot ask Key Vault): no
            # more button that leads here, or the button back. Written on a change only.
            self._configs.mark_client_secret(tenant, unavailable=secret is None)
        if secret is None:
            raise SsoDisabled("Single sign-on is not fully configured for this tenant.")
        return _with_secret(config, secret)

    def redeem(
        self,
        tenant: str,
        config: OAuth2Config,
        transaction: AuthTransaction,
        auth_response: Mapping[str, str],
        *,
        ip: str | None,
    ) -> TokenResult:
        creds = self.credentials(tenant, config)
        try:
            redeemed = self._entra.redeem(creds, transaction.msal_flow, auth_response)
        except ClientSecretRejected as rejected:
            refusal = rejected
        else:
            self._proven(tenant, config, creds.secret_version)
            return redeemed
        # Entra refused the secret: maybe another instance rotated it (re-read the
        # config and the secret), maybe the new version is not live yet in Entra (try
        # the previous one once).
        config = self._configs.read_now(tenant) or config
        fresh = self._client_secrets.refreshed(tenant, config)
        if fresh is not None and fresh[1] != creds.secret_version:
            self._audit.record(tenant, "client_secret_reloaded", actor="system", ip=ip)
            redeemed = self._entra.redeem(
                _with_secret(config, fresh), transaction.msal_flow, auth_response
            )
            self._proven(tenant, config, fresh[1])
            return redeemed
        previous = self._client_secrets.previous(tenant, config, creds.secret_version)
        if previous is None:
            raise refusal
        self._audit.record(tenant, "client_secret_previous_version_used", actor="system", ip=ip)
        return self._entra.redeem(
            _with_secret(config, previous), transaction.msal_flow, auth_response
        )

    def _proven(self, tenant: str, config: OAuth2Config, version: str) -> None:
        """`version` redeemed a code: if the config has it pending, it is proven (a
        further rotation may demote it to fallback). Best effort: the sign-in it
        proved does not fail for this mark."""
        if not config.client_secret_pending:
            return
        try:
            self._configs.mark_client_secret_proven(tenant, version)
        except SsoUnavailable:
            log.warning("tenant %s: the working client secret could not be marked", tenant)

    def validate(
        self, config: OAuth2Config, transaction: AuthTransaction, id_token: str
    ) -> IdClaims:
        return validate_with_directory_keys(
            id_token,
            keys=self._keys,
            issuer_host=self._settings.entra_authority_host,
            tenant_id=config.tenant_id or "",
            client_id=config.client_id or "",
            nonce_hash=_nonce_hash(str(transaction.msal_flow.get("nonce", ""))),
            now=self._clock(),
        )

    def identity(self, claims: IdClaims, tokens: TokenResult) -> SignInIdentity:
        email = email_from_claims(claims)
        if not email:
            raise SsoNoEmailClaim()
        if claims.has_groups_overage:
            if not tokens.access_token:
                raise IdpError("Microsoft Entra ID returned no access token to read groups.")
            groups = self._entra.security_group_ids(tokens.access_token)
        else:
            groups = tuple(g.lower() for g in claims.groups or ())
        return SignInIdentity(
            tenant_id=claims.tid,
            object_id=claims.oid,
            email=email,
            name=claims.name or email,
            group_ids=groups,
            username=claims.preferred_username,
        )


def _with_secret(config: OAuth2Config, secret: tuple[Secret, str]) -> ClientCredentials:
    return ClientCredentials(
        tenant_id=config.tenant_id or "",
        client_id=config.client_id or "",
        secret=secret[0],
        secret_version=secret[1],
    )


def _nonce_hash(nonce: str) -> str:
    # MSAL sends sha256-hex of its flow nonce as the `nonce` parameter, so that is
    # what the ID token carries.
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()
