"""Timer: every day at 06:00 UTC, assess every tenant's Entra credential
(shared.expiry.watch): expiring (under 30 days) or expired ones are written to
the tenant's audit log once per day and counted in /api/health.

Not an HTTP route: the local host serves HTTP only, so dev and tests call
`shared.expiry.watch` directly.
"""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()

SCHEDULE = "0 0 6 * * *"  # NCRONTAB: 06:00:00 UTC every day


@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)
# A run that could not assess every tenant (Table Storage or Key Vault failing for
# one) raises once it has done the others: the host runs it again, 10 minutes later
# and then up to an hour apart, so that tenant still gets its warning that day.
# Events are once per tenant per day: a rerun repeats none.
@bp.retry(
    strategy="exponential_backoff",
    max_retry_count="5",
    minimum_interval="00:10:00",
    maximum_interval="01:00:00",
)
def watch_credential_expiry(timer: func.TimerRequest) -> None:
    from shared import telemetry
    from shared.container import get_services

    telemetry.configure_from_environment()  # a timer is no HTTP request: configure here
    get_services().credential_watch.run()
