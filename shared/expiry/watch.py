"""The daily credential watch (functions/credential_watch.py's timer): every tenant's
secret expiry assessed; an expiring (under 30 days) or expired one is written to
the tenant's audit log as `credential_expiring` / `credential_expired` once per
day, however many instances run the timer: a marker row for the day is created
in the same transaction as the event, and a second run's transaction fails on it.
A tenant whose write fails is skipped, the others are recorded, and the run then
fails naming it (a run later that day records it; else the next day's does).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared import telemetry
from shared.expiry.assess import CredentialStanding, assess_in_use, counts
from shared.store.rows import EXPIRES_AT, Op, Tables, TransactionFailed
from shared.store.tenant_partition import TABLE
from shared.tenants.model import OAuth2Config

log = logging.getLogger("shared.expiry")
ACTOR = "credential_watch"


class Tenants(Protocol):
    def configured_tenants(self) -> list[tuple[str, OAuth2Config]]: ...


class Events(Protocol):
    def event(self, tenant: str, action: str, *, actor: str, detail: str | None = None) -> Op: ...


class CredentialWatchIncomplete(Exception):
    """The run recorded every tenant it could; these tenants' events were not written."""

    def __init__(self, tenants: list[str]) -> None:
        self.tenants = tenants
        super().__init__(f"credential watch: {len(tenants)} tenant(s) not recorded: {tenants}")


@dataclass
class CredentialWatch:
    tenants: Tenants
    tables: Tables
    audit: Events
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))

    def standings(self) -> list[CredentialStanding]:
        today = self.clock().date()
        found = (
            assess_in_use(slug, config, today=today)
            for slug, config in self.tenants.configured_tenants()
        )
        return [standing for standing in found if standing is not None]

    def run(self) -> list[CredentialStanding]:
        """Assess every tenant and record today's events; the standings that need
        attention (whether recorded now or earlier today)."""
        attention = [s for s in self.standings() if s.needs_attention]
        failed: list[str] = []
        for standing in attention:
            try:
                self._record_once_today(standing)
            except Exception as error:  # one tenant's failure must not cost the others
                log.error(
                    "credential watch: recording tenant %s failed (%s)",
                    standing.tenant,
                    type(error).__name__,
                )
                failed.append(standing.tenant)
        counted = counts(attention)
        telemetry.credential_standings(counted)
        if attention:
            log.warning(
                "credential watch: %d expiring, %d expired",
                counted["expiring"],
                counted["expired"],
            )
        if failed:
            raise CredentialWatchIncomplete(failed)  # the run fails, loudly, after the others
        return attention

    def _record_once_today(self, standing: CredentialStanding) -> None:
        now = self.clock()
        action = f"credential_{standing.standing}"
        marker = {
            "PartitionKey": standing.tenant,
            "RowKey": f"credwatch:{now.date().isoformat()}:{action}",
            EXPIRES_AT: now + dt.timedelta(days=2),
        }
        detail = f"{standing.credential}: {standing.days_left} days left"
        try:
            self.tables.transact(
                TABLE,
                [
                    Op("create", marker),
                    self.audit.event(standing.tenant, action, actor=ACTOR, detail=detail),
                ],
            )
        except TransactionFailed as failure:
            if failure.reason != "exists":
                raise  # storage refused something else: the timer's run fails, loudly
