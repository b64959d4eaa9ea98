"""Azure Functions (Python v2 model) entry point: build the app, register blueprints.

Nothing else happens here: no settings are read and no client is built at
import time, so the host (and `python -c "import function_app"`) can load it
with an empty environment.
"""

import azure.functions as func

from functions import (
    admin,
    auth,
    credential_watch,
    health,
    housekeeping,
    onboarding,
    pages,
    passwords,
    scim,
    settings,
    settings_lists,
    status,
    wellknown,
)
from shared.correlation import install_log_records

install_log_records()  # each log line of a request ends with its correlation id (no I/O)
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in (
    admin.bp,
    auth.bp,
    credential_watch.bp,
    health.bp,
    housekeeping.bp,
    onboarding.bp,
    pages.bp,
    passwords.bp,
    scim.bp,
    settings.bp,
    settings_lists.bp,
    status.bp,
    wellknown.bp,
):
    app.register_functions(blueprint)
