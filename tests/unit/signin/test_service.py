"""SignInService on in-memory stores: provisioning decisions, lock-in, re-sync.

The service, the container and every adapter are the production code; only the
stores (MemoryTables, MemoryVault) and Entra (EntraDouble) are in memory."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from shared.signin.results import Completed
from shared.signin.transaction import new_browser_binding
from tests.support.entra_double import Person
from tests.support.unit_services import UnitWorld, random_id


def sign_in(unit: UnitWorld, person: Person, tenant: str = "contoso") -> Completed:
    cookie, binding = new_browser_binding()
    started = unit.services.signin.start(
        tenant, mode="redirect", return_to=None, browser_binding=binding
    )
    state = parse_qs(urlsplit(started.authorization_url).query)["state"][0]
    code = unit.entra.signs_in(person)
    done = unit.services.signin.complete(
        tenant, {"code": code, "state": state}, spa=False, browser_cookie=cookie, ip="192.0.2.1"
    )
    assert isinstance(done, Completed)
    return done


def test_a_first_sign_in_creates_the_user_with_the_profiles_of_their_groups(
    unit: UnitWorld,
) -> None:
    engineers, profile = random_id(), random_id()
    unit.tenant(mappings={engineers: profile})
    ada = Person(oid=random_id(), email="ada@contoso.example", groups=(engineers,))

    done = sign_in(unit, ada)

    assert done.user.email == "ada@contoso.example"
    assert done.user.profiles == (profile,)
    claims = unit.services.sessions.verify_token(done.tokens.access_token)
    assert claims.sub == done.user.id
