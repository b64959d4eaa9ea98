"""`python -m devtools.fake_entra --port 7443 --directory FILE`: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from devtools.fake_entra.directory import DirectoryError
from devtools.fake_entra.server import DEMO_DIRECTORY, FakeEntra
from devtools.fake_entra.tokens import DEFAULT_GROUPS_LIMIT


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def describe(entra: FakeEntra) -> str:
    """What a person needs: each directory's authority, apps and users."""
    lines = [f"Entra ID stand-in listening on {entra.base_url}"]
    for tenant_id in entra.tenant_ids:
        directory = entra.directory(tenant_id)
        if directory is None:
            continue
        lines.append(f"  directory {directory.name}: authority {entra.authority(tenant_id)}")
        for app in directory.apps.values():
            uris = ", ".join(app.redirect_uris) or "(no redirect URIs)"
            lines.append(f"    app {app.name} client_id={app.client_id} redirect={uris}")
        lines.append(
            f"    {len(directory.users)} users: "
            + ", ".join(u.upn for u in directory.users.values())
        )
    lines.append(f"  Graph: {entra.graph_base_url}/v1.0   control: {entra.base_url}/_control")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Entra ID + Graph stand-in over HTTPS")
    parser.add_argument("--port", type=int, default=7443, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--directory",
        type=Path,
        default=DEMO_DIRECTORY,
        help="directory file (JSON); the demo directory by default",
    )
    parser.add_argument(
        "--groups-limit",
        type=int,
        default=DEFAULT_GROUPS_LIMIT,
        help="groups in an ID token before the overage form (Entra: 200)",
    )
    args = parser.parse_args(argv)
    try:
        entra = FakeEntra(args.directory, groups_limit=args.groups_limit)
    except (OSError, ValueError, DirectoryError) as exc:
        parser.error(f"cannot load {args.directory}: {exc}")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    entra.serve(host=args.host, port=args.port)
    print(describe(entra), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        entra.stop()


if __name__ == "__main__":
    main()
