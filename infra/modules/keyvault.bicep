// A Key Vault: Azure RBAC only (no access policies), soft delete and purge
// protection on, every data-plane access audited to Log Analytics. main.bicep makes
// two: the app's (tenants' client secrets, the session and sign-in state keys) and
// the admin vault (the platform admin key, which the app may read but not write).

@description('Azure region of the vault.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Globally unique vault name: 3-24 letters, digits and hyphens, starting with a letter.')
@minLength(3)
@maxLength(24)
param name string

@description('Enabled, or Disabled when the vault is reached through a private endpoint only.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: public access stays on unless privateNetworking is set (then off, with a private endpoint); every request needs an Entra token and an RBAC role.
  // checkov:skip=CKV_AZURE_189: same reason: the privateNetworking parameter turns public network access off.
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: (publicNetworkAccess == 'Enabled') ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
