"""The Bicep in infra/ deploys a locked-down system, read from the parsed templates.

No Bicep CLI or Azure subscription is available here, so these tests read the
templates' syntax trees (tests/infra/bicep.py) and assert what a security
reviewer would check by eye: no shared keys, nothing public, RBAC only, the
least-privilege roles, Flex Consumption with Python 3.11, HTTPS and TLS 1.2,
and the wiring between main.bicep and its modules that a compiler would check.
`make infra-check` (infra/check.sh) adds checkov's policies on top.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.infra.bicep import (
    INFRA,
    ROOT,
    Resource,
    Template,
    accessor_path,
    all_template_paths,
    function_call,
    template,
    walk,
)

# Built-in role definition ids (identical in every Azure tenant).
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def main() -> Template:
    return template("main.bicep")


def module_of(symbol: str) -> Template:
    return template(main().modules[symbol]["detail"]["path"])


def app_settings() -> dict[str, Any]:
    settings = module_of("appSettings").the("Microsoft.Web/sites/config").body["properties"]
    assert isinstance(settings, dict)
    return settings


# --- every template --------------------------------------------------------------


def test_every_parameter_says_what_it_is_for() -> None:
    undescribed = [
        f"{path}: {name}"
        for path in all_template_paths()
        for name in template(path).parameters
        if not template(path).decorator(name, "description")
    ]
    assert undescribed == []


def test_no_template_reads_a_storage_key_or_builds_a_connection_string() -> None:
    for path in all_template_paths():
        tree = json.dumps(template(path).data)  # the syntax tree: comments are not in it
        for forbidden in ("AccountKey", "SharedAccessSignature", "DefaultEndpointsProtocol"):
            assert forbidden not in tree, f"{path} mentions {forbidden}"
        calls = {call[0] for node in walk(template(path).data) if (call := function_call(node))}
        assert not {c for c in calls if c.startswith("list")}, f"{path} calls {calls}"


def test_every_checkov_skip_gives_its_reason() -> None:
    skip = re.compile(r"//\s*checkov:skip=(?P<id>[A-Z0-9_]+)(?P<rest>.*)")
    for path in INFRA.rglob("*.bicep"):
        for line in path.read_text().splitlines():
            if match := skip.search(line):
                reason = match["rest"].lstrip(":").strip()
                assert len(reason.split()) >= 5, f"{path.name}: {match['id']} has no real reason"


# --- storage ---------------------------------------------------------------------


def test_storage_accepts_only_entra_identities_over_https() -> None:
    account = module_of("storage").the("Microsoft.Storage/storageAccounts").body["properties"]
    assert account["allowSharedKeyAccess"] is False  # no keys, so no connection strings or SAS
    assert account["defaultToOAuthAuthentication"] is True
    assert account["allowBlobPublicAccess"] is False
    assert account["allowCrossTenantReplication"] is False
    assert account["supportsHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"


def test_the_deployment_package_container_is_private() -> None:
    container = module_of("storage").the(
        "Microsoft.Storage/storageAccounts/blobServices/containers"
    )
    assert container.body["properties"]["publicAccess"] == "None"


def test_bicep_creates_only_tables_the_app_uses() -> None:
    # The app creates any missing table on first use (shared/store/tables.py), so a
    # table missing here is harmless; a table here that the app no longer uses is
    # a leftover.
    used = {
        match[1]
        for path in (ROOT / "shared" / "store").glob("*.py")
        for match in re.finditer(r'^TABLE = "(\w+)"', path.read_text(), re.M)
    }
    created = set(main().variable("tableNames"))
    assert created, "main.bicep creates no tables"
    assert created <= used, f"tables nobody uses: {created - used}"
    tables = module_of("storage").the("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert tables.loop_array == "tableNames"


# --- key vault -------------------------------------------------------------------


def test_key_vault_uses_rbac_only_and_cannot_be_purged() -> None:
    vault = module_of("keyVault").the("Microsoft.KeyVault/vaults").body["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault.get("accessPolicies", []) == []
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert vault["softDeleteRetentionInDays"] >= 7
    assert vault["enabledForTemplateDeployment"] is False


def test_the_platform_admin_key_is_a_vault_secret_from_a_secure_parameter() -> None:
    vault_module = module_of("keyVault")
    secret = vault_module.the("Microsoft.KeyVault/vaults/secrets").body
    assert secret["properties"]["value"] == "platformAdminKey"
    assert vault_module.decorator("platformAdminKey", "secure") is True
    assert main().decorator("platformAdminKey", "secure") is True
    assert main().parameters["platformAdminKey"]["default"] is None
    assert main().decorator("platformAdminKey", "min_length") >= 32
    generate = main().decorator("platformAdminKey", "metadata")["azd"]
    assert generate["type"] == "generate"  # azd makes one; az users pass their own


def test_every_vault_access_is_audited() -> None:
    diagnostics = module_of("keyVault").the("Microsoft.Insights/diagnosticSettings").body
    assert diagnostics["scope"] == "vault"
    assert {"categoryGroup": "audit", "enabled": True} in diagnostics["properties"]["logs"]


# --- function app ----------------------------------------------------------------


def test_the_plan_is_flex_consumption_on_linux() -> None:
    plan = module_of("functionApp").the("Microsoft.Web/serverfarms").body
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True  # Linux


def test_the_app_runs_python_3_11_with_its_own_identity() -> None:
    site = module_of("functionApp").the("Microsoft.Web/sites").body
    assert site["kind"] == "functionapp,linux"
    assert site["identity"] == {"type": "SystemAssigned"}
    assert site["properties"]["functionAppConfig"]["runtime"] == {
        "name": "python",
        "version": "3.11",
    }


def test_the_app_serves_only_https_with_tls_1_2_and_no_basic_auth() -> None:
    app = module_of("functionApp")
    site = app.the("Microsoft.Web/sites").body["properties"]
    assert site["httpsOnly"] is True
    assert site["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["siteConfig"]["scmMinTlsVersion"] == "1.2"
    # Flex Consumption has no FTP endpoint, and ARM refuses ftpsState on Flex apps in
    # some regions (error 51021); the schema check refuses it too.
    assert "ftpsState" not in site["siteConfig"]
    scm = app.the("Microsoft.Web/sites/basicPublishingCredentialsPolicies").body
    assert (scm["name"], scm["properties"]["allow"]) == ("scm", False)


def test_the_deployment_container_is_read_with_the_app_identity() -> None:
    storage = (
        module_of("functionApp")
        .the("Microsoft.Web/sites")
        .body["properties"]["functionAppConfig"]["deployment"]["storage"]
    )
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}


def test_one_instance_serves_many_sign_ins_at_once_with_as_many_python_threads() -> None:
    app = module_of("functionApp")
    scale = app.the("Microsoft.Web/sites").body["properties"]["functionAppConfig"][
        "scaleAndConcurrency"
    ]
    assert scale["triggers"]["http"]["perInstanceConcurrency"] == "httpPerInstanceConcurrency"
    assert app.decorator("httpPerInstanceConcurrency", "min_value") > 1
    assert main().decorator("httpPerInstanceConcurrency", "min_value") > 1
    assert main().parameters["httpPerInstanceConcurrency"]["default"] > 1
    passed = main().modules["functionApp"]["config"]["params"]
    assert passed["httpPerInstanceConcurrency"] == "httpPerInstanceConcurrency"
    threads = main().modules["appSettings"]["config"]["params"]["pythonThreadCount"]
    assert threads == "httpPerInstanceConcurrency"


def test_always_ready_instances_default_to_none_and_memory_is_a_parameter() -> None:
    assert main().parameters["alwaysReadyInstanceCount"]["default"] == 0
    assert main().parameters["instanceMemoryMB"]["default"] in main().decorator(
        "instanceMemoryMB", "allowed"
    )
    scale = (
        module_of("functionApp")
        .the("Microsoft.Web/sites")
        .body["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    )
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    always_ready = scale["alwaysReady"]["operator"]["operands"]["true_value"]
    assert always_ready == [{"name": "http", "instanceCount": "alwaysReadyInstanceCount"}]


# --- app settings ----------------------------------------------------------------


def test_the_app_gets_the_contract_settings() -> None:
    settings = app_settings()
    for name in ("PUBLIC_BASE_URL", "KEY_VAULT_URI", "TABLES_ENDPOINT", "PLATFORM_ADMIN_KEY"):
        assert name in settings
    assert settings["AZURE_CREDENTIAL_MODE"] == "managed"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD"
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings


def test_the_platform_admin_key_setting_is_a_key_vault_reference() -> None:
    reference = app_settings()["PLATFORM_ADMIN_KEY"]
    assert reference == "@Microsoft.KeyVault(SecretUri=${platformAdminKeySecretUri})"
    secret_uri = module_of("keyVault").outputs["platformAdminKeySecretUri"]["value"]
    # Versionless (secretUri, not secretUriWithVersion): the reference follows rotation.
    assert accessor_path(secret_uri) == ["platformAdminKeySecret", "properties", "secretUri"]


def test_the_host_reaches_storage_with_its_identity_not_a_connection_string() -> None:
    settings = app_settings()
    assert "AzureWebJobsStorage" not in settings
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "TABLES_CONNECTION_STRING" not in settings
    secretish = [
        name
        for name in settings
        if re.search(r"CONNECTION_STRING|KEY$|SECRET|PASSWORD", name)
        and name not in ("APPLICATIONINSIGHTS_CONNECTION_STRING", "PLATFORM_ADMIN_KEY")
    ]
    assert secretish == []


def test_no_setting_flex_consumption_refuses() -> None:
    # Flex Consumption sets the runtime in functionAppConfig and rejects these.
    refused = {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
    }
    assert refused.isdisjoint(app_settings())


def test_app_settings_are_written_after_the_role_assignments() -> None:
    # Otherwise the first start resolves the Key Vault reference without access and
    # App Service hands the app the literal reference text as PLATFORM_ADMIN_KEY.
    assert "roles" in main().modules["appSettings"]["config"]["dependsOn"]


# --- role assignments ------------------------------------------------------------


def _assignment_roles(roles: Template, assignment: Resource) -> list[str]:
    call = function_call(assignment.body["properties"]["roleDefinitionId"])
    assert call is not None and call[0] == "subscription_resource_id"
    role = call[1]["resource_name_1"]
    if assignment.loop_array is not None:
        assert role == assignment.loop_item
        return [str(r) for r in roles.resolve_list(assignment.loop_array)]
    return [str(roles.variable(role))]


def test_the_app_identity_gets_exactly_the_least_privilege_roles() -> None:
    roles = module_of("roles")
    granted: dict[str, set[str]] = {}
    for assignment in roles.resources_of("Microsoft.Authorization/roleAssignments"):
        if assignment.body["properties"]["principalId"] != "principalId":
            continue  # the operator's assignment, below
        assert assignment.body["properties"]["principalType"] == "ServicePrincipal"
        scope = roles.symbol(assignment.body["scope"]).type
        granted.setdefault(scope, set()).update(_assignment_roles(roles, assignment))
    assert granted == {
        "Microsoft.KeyVault/vaults": {KEY_VAULT_SECRETS_OFFICER},
        "Microsoft.Storage/storageAccounts": {
            STORAGE_TABLE_DATA_CONTRIBUTOR,
            STORAGE_BLOB_DATA_OWNER,
        },
        "Microsoft.Insights/components": {MONITORING_METRICS_PUBLISHER},
    }


def test_role_assignment_names_are_deterministic_per_scope_principal_and_role() -> None:
    roles = module_of("roles")
    for assignment in roles.resources_of("Microsoft.Authorization/roleAssignments"):
        call = function_call(assignment.body["name"])
        assert call is not None and call[0] == "guid", f"{assignment.symbol}: name is not a guid()"
        arguments = list(call[1].values())
        assert accessor_path(arguments[0]) == [assignment.body["scope"], "id"]
        principal = assignment.body["properties"]["principalId"]
        role = function_call(assignment.body["properties"]["roleDefinitionId"])
        assert role is not None
        assert principal in arguments and role[1]["resource_name_1"] in arguments


def test_the_operator_may_read_the_platform_admin_key_and_nothing_else() -> None:
    roles = module_of("roles")
    operator = [
        a
        for a in roles.resources_of("Microsoft.Authorization/roleAssignments")
        if a.body["properties"]["principalId"] == "operatorPrincipalId"
    ]
    assert len(operator) == 1
    assert roles.symbol(operator[0].body["scope"]).type == "Microsoft.KeyVault/vaults/secrets"
    assert _assignment_roles(roles, operator[0]) == [KEY_VAULT_SECRETS_USER]
    assert operator[0].condition is not None  # only when an operator id is given
    assert main().parameters["operatorPrincipalId"]["default"] == ""


def test_the_roles_go_to_the_function_app_identity() -> None:
    principal = main().modules["roles"]["config"]["params"]["principalId"]
    assert accessor_path(principal) == ["functionApp", "outputs", "principalId"]
    assert accessor_path(module_of("functionApp").outputs["principalId"]["value"]) == [
        "site",
        "identity",
        "principalId",
    ]


# --- monitoring ------------------------------------------------------------------


def test_telemetry_and_logs_accept_only_entra_identities() -> None:
    monitoring = module_of("monitoring")
    insights = monitoring.the("Microsoft.Insights/components").body["properties"]
    assert insights["DisableLocalAuth"] is True
    assert accessor_path(insights["WorkspaceResourceId"]) == ["workspace", "id"]
    workspace = monitoring.the("Microsoft.OperationalInsights/workspaces").body["properties"]
    assert workspace["features"]["disableLocalAuth"] is True


# --- main.bicep: wiring a compiler would check -----------------------------------


def test_main_deploys_into_a_resource_group() -> None:
    assert main().data["globals"]["scope"]["value"] == "resourceGroup"


def test_each_module_gets_exactly_the_parameters_it_declares() -> None:
    assert len(main().modules) == 6
    for symbol, module in main().modules.items():
        declared = module_of(symbol).parameters
        passed = set(module["config"]["params"])
        assert passed <= set(declared), f"{symbol}: unknown parameters {passed - set(declared)}"
        required = {name for name, p in declared.items() if p.get("default") is None}
        assert required <= passed, f"{symbol}: missing parameters {required - passed}"


def test_every_module_output_main_reads_exists() -> None:
    read = {
        tuple(path[:3])
        for node in walk(main().data)
        if len(path := accessor_path(node)) >= 3
        and path[0] in main().modules
        and path[1] == "outputs"
    }
    assert read, "main.bicep reads no module outputs"
    for symbol, _, output in read:
        assert output in module_of(symbol).outputs, f"{symbol} has no output {output}"


def test_outputs_give_the_uris_an_entra_admin_registers() -> None:
    outputs = main().outputs
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in outputs), "azd wants UPPER_SNAKE"
    assert outputs["REDIRECT_URI_TEMPLATE"]["value"] == "${baseUrl}/api/auth/{tenant}/callback"
    assert (
        outputs["FRONT_CHANNEL_LOGOUT_URI_TEMPLATE"]["value"]
        == "${baseUrl}/api/auth/{tenant}/logout"
    )
    for name in ("FUNCTION_APP_URL", "PUBLIC_BASE_URL", "KEY_VAULT_URI", "FUNCTION_APP_NAME"):
        assert name in outputs
    # The templates name routes the app really serves.
    routes = set(re.findall(r'route="([^"]+)"', (ROOT / "functions" / "auth.py").read_text()))
    assert {"api/auth/{tenant}/callback", "api/auth/{tenant}/logout"} <= routes


def test_the_public_base_url_defaults_to_the_app_own_https_host() -> None:
    assert main().parameters["publicBaseUrl"]["default"] == ""
    assert main().variable("functionAppUrl") == "https://${functionApp.outputs.defaultHostName}"
    assert main().modules["appSettings"]["config"]["params"]["publicBaseUrl"] == "baseUrl"


# --- azd -------------------------------------------------------------------------


def test_azd_parameters_name_only_parameters_main_declares() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(parameters) <= set(main().parameters)
    # azd generates the key and keeps it in .azure/ (gitignored); never a fixed value here.
    assert "platformAdminKey" not in parameters
    required = {n for n, p in main().parameters.items() if p.get("default") is None}
    assert required - set(parameters) == {"platformAdminKey"}


def test_azd_deploys_the_code_to_the_tagged_function_app() -> None:
    project = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    [(service, config)] = project["services"].items()
    assert config == {"project": ".", "language": "python", "host": "function"}
    tags = function_call(module_of("functionApp").the("Microsoft.Web/sites").body["tags"])
    assert tags is not None and tags[0] == "union"
    assert tags[1]["arg_2"] == {"'azd-service-name'": service}
