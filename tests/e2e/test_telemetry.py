"""Telemetry as an operator reads it, recorded by OpenTelemetry's in-memory reader
instead of Azure Monitor (the exporter is the edge this machine cannot reach):
sign-in outcomes by tenant and code, Entra and Graph call times, Table and Key
Vault requests per request; no attribute carries a person's data. And without
APPLICATIONINSIGHTS_CONNECTION_STRING no OpenTelemetry module is ever loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared import telemetry
from tests.support.signin import TENANT, SignInSystem


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    found = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[found]))
    yield found
    telemetry.stop()


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    found.setdefault(metric.name, []).append((dict(point.attributes or {}), point))
    return found


def test_sign_ins_entra_calls_and_storage_requests_are_measured_without_pii(
    signin_system: SignInSystem, reader: InMemoryMetricReader
) -> None:
    system = signin_system
    assert system.browser_sign_in("many_groups").status_code == 302  # Graph for the groups
    system.entra.set_faults(token_status=503, token_fault_times=1)
    assert system.browser_sign_in("one_group").status_code == 302  # Entra unavailable
    seen = points(reader)

    outcomes = {(a["tenant"], a["outcome"]): p.value for a, p in seen["entrabridge.sign_ins"]}
    assert outcomes == {(TENANT, "success"): 1, (TENANT, "sso_unavailable"): 1}
    calls = {a["call"] for a, _ in seen["entrabridge.entra.duration"]}
    assert {"token", "graph"} <= calls
    tables = {a["route"]: p for a, p in seen["entrabridge.request.table_calls"]}
    assert tables["callback"].count >= 2 and tables["callback"].sum >= 2
    assert "entrabridge.request.vault_calls" in seen

    people = [u for u in system.directory.users.values()]
    forbidden = {p.upn for p in people} | {p.oid for p in people} | {"@"}
    for name, entries in seen.items():
        for attributes, _ in entries:
            for value in attributes.values():
                assert not any(f in str(value) for f in forbidden), (name, attributes)


def test_the_credential_watch_reports_its_counts(
    signin_system: SignInSystem, reader: InMemoryMetricReader
) -> None:
    import dataclasses
    import datetime as dt

    config = signin_system.services.configs.read_now(TENANT)
    assert config is not None
    soon = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=5)
    signin_system.services.configs.put_tenant(
        TENANT, "Contoso", dataclasses.replace(config, client_secret_expires_on=soon)
    )
    signin_system.services.credential_watch.run()
    counts = {a["standing"]: p.sum for a, p in points(reader)["entrabridge.credentials"]}
    assert counts == {"expiring": 1, "expired": 0}


def test_without_the_setting_no_opentelemetry_module_is_loaded() -> None:
    probe = (
        "import sys, function_app, functions.status;"
        "from shared import telemetry; telemetry.configure_from_environment();"
        "print(','.join(m for m in sys.modules if m.startswith(('opentelemetry','azure.monitor'))))"
    )
    env = {k: v for k, v in os.environ.items() if k != telemetry.CONNECTION_SETTING}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == ""
