// entrabridge on Azure: a Flex Consumption function app reaching Table Storage,
// Key Vault and Application Insights with its managed identity only.
// Deploy: docs/deploy.md (`azd up`, or `az deployment group create` + `func`).

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
@description('The platform admin key (X-Platform-Admin-Key) stored in Key Vault: a long random string, e.g. from `openssl rand -hex 32`. azd generates one.')
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

@description('Optional object id of the operator (user, group or service principal) who may read the platform admin key secret, and nothing else in the vault.')
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

@description('Most instances the app scales out to (a cap on cost and on load sent to Entra and storage).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Spread the app over availability zones. Only where Flex Consumption offers zones; use a zone-redundant storageSkuName (Standard_ZRS or Standard_GZRS) with it.')
param zoneRedundant bool = false

@description('Storage replication. Geo-redundant by default: the tables hold users and tenant configuration.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Entra authority origin (change for sovereign clouds).')
param entraAuthorityHost string = 'https://login.microsoftonline.com'

@description('Microsoft Graph origin (change for sovereign clouds).')
param graphBaseUrl string = 'https://graph.microsoft.com'

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

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: take('st${prefix}${token}', 24)
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: take('kv-${prefix}-${token}', 24)
    platformAdminKeySecretName: platformAdminKeySecretName
    platformAdminKey: platformAdminKey
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planName: '${prefix}-plan-${token}'
    appName: appName
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    zoneRedundant: zoneRedundant
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    platformAdminKeySecretName: platformAdminKeySecretName
  }
}

var functionAppUrl = 'https://${functionApp.outputs.defaultHostName}'
var baseUrl = empty(publicBaseUrl) ? functionAppUrl : publicBaseUrl

module appSettings 'modules/appsettings.bicep' = {
  name: 'appsettings'
  // After the roles: the settings' Key Vault reference and storage identity
  // connection are resolved as soon as they are written.
  dependsOn: [
    roles
  ]
  params: {
    appName: functionApp.outputs.name
    publicBaseUrl: baseUrl
    keyVaultUri: keyVault.outputs.uri
    platformAdminKeySecretUri: keyVault.outputs.platformAdminKeySecretUri
    tablesEndpoint: storage.outputs.tableEndpoint
    storageAccountName: storage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    entraAuthorityHost: entraAuthorityHost
    graphBaseUrl: graphBaseUrl
    pythonThreadCount: httpPerInstanceConcurrency
  }
}

// UPPER_SNAKE names: azd stores each output in the environment (`azd env get-values`).
output FUNCTION_APP_NAME string = functionApp.outputs.name
output FUNCTION_APP_URL string = functionAppUrl
output PUBLIC_BASE_URL string = baseUrl
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
output PLATFORM_ADMIN_KEY_SECRET_NAME string = platformAdminKeySecretName
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
// Per tenant: replace {tenant} with the tenant slug. Register both in the
// tenant's Entra app registration (docs/deploy.md).
output REDIRECT_URI_TEMPLATE string = '${baseUrl}/api/auth/{tenant}/callback'
output FRONT_CHANNEL_LOGOUT_URI_TEMPLATE string = '${baseUrl}/api/auth/{tenant}/logout'
