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
from tests.infra.support.schemacheck import Deployed, deployed

# Built-in role definition ids (identical in every Azure tenant).
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"


def main() -> Template:
    return template("main.bicep")


def deployment(**overrides: Any) -> list[Deployed]:
    """What main.bicep deploys with these parameters (the rest at their defaults)."""
    arguments: dict[str, Any] = {
        "namePrefix": "ebprod",
        "platformAdminKey": "k" * 48,
        "location": "westeurope",
        **overrides,
    }
    return deployed(INFRA, arguments)


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


def test_the_platform_admin_key_is_written_once_from_a_secure_parameter() -> None:
    admin_key = module_of("adminKey")
    secret = admin_key.the("Microsoft.KeyVault/vaults/secrets").body
    assert secret["properties"]["value"] == "value"
    assert admin_key.decorator("value", "secure") is True
    assert admin_key.decorator("value", "min_length") >= 32
    assert main().decorator("platformAdminKey", "secure") is True
    assert main().parameters["platformAdminKey"]["default"] is None
    assert main().decorator("platformAdminKey", "min_length") >= 32
    generate = main().decorator("platformAdminKey", "metadata")["azd"]
    assert generate["type"] == "generate"  # azd makes one; az users pass their own
    # Written only while it does not exist: azd reads PLATFORM_ADMIN_KEY_EXISTS back.
    condition = json.dumps(main().modules["adminKey"]["config"]["condition"])
    assert '"type": "not"' in condition and '"platformAdminKeyExists"' in condition
    assert main().parameters["platformAdminKeyExists"]["default"] is False
    azd = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert azd["platformAdminKeyExists"]["value"] == "${PLATFORM_ADMIN_KEY_EXISTS=false}"
    assert main().outputs["PLATFORM_ADMIN_KEY_EXISTS"]["value"] is True
    for written in (False, True):
        secrets = [
            d
            for d in deployment(platformAdminKeyExists=written)
            if d.type == "Microsoft.KeyVault/vaults/secrets"
        ]
        assert len(secrets) == (0 if written else 1)


def test_every_vault_access_is_audited() -> None:
    diagnostics = module_of("keyVault").the("Microsoft.Insights/diagnosticSettings").body
    assert diagnostics["scope"] == "vault"
    assert {"categoryGroup": "audit", "enabled": True} in diagnostics["properties"]["logs"]


# --- function app ----------------------------------------------------------------


def test_the_plan_is_flex_consumption_on_linux() -> None:
    plan = module_of("functionApp").the("Microsoft.Web/serverfarms").body
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True  # Linux


def test_the_app_runs_python_3_11_as_a_user_assigned_identity() -> None:
    site = module_of("functionApp").the("Microsoft.Web/sites").body
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
    assert site["properties"]["functionAppConfig"]["runtime"] == {
        "name": "python",
        "version": "3.11",
    }
    assert json.dumps(site["identity"]["userAssignedIdentities"]) == "{\"'${identityId}'\": {}}"


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
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }


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
    # DefaultAzureCredential and the host pick the user-assigned identity by client id.
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings


# Settings the code reads that the deployment leaves unset on purpose.
LEFT_UNSET = {
    "TABLES_CONNECTION_STRING": "Azurite and keys, dev only: Azure uses TABLES_ENDPOINT",
}


def test_every_setting_the_code_reads_is_set_or_left_unset_on_purpose() -> None:
    # The whole set is replaced on every deployment: a setting added by hand in the
    # portal (mail, say) would silently disappear at the next one.
    source = (ROOT / "shared" / "settings.py").read_text()
    read = set(re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"', source))
    assert {"SMTP_URL", "MAIL_FROM", "PUBLIC_BASE_URL"} <= read  # the pattern finds them
    assert sorted(read - set(app_settings()) - set(LEFT_UNSET)) == []
    assert sorted(set(LEFT_UNSET) - read) == []  # no reason kept for a setting gone


def test_the_operators_choices_deploy_with_the_codes_defaults_and_limits() -> None:
    # Durable only through the template (the set is replaced at each deployment), and
    # a value the app would refuse at start is refused by the deployment instead.
    from shared import settings
    from shared.sessions.cookies import HOST_PREFIX, PREFIXES

    params = main().parameters
    assert params["cookiePrefix"]["default"] == HOST_PREFIX
    assert sorted(main().decorator("cookiePrefix", "allowed")) == sorted(PREFIXES)
    assert params["auditRetentionDays"]["default"] == settings.DEFAULT_AUDIT_RETENTION_DAYS
    assert main().decorator("auditRetentionDays", "min_value") == 1
    assert main().decorator("auditRetentionDays", "max_value") == settings.MAX_AUDIT_RETENTION_DAYS
    assert params["authorizeLimitPerMinute"]["default"] == settings.DEFAULT_AUTHORIZE_LIMIT
    assert main().decorator("authorizeLimitPerMinute", "min_value") == 0
    assert main().decorator("authorizeLimitPerMinute", "max_value") == settings.MAX_AUTHORIZE_LIMIT
    passed = main().modules["appSettings"]["config"]["params"]
    for name in ("cookiePrefix", "auditRetentionDays", "authorizeLimitPerMinute"):
        assert passed[name] == name


def test_the_platform_admin_key_setting_is_a_key_vault_reference_into_the_admin_vault() -> None:
    reference = app_settings()["PLATFORM_ADMIN_KEY"]
    assert reference == "@Microsoft.KeyVault(SecretUri=${platformAdminKeySecretUri})"
    [config] = [d for d in deployment() if d.type == "Microsoft.Web/sites/config"]
    [admin_vault] = [
        d
        for d in deployment()
        if d.type == "Microsoft.KeyVault/vaults" and str(d.body["name"]).startswith("kva-")
    ]
    # Versionless (no version segment): the reference follows rotation.
    assert main().modules["appSettings"]["config"]["params"]["platformAdminKeySecretUri"] == (
        "${adminVault.outputs.uri}secrets/${platformAdminKeySecretName}"
    )
    assert admin_vault.body["name"] != "kv-"
    assert config.body["name"] == "appsettings"


def test_the_host_reaches_storage_with_its_identity_not_a_connection_string() -> None:
    settings = app_settings()
    assert "AzureWebJobsStorage" not in settings
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert "TABLES_CONNECTION_STRING" not in settings
    secretish = [
        name
        for name in settings
        if re.search(r"CONNECTION_STRING|KEY$|SECRET|PASSWORD", name)
        and name not in ("APPLICATIONINSIGHTS_CONNECTION_STRING", "PLATFORM_ADMIN_KEY")
    ]
    assert secretish == []


def test_the_host_storage_uris_follow_the_cloud_storage_suffix() -> None:
    settings = app_settings()
    for service in ("blob", "queue", "table"):
        assert settings[f"AzureWebJobsStorage__{service}ServiceUri"] == (
            f"https://${{storageAccountName}}.{service}.${{environment().suffixes.storage}}"
        )
    [config] = [d for d in deployment() if d.type == "Microsoft.Web/sites/config"]
    [account] = [d for d in deployment() if d.type == "Microsoft.Storage/storageAccounts"]
    uri = config.body["properties"]["AzureWebJobsStorage__blobServiceUri"]
    assert uri == f"https://{account.body['name']}.blob.core.windows.net"


def test_no_setting_flex_consumption_refuses() -> None:
    # Flex Consumption sets the runtime in functionAppConfig and rejects these.
    refused = {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
    }
    assert refused.isdisjoint(app_settings())


def test_the_identity_gets_its_roles_before_the_site_exists() -> None:
    # The site reads its deployment container and resolves its Key Vault reference
    # with the identity at once: the assignments must exist (and be made) before it.
    assert "roles" in main().modules["functionApp"]["config"]["dependsOn"]
    principal = main().modules["roles"]["config"]["params"]["principalId"]
    assert accessor_path(principal) == ["identity", "outputs", "principalId"]
    roles_params = json.dumps(main().modules["roles"]["config"]["params"])
    assert "functionApp" not in roles_params
    # The settings (with the admin key reference) come after the key is written.
    assert "adminKey" in main().modules["appSettings"]["config"]["dependsOn"]


# --- role assignments ------------------------------------------------------------


def _assignment_roles(roles: Template, assignment: Resource) -> list[str]:
    definition = assignment.body["properties"]["roleDefinitionId"]
    path = accessor_path(definition)
    if len(path) == 2 and path[1] == "id":
        assert roles.symbol(path[0]).type == "Microsoft.Authorization/roleDefinitions"
        return [f"custom:{path[0]}"]
    call = function_call(definition)
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
        scope = roles.symbol(assignment.body["scope"]).symbol
        granted.setdefault(scope, set()).update(_assignment_roles(roles, assignment))
    assert granted == {
        "vault": {"custom:appSecretsRole"},
        "adminVault": {KEY_VAULT_SECRETS_USER},
        "storage": {STORAGE_TABLE_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_OWNER},
        "appInsights": {MONITORING_METRICS_PUBLISHER},
    }


def test_the_app_vault_role_allows_only_the_secret_operations_the_code_uses() -> None:
    # shared/store/secrets.py: get_secret / get_secret_version (getSecret),
    # list_properties_of_secret_versions (readMetadata), set_secret (setSecret).
    code = (ROOT / "shared" / "store" / "secrets.py").read_text()
    used = set(re.findall(r"self\.client\.(\w+)\(", code))
    assert used == {"get_secret", "set_secret", "list_properties_of_secret_versions", "close"}
    role = module_of("roles").the("Microsoft.Authorization/roleDefinitions").body["properties"]
    assert role["type"] == "CustomRole"
    [permissions] = role["permissions"]
    assert permissions["actions"] == []
    assert module_of("roles").resolve_list("appSecretDataActions") == [
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    ]
    assert permissions["dataActions"] == "appSecretDataActions"
    assert KEY_VAULT_SECRETS_OFFICER not in json.dumps(module_of("roles").data)


def test_role_assignment_names_are_deterministic_per_scope_principal_and_role() -> None:
    roles = module_of("roles")
    for assignment in roles.resources_of("Microsoft.Authorization/roleAssignments"):
        call = function_call(assignment.body["name"])
        assert call is not None and call[0] == "guid", f"{assignment.symbol}: name is not a guid()"
        arguments = list(call[1].values())
        assert accessor_path(arguments[0]) == [assignment.body["scope"], "id"]
        principal = assignment.body["properties"]["principalId"]
        assert principal in arguments
        role = function_call(assignment.body["properties"]["roleDefinitionId"])
        if role is None:  # the custom role: its id
            assert accessor_path(assignment.body["properties"]["roleDefinitionId"]) in [
                accessor_path(a) for a in arguments
            ]
        else:
            assert role[1]["resource_name_1"] in arguments


def test_the_operator_may_read_the_platform_admin_key_and_nothing_else() -> None:
    roles = module_of("roles")
    operator = [
        a
        for a in roles.resources_of("Microsoft.Authorization/roleAssignments")
        if a.body["properties"]["principalId"] == "operatorPrincipalId"
    ]
    assert len(operator) == 1
    # The admin vault holds the platform admin key and nothing else.
    assert operator[0].body["scope"] == "adminVault"
    assert _assignment_roles(roles, operator[0]) == [KEY_VAULT_SECRETS_USER]
    assert operator[0].condition is not None  # only when an operator id is given
    assert main().parameters["operatorPrincipalId"]["default"] == ""
    names = {
        str(d.body["name"]) for d in deployment() if d.type == "Microsoft.KeyVault/vaults/secrets"
    }
    assert names == {"platform-admin-key"}  # the only secret a deployment writes


def test_the_roles_go_to_the_function_app_identity() -> None:
    principal = main().modules["roles"]["config"]["params"]["principalId"]
    assert accessor_path(principal) == ["identity", "outputs", "principalId"]
    assert main().modules["functionApp"]["config"]["params"]["identityId"] == {
        "operator": {
            "type": "property_accessor",
            "operands": {
                "operand_1": "identity",
                "operand_2": {
                    "operator": {
                        "type": "property_accessor",
                        "operands": {"operand_1": "outputs", "operand_2": "id"},
                    }
                },
            },
        }
    }


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
    assert len(main().modules) == 10
    for symbol, module in main().modules.items():
        declared = module_of(symbol).parameters
        config = module["config"].get("config", module["config"])  # under a condition
        passed = set(config["params"])
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


# --- identity, regions, redundancy, diagnostics, private networking --------------


NETWORK_TYPES = {
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/privateEndpoints",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    "Microsoft.Network/privateDnsZones",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
}


def test_the_identity_exists_before_the_site_and_is_its_only_identity() -> None:
    types = [d.type for d in deployment()]
    assert types.count("Microsoft.ManagedIdentity/userAssignedIdentities") == 1
    assert types.index("Microsoft.ManagedIdentity/userAssignedIdentities") < types.index(
        "Microsoft.Web/sites"
    )


def test_location_is_limited_to_the_flex_consumption_regions() -> None:
    flex = json.loads((INFRA / "schemas" / "flex-consumption.json").read_text())
    assert main().decorator("location", "allowed") == flex["regions"]


def test_zone_redundancy_brings_zone_redundant_storage() -> None:
    for zones in (False, True):
        for geo in (False, True):
            [account] = [
                d
                for d in deployment(zoneRedundant=zones, storageGeoRedundant=geo)
                if d.type == "Microsoft.Storage/storageAccounts"
            ]
            [plan] = [
                d
                for d in deployment(zoneRedundant=zones, storageGeoRedundant=geo)
                if d.type == "Microsoft.Web/serverfarms"
            ]
            sku = account.body["sku"]["name"]
            assert plan.body["properties"]["zoneRedundant"] is zones
            assert ("ZRS" in sku) is zones, sku
            assert sku.startswith("Standard_G") is geo, sku
    assert "storageSkuName" not in main().parameters  # no way to pick LRS with zones


def test_storage_vaults_and_the_app_send_their_logs_to_log_analytics() -> None:
    diagnostics = [d for d in deployment() if d.type == "Microsoft.Insights/diagnosticSettings"]
    scopes = sorted((d.template, d.symbol) for d in diagnostics)
    assert scopes == [
        ("modules/functionapp.bicep", "diagnostics"),
        ("modules/keyvault.bicep", "audit"),
        ("modules/keyvault.bicep", "audit"),
        ("modules/storage.bicep", "blobDiagnostics"),
        ("modules/storage.bicep", "tableDiagnostics"),
    ]
    for setting in diagnostics:
        assert "workspaceId" in setting.body["properties"]
        assert all(log["enabled"] for log in setting.body["properties"]["logs"])


def test_private_networking_is_off_by_default_and_deploys_nothing_of_it() -> None:
    assert main().parameters["privateNetworking"]["default"] is False
    default = deployment()
    assert NETWORK_TYPES.isdisjoint(d.type for d in default)
    [site] = [d for d in default if d.type == "Microsoft.Web/sites"]
    assert site.body["properties"]["virtualNetworkSubnetId"] is None
    for d in default:
        if d.type in ("Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults"):
            assert d.body["properties"]["publicNetworkAccess"] == "Enabled"


def test_private_networking_makes_endpoints_and_zones_and_closes_public_access() -> None:
    private = deployment(privateNetworking=True)
    by_type: dict[str, list[Deployed]] = {}
    for d in private:
        by_type.setdefault(d.type, []).append(d)
    assert set(by_type) >= NETWORK_TYPES
    endpoints = by_type["Microsoft.Network/privateEndpoints"]
    groups = sorted(
        c["properties"]["groupIds"][0]
        for e in endpoints
        for c in e.body["properties"]["privateLinkServiceConnections"]
    )
    assert groups == ["blob", "table", "vault", "vault"]  # storage, app vault, admin vault
    zones = sorted(str(z.body["name"]) for z in by_type["Microsoft.Network/privateDnsZones"])
    assert zones == [
        "privatelink.blob.core.windows.net",
        "privatelink.table.core.windows.net",
        "privatelink.vaultcore.azure.net",
    ]
    assert len(by_type["Microsoft.Network/privateDnsZones/virtualNetworkLinks"]) == 3
    assert len(by_type["Microsoft.Network/privateEndpoints/privateDnsZoneGroups"]) == 4
    for d in by_type["Microsoft.Storage/storageAccounts"] + by_type["Microsoft.KeyVault/vaults"]:
        assert d.body["properties"]["publicNetworkAccess"] == "Disabled"
        assert d.body["properties"]["networkAcls"]["defaultAction"] == "Deny"
    [vnet] = by_type["Microsoft.Network/virtualNetworks"]
    [app_subnet] = [s for s in vnet.body["properties"]["subnets"] if s["name"] == "app"]
    delegation = app_subnet["properties"]["delegations"][0]["properties"]["serviceName"]
    assert delegation == "Microsoft.App/environments"  # Flex Consumption's integration
    site = module_of("functionApp").the("Microsoft.Web/sites").body["properties"]
    assert "subnetId" in json.dumps(site["virtualNetworkSubnetId"])
    assert main().modules["functionApp"]["config"]["params"]["subnetId"]["operator"]["type"] == (
        "conditional"
    )
