"""Microsoft Entra ID (v2.0) and Microsoft Graph stand-in over HTTPS, for dev and tests.

    python -m devtools.fake_entra --port 7443 --directory FILE

Hosts any number of directories (tenants) from a directory file (format in
`devtools.fake_entra.directory`; `demo_directory.json` is the one `make dev` uses).
Each directory answers on Entra's own paths, under `https://HOST:PORT/{tenant_id}`:

- `/v2.0/.well-known/openid-configuration` (issuer `https://HOST:PORT/{tid}/v2.0`)
- `/discovery/v2.0/keys`
- `/oauth2/v2.0/authorize`: exact client_id and redirect_uri (else an AADSTS700016 /
  AADSTS50011 page, no redirect), response_type=code, PKCE S256; a `login_hint`
  naming a user signs in at once, otherwise a page lists the users to click;
  response_mode query, fragment or form_post.
- `/oauth2/v2.0/token`: authorization_code and refresh_token grants,
  client_secret_post or client_secret_basic; Entra's error JSON and AADSTS codes.
- `/oauth2/v2.0/logout`

MSAL pointed at `https://HOST:PORT/{tid}` with `instance_discovery=False` asks for
nothing else. Graph is served at the same origin (`/v1.0/me`,
`/v1.0/me/transitiveMemberOf`, ...: see `devtools.fake_entra.graph`).

Python API (tests): `FakeEntra(directory).serve()` listens on a free port;
`set_faults(**switches)` (names in `devtools.fake_entra.faults`), `rotate_keys()`,
`keys` (add, publish, unpublish, use), `groups_limit`, `code_lifetime`,
`update_user()`, `add_redirect_uri()`, `add_client_secret()`, `issue_id_token()`,
`requests_seen()`, `reset()`, `stop()`.

HTTP control route (another process): `POST /_control/faults` with JSON
`{"jwks_down": true}`, `DELETE /_control/faults`, `POST /_control/reset`,
`POST /_control/keys/rotate`, ... (loopback callers only; all routes in
`devtools.fake_entra.control`).

Nothing here is secure: any listed user signs in without a password. Bind it to
loopback (the default) and never point a real application at it.
"""

from devtools.fake_entra.directory import (
    AppRegistration,
    ClientSecret,
    Directory,
    DirectoryError,
    DirectoryRole,
    Group,
    SignInError,
    User,
    load_directories,
)
from devtools.fake_entra.faults import ENDPOINT_FAULTS, ID_TOKEN_ATTACKS, Faults
from devtools.fake_entra.keys import KeyRing, SigningKey
from devtools.fake_entra.server import DEMO_DIRECTORY, FakeEntra

__all__ = [
    "DEMO_DIRECTORY",
    "ENDPOINT_FAULTS",
    "ID_TOKEN_ATTACKS",
    "AppRegistration",
    "ClientSecret",
    "Directory",
    "DirectoryError",
    "DirectoryRole",
    "FakeEntra",
    "Faults",
    "Group",
    "KeyRing",
    "SignInError",
    "SigningKey",
    "User",
    "load_directories",
]
