"""Timer: delete expired rows and audit events past their retention every 15 minutes
(shared.store.housekeeping).

Not an HTTP route: the local host (devtools/funchost.py) serves HTTP only,
so in dev and tests the purge runs by calling `shared.store.housekeeping` directly.
"""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()

SCHEDULE = "0 */15 * * * *"  # NCRONTAB: second 0 of every 15th minute


@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)
def purge_expired_rows(timer: func.TimerRequest) -> None:
    from shared.container import get_services
    from shared.store import housekeeping

    services = get_services()
    housekeeping.run(
        services.tables, services.configs, retention_days=services.settings.audit_retention_days
    )
