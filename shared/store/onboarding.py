"""One-click onboarding's pending requests: single use, 10 minutes, bound to the
browser that started them.

Rows live in the `users` table under partition `_onboarding` (no tenant slug can
be that: slugs have no underscore), because Entra's callback names no tenant:
the request does. RowKey `onb:{sha256 of the state}`; only hashes of the state
and of the browser binding are stored (with the PKCE verifier and nonce that the
consent's answer is checked against). `dir:{directory}` rows (no expiry) name the
tenant that first proved a consent in each directory. Taking a request deletes it, conditionally
on the etag read, so of two callbacks with the same state exactly one proceeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from shared.store.rows import EXPIRES_AT, EntityExists, EtagMismatch, Tables
from shared.store.tenant_partition import TABLE

PARTITION = "_onboarding"
LIFETIME = dt.timedelta(minutes=10)
_MAX_STATE = 256


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class OnboardingRequest:
    tenant: str
    return_to: str
    binding_sha256: str
    actor: str
    expected_directory: str | None  # the tenant's configured Entra tenant id, if any
    # The signed consent's checks (shared.onboarding.consent): PKCE's verifier and
    # the nonce the consenting admin's ID token must carry. Single use, like the row.
    code_verifier: str = field(default="", repr=False)
    nonce: str = field(default="", repr=False)


@dataclass
class OnboardingRequests:
    tables: Tables

    def create(self, state: str, request: OnboardingRequest, *, now: dt.datetime) -> None:
        self.tables.insert(
            TABLE,
            {
                "PartitionKey": PARTITION,
                "RowKey": "onb:" + digest(state),
                "tenant": request.tenant,
                "return_to": request.return_to,
                "binding": request.binding_sha256,
                "actor": request.actor,
                "directory": request.expected_directory or "",
                "code_verifier": request.code_verifier,
                "nonce": request.nonce,
                EXPIRES_AT: now + LIFETIME,
            },
        )

    def claim_directory(self, directory: str, tenant: str) -> str:
        """The tenant that first proved a consent in `directory` (kept for good): `tenant`
        when none had, or when it was `tenant` itself."""
        key = "dir:" + directory.lower()
        try:
            self.tables.insert(TABLE, {"PartitionKey": PARTITION, "RowKey": key, "tenant": tenant})
        except EntityExists:
            row = self.tables.get(TABLE, PARTITION, key)
            return str(row.data.get("tenant") or "") if row is not None else tenant
        return tenant

    def take(self, state: str) -> OnboardingRequest | None:
        """The live request of `state`, removed for good; None when it is unknown,
        expired or taken already."""
        if not state or len(state) > _MAX_STATE:
            return None
        row = self.tables.get(TABLE, PARTITION, "onb:" + digest(state))
        if row is None:
            return None
        try:
            if not self.tables.delete(TABLE, PARTITION, row.row_key, etag=row.etag):
                return None
        except EtagMismatch:
            return None
        data = row.data
        return OnboardingRequest(
            tenant=str(data.get("tenant") or ""),
            return_to=str(data.get("return_to") or ""),
            binding_sha256=str(data.get("binding") or ""),
            actor=str(data.get("actor") or ""),
            expected_directory=str(data.get("directory") or "") or None,
            code_verifier=str(data.get("code_verifier") or ""),
            nonce=str(data.get("nonce") or ""),
        )
