// The function app's settings (the contract's settings, see README). A resource of
// its own so main.bicep can write it after the role assignments: the Key Vault
// reference and the identity-based storage connection then resolve on the first
// start. The whole set is replaced on every deployment.
//
// No connection string and no key appears here: storage, Key Vault and
// Application Insights are all reached with the app's managed identity, and the
// platform admin key is a Key Vault reference.

@description('Name of the function app.')
param appName string

@description('External origin of the app, e.g. https://auth.example.com; redirect URIs are built from it.')
param publicBaseUrl string

@description('Client id of the app\'s user-assigned identity (AZURE_CLIENT_ID; the host\'s storage and telemetry credentials).')
param identityClientId string

@description('Key Vault URI (KEY_VAULT_URI).')
param keyVaultUri string

@description('Versionless URI of the platform admin key secret (in the admin vault).')
param platformAdminKeySecretUri string

@description('Table Storage endpoint (TABLES_ENDPOINT).')
param tablesEndpoint string

@description('Storage account of the Functions host (identity-based AzureWebJobsStorage).')
param storageAccountName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Entra authority origin (sovereign clouds change it).')
param entraAuthorityHost string

@description('Microsoft Graph origin (sovereign clouds change it).')
param graphBaseUrl string

@description('The operator\'s onboarding app (ONBOARDING_CLIENT_ID); empty: onboarding off.')
param onboardingClientId string

@description('Worker threads of the Python worker: one per concurrent HTTP request.')
param pythonThreadCount int

@description('Outgoing mail (SMTP_URL: smtp://[user@]host:port, STARTTLS, or smtps://...); a user\'s password is the app vault\'s secret smtp-password. Empty: no mail.')
param smtpUrl string

@description('Sender address of that mail (MAIL_FROM); required with smtpUrl.')
param mailFrom string

@description('Prefix of the cookie names (COOKIE_PREFIX).')
param cookiePrefix string

@description('Days audit events are kept (AUDIT_RETENTION_DAYS).')
param auditRetentionDays int

@description('Sign-in starts per client address and tenant per minute (AUTHORIZE_LIMIT_PER_MINUTE).')
param authorizeLimitPerMinute int

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

// checkov reads every sites/config resource as the site's 'web' configuration;
// the checks skipped below concern site properties, set (or deliberately not) in
// functionapp.bicep. (At most four comment lines in a row inside a resource: the
// parser checkov bundles refuses more.)
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: App Service Authentication would sit in front of the app's own OIDC sign-in and admin API, which authenticate themselves.
  // checkov:skip=CKV_AZURE_222: the sign-in endpoints must be reachable from browsers and from Entra's front-channel logout.
  // checkov:skip=CKV_AZURE_80: a Python app; no .NET Framework version applies.
  // checkov:skip=CKV_AZURE_88: Flex Consumption runs from its deployment container; it has no Azure Files content share.
  parent: site
  // checkov:skip=CKV_AZURE_63: HTTP logs are an App Service feature; Flex Consumption requests go to Application Insights.
  // checkov:skip=CKV_AZURE_65: detailed error pages are an App Service feature; errors go to Application Insights.
  // checkov:skip=CKV_AZURE_66: failed request tracing is an App Service feature; failures go to Application Insights.
  name: 'appsettings'
  properties: {
    // Functions host storage through the user-assigned identity: no AccountKey
    // anywhere. Service URIs from this cloud's storage suffix (sovereign clouds too).
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
    AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
    AzureWebJobsStorage__tableServiceUri: 'https://${storageAccountName}.table.${environment().suffixes.storage}'
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // DefaultAzureCredential (shared/store/credentials.py) picks the user-assigned
    // identity by this client id.
    AZURE_CLIENT_ID: identityClientId
    // Sync handlers run on the worker's thread pool; without this a Python 3.11
    // worker caps concurrency at min(32, cores + 4) threads, below the plan's
    // per-instance HTTP concurrency.
    PYTHON_THREADPOOL_THREAD_COUNT: string(pythonThreadCount)
    PUBLIC_BASE_URL: publicBaseUrl
    KEY_VAULT_URI: keyVaultUri
    TABLES_ENDPOINT: tablesEndpoint
    PLATFORM_ADMIN_KEY: '@Microsoft.KeyVault(SecretUri=${platformAdminKeySecretUri})'
    ENTRA_AUTHORITY_HOST: entraAuthorityHost
    GRAPH_BASE_URL: graphBaseUrl
    // An empty value reads as unset: no onboarding (503 onboarding_not_configured).
    ONBOARDING_CLIENT_ID: onboardingClientId
    // Empty reads as unset: no mail, invite and reset links go to the admin only.
    // Set here, not by hand: the whole set is replaced on every deployment.
    SMTP_URL: smtpUrl
    MAIL_FROM: mailFrom
    // An operator's choices, kept here for the same reason.
    COOKIE_PREFIX: cookiePrefix
    AUDIT_RETENTION_DAYS: string(auditRetentionDays)
    AUTHORIZE_LIMIT_PER_MINUTE: string(authorizeLimitPerMinute)
    AZURE_CREDENTIAL_MODE: 'managed'
  }
}
