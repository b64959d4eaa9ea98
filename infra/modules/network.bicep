// Private networking (main.bicep's privateNetworking): a virtual network whose 'app'
// subnet carries the function app's outbound traffic (Flex Consumption VNet
// integration), and private endpoints with private DNS zones for the storage
// account (blob, table) and the key vaults, which then refuse public traffic.
// The Functions host uses blobs only (timer leases, deployment package); the app
// uses tables; so no queue or file endpoint is made.

@description('Azure region of the network and its endpoints.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the virtual network.')
param name string

@description('Address space of the virtual network.')
param addressPrefix string

@description('Subnet of the app\'s outbound integration (delegated to Microsoft.App/environments), inside addressPrefix.')
param appSubnetPrefix string

@description('Subnet of the private endpoints, inside addressPrefix.')
param endpointSubnetPrefix string

@description('Storage account reached through private endpoints (blob, table).')
param storageAccountName string

@description('Key vaults reached through private endpoints.')
param keyVaultNames array

var storageSuffix = environment().suffixes.storage
// The vault zone of this cloud: privatelink.vaultcore.azure.net in the public cloud.
var vaultZone = replace(environment().suffixes.keyvaultDns, '.vault.', 'privatelink.vaultcore.')
var storageGroups = [
  'blob'
  'table'
]

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // Flex Consumption integrates through a subnet delegated to Microsoft.App.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: 'endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource storageZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for group in storageGroups: {
  name: 'privatelink.${group}.${storageSuffix}'
  location: 'global'
  tags: tags
}]

resource storageZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (group, i) in storageGroups: {
  parent: storageZones[i]
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource vaultZoneResource 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: vaultZone
  location: 'global'
  tags: tags
}

resource vaultZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: vaultZoneResource
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource storageEndpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [for group in storageGroups: {
  name: '${storageAccountName}-${group}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: '${storageAccountName}-${group}'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            group
          ]
        }
      }
    ]
  }
}]

resource storageEndpointZones 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = [for (group, i) in storageGroups: {
  parent: storageEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: group
        properties: {
          privateDnsZoneId: storageZones[i].id
        }
      }
    ]
  }
}]

resource vaultEndpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [for vaultName in keyVaultNames: {
  name: '${vaultName}-pe'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: '${vnet.id}/subnets/endpoints'
    }
    privateLinkServiceConnections: [
      {
        name: vaultName
        properties: {
          privateLinkServiceId: resourceId('Microsoft.KeyVault/vaults', vaultName)
          groupIds: [
            'vault'
          ]
        }
      }
    ]
  }
}]

resource vaultEndpointZones 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = [for (vaultName, i) in keyVaultNames: {
  parent: vaultEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: vaultZoneResource.id
        }
      }
    ]
  }
}]

output vnetId string = vnet.id
output appSubnetId string = '${vnet.id}/subnets/app'
