"""Fixtures that serve a FunctionApp through the local host over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.funchost import FuncHost, load_app


@pytest.fixture(scope="module")
def sample_host() -> Iterator[FuncHost]:
    host = FuncHost(load_app("tests.integration.funchost_sample_app:app")).start()
    yield host
    host.stop()
