// entrabridge on Azure: a Flex Consumption function app reaching Table Storage,
// Key Vault and Application Insights with its user-assigned managed identity only.
// Deploy: docs/deploy.md (`azd up`, or `az deployment group create` + `func`).
//
// Order: the identity first, then its role assignments, then the function app
// (whose deployment container and Key Vault reference need those roles at once),
// then the app settings. Nothing waits for a principal created with the site.

targetScope = 'resourceGroup'

@description('Short name every resource name starts with (letters and digits are kept; at most 10 are used), e.g. "ebprod".')
@minLength(2)
@maxLength(64)
param namePrefix string

@description('Azure region of every resource: one that offers the Flex Consumption plan (`az functionapp list-flexconsumption-locations`; infra/schemas/flex-consumption.json keeps the same list).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'polandcentral'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags object = {}

@description('External origin of the app when it has a custom domain, e.g. https://auth.example.com. Empty = https://<function app>.azurewebsites.net. Entra redirect URIs are built from it.')
param publicBaseUrl string = ''

@secure()
@minLength(32)
@description('The platform admin key (X-Platform-Admin-Key): a long random string, e.g. from `openssl rand -hex 32`. azd generates one. Written to the admin vault only while platformAdminKeyExists is false.')
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 48
      noSpecial: true
    }
  }
})
param platformAdminKey string

@description('True once the platform admin key secret exists: the deployment then leaves it alone instead of writing a new version. azd sets it from the previous provision\'s PLATFORM_ADMIN_KEY_EXISTS output; az users pass it on redeployments. False writes platformAdminKey (first deployment, rotation).')
param platformAdminKeyExists bool = false

@description('Optional object id of the operator (user, group or service principal) who may read the platform admin key, and nothing else.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('HTTP requests one instance serves at once. Python\'s default is 1, but a sign-in mostly waits on Entra and Table Storage, so one request per instance wastes instances (and cold starts). The Python worker gets as many threads.')
@minValue(2)
@maxValue(32)
param httpPerInstanceConcurrency int = 16

@description('Instances kept warm for the HTTP functions. 0 scales to zero (cheapest; the first request after idle waits for a cold start). 1 or more removes cold starts at a fixed hourly cost.')
@minValue(0)
@maxValue(20)
param alwaysReadyInstanceCount int = 0

@description('Memory of each instance in MB; CPU and network bandwidth scale with it.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to (a cap on cost and on load sent to Entra and storage). Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Spread the app over availability zones (only where Flex Consumption offers zones). The storage account then becomes zone-redundant too (Standard_ZRS, or Standard_GZRS with storageGeoRedundant).')
param zoneRedundant bool = false

@description('Replicate storage to the paired region (GRS, or GZRS with zoneRedundant). On by default: the tables hold users and tenant configuration.')
param storageGeoRedundant bool = true

@description('Private networking: a virtual network with the app\'s outbound integration, private endpoints and private DNS zones for Storage (blob, table) and both key vaults, and public network access off on them. Off by default; costs the endpoints\' and zones\' hourly prices (docs/deploy.md).')
param privateNetworking bool = false

@description('Address space of the virtual network privateNetworking creates.')
param vnetAddressPrefix string = '10.20.0.0/16'

@description('Subnet of the app\'s outbound integration, inside vnetAddressPrefix (a /27 or larger; Flex Consumption delegates it to Microsoft.App/environments).')
param appSubnetPrefix string = '10.20.1.0/24'

@description('Subnet of the private endpoints, inside vnetAddressPrefix.')
param endpointSubnetPrefix string = '10.20.2.0/24'

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Entra authority origin (change for sovereign clouds).')
param entraAuthorityHost string = 'https://login.microsoftonline.com'

@description('Microsoft Graph origin (change for sovereign clouds).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Application (client) id of the operator\'s multitenant onboarding app (one-click "Connect Microsoft", README); its credential goes into the app vault as onboarding-client-credential. Empty: onboarding is off.')
param onboardingClientId string = ''

@description('Outgoing mail for invites and password resets (SMTP_URL): smtp://[user@]host:port (STARTTLS) or smtps://host:port; with a user, store their password in the app vault as smtp-password (README). Empty: no mail, links go to the admin only.')
param smtpUrl string = ''

@description('Sender address of invite and reset mail (MAIL_FROM); required with smtpUrl.')
param mailFrom string = ''

@description('Prefix of the browser flow\'s cookie names (COOKIE_PREFIX): __Host-, or __Secure- where the platform writes a Domain into cookies (README, "Known platform issue").')
@allowed([
  '__Host-'
  '__Secure-'
])
param cookiePrefix string = '__Host-'

@description('Days audit events are kept (AUDIT_RETENTION_DAYS).')
@minValue(1)
@maxValue(36500)
param auditRetentionDays int = 400

@description('Sign-in starts per client address and tenant per minute (AUTHORIZE_LIMIT_PER_MINUTE); 0 turns the limit off, for load tests only.')
@minValue(0)
@maxValue(9999999)
param authorizeLimitPerMinute int = 60

// Lowercase letters and digits only, so one prefix fits every naming rule (storage
// accounts take nothing else); 'eb' when namePrefix has none of them.
var prefixChars = 'abcdefghijklmnopqrstuvwxyz0123456789'
var lowerPrefix = toLower(namePrefix)
var cleanPrefix = join(filter(map(range(0, length(lowerPrefix)), i => substring(lowerPrefix, i, 1)), c => contains(prefixChars, c)), '')
var prefix = take((empty(cleanPrefix)) ? 'eb' : cleanPrefix, 10)
var token = uniqueString(subscription().id, resourceGroup().id, namePrefix)
var appName = '${prefix}-func-${token}'
var deploymentContainerName = 'app-package'
var platformAdminKeySecretName = 'platform-admin-key'
// zoneRedundant needs zone-redundant storage: the SKU follows from both switches.
var storageSkuName = (zoneRedundant) ? ((storageGeoRedundant) ? 'Standard_GZRS' : 'Standard_ZRS') : ((storageGeoRedundant) ? 'Standard_GRS' : 'Standard_LRS')
// The tables of shared/store/*.py (TABLE constants).
var tableNames = [
  'tenants'
  'users'
  'profilemappings'
]

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${prefix}-log-${token}'
    applicationInsightsName: '${prefix}-appi-${token}'
    retentionInDays: logRetentionInDays
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    tags: tags
    name: '${prefix}-id-${token}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: take('st${prefix}${token}', 24)
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
    publicNetworkAccess: (privateNetworking) ? 'Disabled' : 'Enabled'
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

// The app's vault: tenants' client secrets, the session and sign-in state keys.
module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: take('kv-${prefix}-${token}', 24)
    publicNetworkAccess: (privateNetworking) ? 'Disabled' : 'Enabled'
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

// The platform admin key's own vault: the app may read it, never write it.
module adminVault 'modules/keyvault.bicep' = {
  name: 'adminvault'
  params: {
    location: location
    tags: tags
    name: take('kva-${prefix}-${token}', 24)
    publicNetworkAccess: (privateNetworking) ? 'Disabled' : 'Enabled'
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module adminKey 'modules/adminkey.bicep' = if (!platformAdminKeyExists) {
  name: 'adminkey'
  params: {
    vaultName: adminVault.outputs.name
    secretName: platformAdminKeySecretName
    value: platformAdminKey
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    adminVaultName: adminVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    location: location
    tags: tags
    name: '${prefix}-vnet-${token}'
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    endpointSubnetPrefix: endpointSubnetPrefix
    storageAccountName: storage.outputs.name
    keyVaultNames: [
      keyVault.outputs.name
      adminVault.outputs.name
    ]
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // After the roles: the deployment container and the Key Vault reference are
  // read with the identity as soon as the site exists.
  dependsOn: [
    roles
  ]
  params: {
    location: location
    tags: tags
    planName: '${prefix}-plan-${token}'
    appName: appName
    identityId: identity.outputs.id
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    zoneRedundant: zoneRedundant
    subnetId: (privateNetworking) ? network.outputs.appSubnetId : ''
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

var functionAppUrl = 'https://${functionApp.outputs.defaultHostName}'
var baseUrl = empty(publicBaseUrl) ? functionAppUrl : publicBaseUrl

module appSettings 'modules/appsettings.bicep' = {
  name: 'appsettings'
  // After the admin key: the Key Vault reference resolves on the first start.
  dependsOn: [
    adminKey
  ]
  params: {
    appName: functionApp.outputs.name
    publicBaseUrl: baseUrl
    identityClientId: identity.outputs.clientId
    keyVaultUri: keyVault.outputs.uri
    platformAdminKeySecretUri: '${adminVault.outputs.uri}secrets/${platformAdminKeySecretName}'
    tablesEndpoint: storage.outputs.tableEndpoint
    storageAccountName: storage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    entraAuthorityHost: entraAuthorityHost
    graphBaseUrl: graphBaseUrl
    onboardingClientId: onboardingClientId
    pythonThreadCount: httpPerInstanceConcurrency
    smtpUrl: smtpUrl
    mailFrom: mailFrom
    cookiePrefix: cookiePrefix
    auditRetentionDays: auditRetentionDays
    authorizeLimitPerMinute: authorizeLimitPerMinute
  }
}

// UPPER_SNAKE names: azd stores each output in the environment (`azd env get-values`).
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = functionAppUrl
output PUBLIC_BASE_URL string = baseUrl
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
output ADMIN_KEY_VAULT_NAME string = adminVault.outputs.name
output PLATFORM_ADMIN_KEY_SECRET_NAME string = platformAdminKeySecretName
// Read back by main.parameters.json on the next `azd provision`: the key is written once.
output PLATFORM_ADMIN_KEY_EXISTS bool = true
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_CLIENT_ID string = identity.outputs.clientId
// Per tenant: replace {tenant} with the tenant slug. Register both in the
// tenant's Entra app registration (docs/deploy.md).
output REDIRECT_URI_TEMPLATE string = '${baseUrl}/api/auth/{tenant}/callback'
output FRONT_CHANNEL_LOGOUT_URI_TEMPLATE string = '${baseUrl}/api/auth/{tenant}/logout'
