"""The schema check (tests/infra/support/schemacheck.py) passes the templates and
refuses deliberately broken copies of them, naming the file and the property.

Each case copies infra/ into a temporary folder, makes one edit that a Bicep
build or an ARM deployment would refuse, and expects a finding in that file that
names what is wrong. The edits are the kinds of error issue 20 counted slipping
past the syntax parse, checkov and the intent tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra.support.schemacheck import Finding, check

INFRA = Path(__file__).resolve().parents[2] / "infra"


def test_the_templates_pass() -> None:
    assert [str(f) for f in check(INFRA)] == []


def broken(tmp_path: Path, file: str, old: str, new: str) -> list[Finding]:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    target = copy / file
    text = target.read_text()
    assert text.count(old) >= 1, f"{file} no longer contains {old!r}: update this case"
    target.write_text(text.replace(old, new, 1))
    return check(copy)


# (id, file, old text, new text, words the finding must contain[, file it is reported in])
CASES: list[tuple[str, ...] | tuple[Any, ...]] = [
    (
        "api-version",
        "modules/functionapp.bicep",
        "'Microsoft.Web/sites@2024-04-01' = {",
        "'Microsoft.Web/sites@2024-04-02' = {",
        ["Microsoft.Web/sites@2024-04-02", "API version"],
    ),
    (
        "property-typo",
        "modules/storage.bicep",
        "allowBlobPublicAccess: false",
        "allowBlobPublicAcess: false",
        ["allowBlobPublicAcess", "allowBlobPublicAccess"],
    ),
    (
        "always-on",
        "modules/functionapp.bicep",
        "minTlsVersion: '1.2'",
        "minTlsVersion: '1.2'\n      alwaysOn: true",
        ["siteConfig.alwaysOn", "Flex Consumption"],
    ),
    (
        "linux-fx-version",
        "modules/functionapp.bicep",
        "minTlsVersion: '1.2'",
        "minTlsVersion: '1.2'\n      linuxFxVersion: 'Python|3.11'",
        ["siteConfig.linuxFxVersion", "Flex Consumption"],
    ),
    (
        "ftps-state",
        "modules/functionapp.bicep",
        "minTlsVersion: '1.2'",
        "minTlsVersion: '1.2'\n      ftpsState: 'Disabled'",
        ["siteConfig.ftpsState", "51021"],
    ),
    (
        "content-share",
        "modules/appsettings.bicep",
        "AZURE_CREDENTIAL_MODE: 'managed'",
        "AZURE_CREDENTIAL_MODE: 'managed'\n    WEBSITE_CONTENTSHARE: 'share'",
        ["WEBSITE_CONTENTSHARE", "content share"],
    ),
    (
        "worker-runtime",
        "modules/appsettings.bicep",
        "AZURE_CREDENTIAL_MODE: 'managed'",
        "AZURE_CREDENTIAL_MODE: 'managed'\n    FUNCTIONS_WORKER_RUNTIME: 'python'",
        ["FUNCTIONS_WORKER_RUNTIME", "functionAppConfig.runtime"],
    ),
    (
        "undeclared-variable",
        "main.bicep",
        "deploymentContainerName: deploymentContainerName",
        "deploymentContainerName: deploymentContainerNam",
        ["'deploymentContainerNam' is not declared", "deploymentContainerName"],
    ),
    (
        "string-to-int",
        "main.bicep",
        "maximumInstanceCount: maximumInstanceCount",
        "maximumInstanceCount: '100'",
        ["parameter 'maximumInstanceCount'", "declared int", "string"],
    ),
    (
        "missing-location",
        "modules/monitoring.bicep",
        "  name: logAnalyticsName\n  location: location\n",
        "  name: logAnalyticsName\n",
        ["missing required property 'location'"],
    ),
    (
        "module-cycle",
        "main.bicep",
        "  name: 'monitoring'\n",
        "  name: 'monitoring'\n  dependsOn: [\n    keyVault\n  ]\n",
        ["dependency cycle", "monitoring -> keyVault -> monitoring"],
    ),
    (
        "output-type",
        "modules/storage.bicep",
        "output name string = storage.name",
        "output name int = storage.name",
        ["output 'name'", "declared int", "string"],
    ),
    (
        "enum-value",
        "modules/storage.bicep",
        "publicAccess: 'None'",
        "publicAccess: 'Private'",
        ["properties.publicAccess", "'Private'", "Container, Blob, None"],
    ),
    (
        "instance-memory",
        "modules/functionapp.bicep",
        "instanceMemoryMB: instanceMemoryMB",
        "instanceMemoryMB: 1024",
        ["instanceMemoryMB 1024", "instance size"],
    ),
    (
        "readonly-property",
        "modules/keyvault.bicep",
        "enabledForDeployment: false",
        "enabledForDeployment: false\n    hsmPoolResourceId: 'x'",
        ["properties.hsmPoolResourceId", "read-only"],
    ),
    (
        "unknown-function",
        "main.bicep",
        "var token = uniqueString(",
        "var token = uniqueStrin(",
        ["unknown function 'uniqueStrin'"],
    ),
    (
        "missing-module-output",
        "main.bicep",
        "storageAccountName: storage.outputs.name",
        "storageAccountName: storage.outputs.nam",
        ["no output 'nam'", "did you mean 'name'"],
    ),
    (
        "unknown-module-parameter",
        "main.bicep",
        "    retentionInDays: logRetentionInDays\n",
        "    retentionInDays: logRetentionInDays\n    retention: 30\n",
        ["no parameter 'retention'"],
    ),
    (
        "not-allowed-value",
        "main.bicep",
        "instanceMemoryMB: instanceMemoryMB\n",
        "instanceMemoryMB: 1024\n",
        ["1024 is not an allowed value of 'instanceMemoryMB'"],
    ),
    (
        "name-too-long",
        "main.bicep",
        "var appName = '${prefix}-func-${token}'",
        "var appName = '${prefix}-function-app-${token}-${token}-${token}'",
        ["name", "characters, above 60"],
        "modules/functionapp.bicep",
    ),
    (
        "network-module-typo",
        "modules/network.bicep",
        "privateLinkServiceId: storage.id",
        "privateLinkServiceID: storage.id",
        ["privateLinkServiceID", "did you mean 'privateLinkServiceId'"],
    ),
    (
        "custom-role-type",
        "modules/roles.bicep",
        "assignableScopes: [",
        "assignableScope: [",
        ["assignableScope", "did you mean 'assignableScopes'"],
    ),
    (
        "resource-output-typo",
        "modules/storage.bicep",
        "storage.properties.primaryEndpoints.table",
        "storage.properties.primaryEndpoints.tabel",
        ["primaryEndpoints.tabel", "did you mean 'table'"],
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "words", "reported_in"),
    [(*c[1:5], c[5] if len(c) > 5 else c[1]) for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_a_broken_copy_is_refused_naming_file_and_property(
    tmp_path: Path, file: str, old: str, new: str, words: list[str], reported_in: str
) -> None:
    findings = broken(tmp_path, file, old, new)
    assert findings, "the broken copy passed"
    in_file = [f for f in findings if f.path == f"infra/{reported_in}"]
    matching = [f for f in in_file if all(w in f.message for w in words)]
    assert matching, "\n".join(str(f) for f in findings)
