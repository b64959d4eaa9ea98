"""Fixtures that serve a FunctionApp through the local Functions host over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.funchost import FuncHost, load_app

SAMPLE_APP = "tests.integration.funchost_sample_app:app"


@pytest.fixture(scope="module")
def sample_host() -> Iterator[FuncHost]:
    """tests/integration/funchost_sample_app.py served on a free port (plain HTTP)."""
    with FuncHost(load_app(SAMPLE_APP), prefix="api") as host:
        yield host
