"""Telemetry an operator can read in Azure Monitor, through OpenTelemetry.

Off unless APPLICATIONINSIGHTS_CONNECTION_STRING is set: then the first request
configures `azure-monitor-opentelemetry` (imported only then: no OpenTelemetry
module is loaded otherwise, and every function here is a no-op). Instruments:

- `entrabridge.sign_ins` (counter): complete sign-ins by `tenant` (its slug, or
  `unknown`) and `outcome` (`success` or the contract's error code);
- `entrabridge.entra.duration` (histogram, s): Entra's token endpoint, JWKS and
  Graph calls by `call`;
- `entrabridge.request.table_calls` / `entrabridge.request.vault_calls`
  (histograms): Table Storage and Key Vault requests made by one HTTP request,
  by `route` (the function's name);
- `entrabridge.credentials` (histogram): the daily credential watch's counts of
  tenants by `standing` (`expiring`, `expired`).

No attribute carries a person's data, a token or a secret: tenant slugs, error
codes, call kinds and function names only.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
_lock = threading.Lock()
_configured = False


@dataclass(frozen=True)
class _Instruments:
    sign_ins: Any
    entra_duration: Any
    table_calls: Any
    vault_calls: Any
    credentials: Any


_instruments: _Instruments | None = None
_calls: ContextVar[dict[str, int] | None] = ContextVar("entrabridge_calls", default=None)


def configure_from_environment() -> None:
    """Once per process, on the first request: Azure Monitor when the connection
    string is set; nothing (and no import) otherwise."""
    global _configured
    if _configured:
        return
    with _lock:
        if _configured:
            return
        _configured = True
        if not os.environ.get(CONNECTION_SETTING):
            return
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics

        configure_azure_monitor()
        _use(metrics.get_meter_provider())


def use_meter_provider(provider: Any) -> None:
    """Record through `provider` (tests: the SDK's in-memory reader)."""
    with _lock:
        _use(provider)


def stop() -> None:
    """Record nothing any more (tests)."""
    global _instruments
    with _lock:
        _instruments = None


def _use(provider: Any) -> None:
    global _instruments
    meter = provider.get_meter("entrabridge")
    _instruments = _Instruments(
        sign_ins=meter.create_counter("entrabridge.sign_ins", description="Complete sign-ins"),
        entra_duration=meter.create_histogram(
            "entrabridge.entra.duration", unit="s", description="Entra and Graph calls"
        ),
        table_calls=meter.create_histogram(
            "entrabridge.request.table_calls", description="Table Storage requests per request"
        ),
        vault_calls=meter.create_histogram(
            "entrabridge.request.vault_calls", description="Key Vault requests per request"
        ),
        credentials=meter.create_histogram(
            "entrabridge.credentials", description="Tenants' credentials by standing, per watch"
        ),
    )


def credential_standings(counts: dict[str, int]) -> None:
    """The credential watch's counts (`expiring`, `expired`), one point per run."""
    if _instruments is not None:
        for standing, count in counts.items():
            _instruments.credentials.record(count, {"standing": standing})


def sign_in_outcome(tenant: str, outcome: str) -> None:
    if _instruments is not None:
        _instruments.sign_ins.add(1, {"tenant": tenant, "outcome": outcome})


@contextmanager
def timed_entra(call: str) -> Iterator[None]:
    """Time one call to Entra or Graph (`token`, `jwks`, `graph`)."""
    if _instruments is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        _instruments.entra_duration.record(time.perf_counter() - started, {"call": call})


def count_call(kind: str) -> None:
    """One Table Storage (`table`) or Key Vault (`vault`) request of this request."""
    counts = _calls.get()
    if counts is not None:
        counts[kind] = counts.get(kind, 0) + 1


@contextmanager
def counting_calls(route: str) -> Iterator[None]:
    """Count the storage requests made while an HTTP function runs, and record them."""
    if _instruments is None:
        yield
        return
    token = _calls.set({})
    try:
        yield
    finally:
        counts = _calls.get() or {}
        _calls.reset(token)
        instruments = _instruments
        if instruments is not None:
            instruments.table_calls.record(counts.get("table", 0), {"route": route})
            instruments.vault_calls.record(counts.get("vault", 0), {"route": route})
