// The platform admin key secret, written only when main.bicep is told it does not
// exist yet (platformAdminKeyExists false): a redeployment leaves the secret, and its
// versions, alone. Rotation is a deployment with a new key and platformAdminKeyExists
// false (docs/deploy.md).

@description('The admin vault.')
param vaultName string

@description('Name of the secret holding the platform admin key.')
param secretName string

@secure()
@minLength(32)
@description('The platform admin key (X-Platform-Admin-Key): a long random string.')
param value string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  // checkov:skip=CKV_AZURE_41: an expiry would silently close the platform admin API when it passes; the key is rotated by the operator (docs/deploy.md, "Rotating the platform admin key").
  properties: {
    value: value
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

output name string = secret.name
