// Monitoring: one Log Analytics workspace and a workspace-based Application Insights.
// Local (key-based) auth is off on both, so telemetry is accepted only from Entra
// identities: the function app signs its telemetry with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, Monitoring Metrics Publisher role).

@description('Azure region of the monitoring resources.')
param location string

@description('Tags applied to every resource.')
param tags object

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Days Log Analytics keeps logs (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output applicationInsightsName string = appInsights.name
// Not a secret: with local auth off, the instrumentation key in it cannot ingest
// telemetry without an Entra token.
output applicationInsightsConnectionString string = appInsights.properties.ConnectionString
