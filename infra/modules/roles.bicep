// Role assignments of the function app's user-assigned identity, least privilege,
// each scoped to the one resource it needs. Names are deterministic guid()s of
// scope, principal and role, so a redeployment finds the same assignments.

@description('Principal (object) id of the function app\'s user-assigned identity.')
param principalId string

@description('Storage account of the tables, the host and the deployment container.')
param storageAccountName string

@description('The app\'s Key Vault: tenants\' client secrets, the session and sign-in state keys.')
param keyVaultName string

@description('The admin vault, holding the platform admin key only.')
param adminVaultName string

@description('Application Insights component the app sends telemetry to.')
param applicationInsightsName string

@description('Optional: object id of an operator (user, group or service principal) allowed to read the platform admin key, and nothing else. Empty = nobody.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId is.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

// Built-in role definition ids (the same in every tenant).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

// What shared/store/secrets.py does in the app's vault, and nothing more: read a
// secret's current or a given version (getSecret), list a secret's versions
// (readMetadata), store a new version (setSecret) of tenant-{slug}-client-secret,
// session-signing-key and signin-state-key. No delete, purge, backup, restore or
// attribute update: Key Vault Secrets Officer would grant all of those.
var appSecretDataActions = [
  'Microsoft.KeyVault/vaults/secrets/getSecret/action'
  'Microsoft.KeyVault/vaults/secrets/readMetadata/action'
  'Microsoft.KeyVault/vaults/secrets/setSecret/action'
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

resource adminVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: adminVaultName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// A custom role needs a resource group (or wider) assignable scope; it is assigned
// on the app's vault only, below. Its display name must be unique in the tenant, so
// it carries the (globally unique) vault name.
resource appSecretsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, vault.id, 'entrabridge-app-secrets')
  properties: {
    roleName: 'entrabridge app secrets (${keyVaultName})'
    description: 'Read, list the versions of and add versions to secrets in one entrabridge vault; no delete, purge, backup, restore or attribute update.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: appSecretDataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource vaultAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, appSecretsRole.id)
  scope: vault
  properties: {
    roleDefinitionId: appSecretsRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The admin vault holds the platform admin key only: the app reads it (the Key Vault
// reference of PLATFORM_ADMIN_KEY) and can write nothing there.
resource adminVaultAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(adminVault.id, principalId, keyVaultSecretsUser)
  scope: adminVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

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

// Read access to the admin vault (the platform admin key, nothing else), so the
// operator can fetch the key without seeing tenants' client secrets.
resource operatorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(adminVault.id, operatorPrincipalId, keyVaultSecretsUser)
  scope: adminVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output appSecretsRoleId string = appSecretsRole.id
