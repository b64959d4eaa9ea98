// The function app's user-assigned managed identity. It exists before the site, so
// its role assignments are in place (and applied) by the time the site first reads
// its deployment container and resolves its Key Vault reference.

@description('Azure region of the identity.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the identity.')
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
