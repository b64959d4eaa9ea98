// Role assignments of the function app's managed identity, least privilege, each
// scoped to the one resource it needs. Names are deterministic guid()s of scope,
// principal and role, so a redeployment finds the same assignments.

@description('Principal (object) id of the function app\'s system-assigned identity.')
param principalId string

@description('Storage account of the tables, the host and the deployment container.')
param storageAccountName string

@description('Key Vault of the tenants\' client secrets, the session key and the platform admin key.')
param keyVaultName string

@description('Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Optional: object id of an operator (user, group or service principal) allowed to read the platform admin key secret, and nothing else in the vault. Empty = nobody.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('Name of the platform admin key secret.')
param platformAdminKeySecretName string

// Built-in role definition ids (the same in every tenant).
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// Officer, not User: the app writes tenant client secrets (admin API) and creates
// the session signing key on first use.
var vaultRoles = [
  keyVaultSecretsOfficer
]

// Table Data Contributor: the app's tables. Blob Data Owner: the Functions host
// (identity-based AzureWebJobsStorage creates its own containers) and the Flex
// Consumption deployment container.
var storageRoles = [
  storageTableDataContributor
  storageBlobDataOwner
]

// Lets the host send telemetry with its Entra token (App Insights local auth is off).
var monitoringRoles = [
  monitoringMetricsPublisher
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource platformAdminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: platformAdminKeySecretName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vaultAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in vaultRoles: {
  name: guid(vault.id, principalId, roleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in storageRoles: {
  name: guid(storage.id, principalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

resource monitoringAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in monitoringRoles: {
  name: guid(appInsights.id, principalId, roleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Read access to the one secret (not the vault), so the operator can fetch the
// platform admin key without seeing tenants' client secrets.
resource operatorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(platformAdminKeySecret.id, operatorPrincipalId, keyVaultSecretsUser)
  scope: platformAdminKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
