// The function app: Linux, Python 3.11, Flex Consumption (FC1), with the
// user-assigned identity made (and granted its roles) before it. Its app settings
// are a separate resource (appsettings.bicep).

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Flex Consumption plan.')
param planName string

@description('Globally unique function app name (its default host is <name>.azurewebsites.net).')
param appName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Subnet (delegated to Microsoft.App/environments) for outbound virtual network integration; empty = none.')
param subnetId string = ''

@description('Log Analytics workspace that receives the app\'s logs.')
param logAnalyticsWorkspaceId string

@description('Storage account holding the deployment package container.')
param storageAccountName string

@description('Blob container the plan deploys the app package from.')
param deploymentContainerName string

@description('Most instances the app scales out to (Flex Consumption accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance in MB; CPU and network scale with it.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('HTTP requests one instance serves at once (Python\'s default is 1).')
@minValue(2)
@maxValue(32)
param httpPerInstanceConcurrency int

@description('Spread instances over availability zones (only in regions where Flex Consumption offers zones; pair it with a zone-redundant storage SKU).')
param zoneRedundant bool

@description('Instances kept running for HTTP functions (0 = scale to zero).')
@minValue(0)
@maxValue(20)
param alwaysReadyInstanceCount int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  // checkov:skip=CKV_AZURE_225: not every Flex Consumption region has availability zones; the zoneRedundant parameter turns it on where they exist.
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  // azd finds the app it deploys the code to by this tag (azure.yaml: services.api).
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_78: Flex Consumption has no FTP endpoint, and ARM refuses siteConfig.ftpsState on Flex apps (error 51021).
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  // checkov:skip=CKV_AZURE_17: browsers sign in here; client certificates (mTLS) would refuse them.
  // checkov:skip=CKV_AZURE_222: the sign-in endpoints must be reachable from browsers and from Entra's front-channel logout.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales on demand; alwaysReadyInstanceCount is the knob for warm instances.
  // checkov:skip=CKV_AZURE_213: /api/health reports whether Table Storage and Key Vault answer; as the platform health check it would evict healthy instances during a dependency outage, so only external monitors call it.
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    // The identity resolves the settings' Key Vault references.
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // 'http' is the scale group of every HTTP-triggered function.
        alwaysReady: (alwaysReadyInstanceCount > 0) ? [
          {
            name: 'http'
            instanceCount: alwaysReadyInstanceCount
          }
        ] : []
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption has no FTP endpoint, and ARM refuses the
      // property on Flex apps in some regions (error 51021).
      http20Enabled: true
    }
  }
}

// Deployments (azd, func) authenticate to the SCM endpoint with Entra tokens; the
// site's basic publishing credentials are never needed. Flex Consumption has no
// FTP endpoint at all.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// The host's and the worker's logs, to Log Analytics next to Application Insights.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
