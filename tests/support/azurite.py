"""Real Azurite for the tests: one per test session (so one per xdist worker), in
memory on a free port, plus a private one a test may stop. Azurite missing is a
failure that says how to install it, never a skip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite, AzuriteMissing, start_azurite
from shared.store.tables import TableStore


def _start() -> Azurite:
    try:
        return start_azurite()
    except AzuriteMissing as missing:
        pytest.fail(str(missing), pytrace=False)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with _start() as instance:
        yield instance


@pytest.fixture
def private_azurite() -> Iterator[Azurite]:
    """An Azurite of this test's own, which the test may stop."""
    with _start() as instance:
        yield instance


@pytest.fixture
def table_store(azurite: Azurite) -> Iterator[TableStore]:
    """A store on the session's Azurite whose tables are this test's alone
    (a unique table-name prefix)."""
    store = TableStore.from_connection_string(
        azurite.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}"
    )
    yield store
    store.close()
