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

// The operator's workbook: entrabridge's metrics (shared/telemetry.py) as charts,
// next to the Application Insights component they are read from. A workbook's
// resource name must be a GUID: one derived from the component, so redeploying
// updates the same workbook.
var workbookItems = [
  {
    type: 1
    content: {
      json: '## entrabridge\nSign-ins, Entra latency, storage calls per request and credential expiry (README "Monitoring").'
    }
  }
  {
    type: 3
    name: 'sign-ins-by-outcome'
    content: {
      version: 'KqlItem/1.0'
      title: 'Sign-ins by outcome'
      queryType: 0
      visualization: 'timechart'
      query: 'customMetrics | where name == "entrabridge.sign_ins" | extend outcome = tostring(customDimensions.outcome) | summarize sign_ins = sum(valueSum) by bin(timestamp, 1h), outcome'
    }
  }
  {
    type: 3
    name: 'refusals-by-tenant'
    content: {
      version: 'KqlItem/1.0'
      title: 'Refused sign-ins by tenant and code'
      queryType: 0
      visualization: 'table'
      query: 'customMetrics | where name == "entrabridge.sign_ins" | extend outcome = tostring(customDimensions.outcome), tenant = tostring(customDimensions.tenant) | where outcome != "success" | summarize refused = sum(valueSum) by tenant, outcome | order by refused desc'
    }
  }
  {
    type: 3
    name: 'entra-latency'
    content: {
      version: 'KqlItem/1.0'
      title: 'Entra and Graph: mean call time (ms)'
      queryType: 0
      visualization: 'timechart'
      query: 'customMetrics | where name == "entrabridge.entra.duration" | extend call = tostring(customDimensions.call) | summarize mean_ms = 1000 * sum(valueSum) / sum(valueCount) by bin(timestamp, 15m), call'
    }
  }
  {
    type: 3
    name: 'storage-calls'
    content: {
      version: 'KqlItem/1.0'
      title: 'Table Storage and Key Vault requests per HTTP request'
      queryType: 0
      visualization: 'table'
      query: 'customMetrics | where name in ("entrabridge.request.table_calls", "entrabridge.request.vault_calls") | extend route = tostring(customDimensions.route) | summarize mean = sum(valueSum) / sum(valueCount), highest = max(valueMax) by name, route'
    }
  }
  {
    type: 3
    name: 'credentials'
    content: {
      version: 'KqlItem/1.0'
      title: 'Tenants whose credentials expire within 30 days, or expired'
      queryType: 0
      visualization: 'timechart'
      query: 'customMetrics | where name == "entrabridge.credentials" | extend standing = tostring(customDimensions.standing) | summarize tenants = max(valueMax) by bin(timestamp, 1d), standing'
    }
  }
]

resource workbook 'Microsoft.Insights/workbooks@2022-04-01' = {
  name: guid(appInsights.id, 'entrabridge-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'entrabridge: sign-ins and credentials'
    category: 'workbook'
    sourceId: appInsights.id
    version: '1.0'
    serializedData: string({
      version: 'Notebook/1.0'
      items: workbookItems
      isLocked: false
      fallbackResourceIds: [
        appInsights.id
      ]
    })
  }
}

output workbookName string = workbook.name
