// Key Vault: the tenants' Entra client secrets, the session signing key and the
// platform admin key. Authorization is Azure RBAC only (no access policies), soft
// delete and purge protection are on, and every data-plane access is audited to
// Log Analytics.

@description('Azure region of the vault.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Globally unique vault name: 3-24 letters, digits and hyphens, starting with a letter.')
@minLength(3)
@maxLength(24)
param name string

@description('Name of the secret holding the platform admin key.')
param platformAdminKeySecretName string

@secure()
@description('The platform admin key (X-Platform-Admin-Key): a long random string.')
@minLength(32)
param platformAdminKey string

@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: the Flex Consumption app has no virtual network here, so it reaches the vault over the public endpoint; every request still needs an Entra token and an RBAC role.
  // checkov:skip=CKV_AZURE_189: same reason: public network access stays on for the app's managed identity.
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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource platformAdminKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: platformAdminKeySecretName
  // checkov:skip=CKV_AZURE_41: an expiry would silently close the platform admin API when it passes; the key is rotated by the operator (docs/deploy.md, "Rotating the platform admin key").
  properties: {
    value: platformAdminKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
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
// Versionless, so the app setting's Key Vault reference follows rotation.
output platformAdminKeySecretUri string = platformAdminKeySecret.properties.secretUri
