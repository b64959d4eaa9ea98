"""Real Azurite for the tests: one per test session (per xdist worker), in memory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devtools.azurite import Azurite, start_azurite
from shared.store.tables import TableStore


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    instance = start_azurite()
    yield instance
    instance.stop()


@pytest.fixture
def private_azurite() -> Iterator[Azurite]:
    """An Azurite of this test's own, which the test may stop."""
    instance = start_azurite()
    yield instance
    instance.stop()


@pytest.fixture
def table_store(azurite: Azurite) -> Iterator[TableStore]:
    """A store whose tables are this test's alone (unique name prefix)."""
    store = TableStore.from_connection_string(
        azurite.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}"
    )
    yield store
    store.close()
