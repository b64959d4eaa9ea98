"""`make dev`: the whole system on this machine until Ctrl-C.

Starts Azurite (persisted under .local/azurite), the Key Vault stand-in on
:7444 and the Functions host on :7071 with local.settings.json (created
from local.settings.sample.json when absent). Every outbound HTTPS call
trusts the local CA through REQUESTS_CA_BUNDLE (system CAs + local CA).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from typing import Protocol

from devtools.azurite import start_azurite
from devtools.fake_entra import FakeEntra
from devtools.fake_keyvault import FakeKeyVault
from devtools.funchost import FuncHost, load_app, load_local_settings
from devtools.localca import PROJECT_ROOT, ensure_local_ca

SETTINGS = PROJECT_ROOT / "local.settings.json"
SAMPLE = PROJECT_ROOT / "local.settings.sample.json"


def _port_of(url: str, default: int) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port or default


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if not SETTINGS.exists():
        shutil.copyfile(SAMPLE, SETTINGS)
        print(f"Created {SETTINGS.name} from the sample.")
    ca = ensure_local_ca()
    # This machine (and many CI images) preset REQUESTS_CA_BUNDLE to the system
    # bundle; the dev system needs the local CA too, so it is set, not defaulted.
    os.environ["REQUESTS_CA_BUNDLE"] = str(ca.bundle)
    from devtools.mailbox import start_mailbox

    mail_folder = PROJECT_ROOT / ".local" / "mail"
    mailbox = start_mailbox(mail_folder, port=7025)
    values = json.loads(SETTINGS.read_text()).get("Values", {})
    if not values.get("SMTP_URL"):
        # Invites and password resets go to the local mailbox (unless the settings
        # name a real SMTP server).
        os.environ.setdefault("SMTP_URL", mailbox.smtp_url)
        os.environ.setdefault("MAIL_FROM", "entrabridge-dev@localhost")
    load_local_settings(SETTINGS)
    vault_port = _port_of(os.environ.get("KEY_VAULT_URI", values.get("KEY_VAULT_URI", "")), 7444)
    public = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:7071")
    host_port = _port_of(public, 7071)

    azurite = start_azurite(port=10002, location=PROJECT_ROOT / ".local" / "azurite")
    vault = FakeKeyVault().serve(port=vault_port)
    entra = FakeEntra().serve(port=7443)  # the committed demo directory
    sys.path.insert(0, str(PROJECT_ROOT))
    host = FuncHost(load_app("function_app:app"), port=host_port)
    from devtools.demo_tenant import DEMO_TENANT, seed_demo_tenant
    from shared.container import get_services

    seed_demo_tenant(get_services())
    # The Key Vault stand-in starts empty while Azurite keeps its tables: tenants
    # configured in an earlier run have lost their secrets. One health probe finds
    # and records that, so their login pages show no button that leads to an error.
    degraded = get_services().health.report().degraded_tenants
    notice = (
        f"  Not signing in  {', '.join(degraded)}: client secret gone with the last run's\n"
        "                  Key Vault stand-in (PUT .../oauth2/client-secret restores it)\n"
        if degraded
        else ""
    )
    login = f"{host.url}/api/auth/{DEMO_TENANT}/login"
    print(
        "\nentrabridge is running locally:\n"
        f"  Functions host  {host.url}/api   (health: {host.url}/api/health)\n"
        f"  Azurite tables  http://127.0.0.1:{azurite.port}\n"
        f"  Key Vault       {vault.base_url}\n"
        f"  Entra ID        {entra.base_url}  (demo directory)\n"
        f"  Mail            {mailbox.smtp_url}: open {mail_folder / 'index.html'}\n"
        f"  Sign in (demo)  {login}\n"
        f"  Settings (demo) {host.url}/api/auth/{DEMO_TENANT}/settings  (sign in as Alan\n"
        "                  Turing, a tenant admin, first)\n"
        f"{notice}"
        f"  Admin API       {host.url}/api/admin/tenants/{DEMO_TENANT}/oauth2  (header\n"
        "                  X-Platform-Admin-Key: PLATFORM_ADMIN_KEY of local.settings.json;\n"
        '                  README "Admin API" walks through a new tenant)\n'
        "Ctrl-C stops everything.",
        flush=True,
    )
    try:
        host.serve_forever()
    except KeyboardInterrupt:
        print("\nStopping...")
    finally:
        stop_all(entra, vault, azurite, mailbox)


class _Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_all(*parts: _Stoppable) -> None:
    """Stop every part, whatever happens meanwhile: a second Ctrl-C or SIGTERM (make
    passes one on to its child as well) must not leave a stand-in holding its port."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for part in parts:
        try:
            part.stop()
        except Exception as error:  # the next one is stopped all the same
            print(f"Could not stop {type(part).__name__}: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
