"""The configuration cache on the instance that writes: a change takes effect here at
once, even when a request was reading the configuration at that moment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared.store.configs import ConfigStore
from shared.store.rows import Row
from shared.tenants.model import OAuth2Config
from tests.support.memory_tables import MemoryTables


class WrittenDuringTheRead:
    """Tables whose next read returns the row as it was while `meanwhile` (a
    configuration write by another request on this instance) runs."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables
        self.meanwhile: Callable[[], object] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    def get(self, table: str, partition_key: str, row_key: str) -> Row | None:
        row = self.tables.get(table, partition_key, row_key)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return row


def test_sso_switched_off_during_a_read_is_off_here_at_once() -> None:
    racing = WrittenDuringTheRead(MemoryTables())
    configs = ConfigStore(racing)
    on = OAuth2Config(enabled=True, client_id="c", tenant_id="t")
    configs.put_tenant("contoso", "Contoso", on)
    configs.forget("contoso")
    racing.meanwhile = lambda: configs.put_tenant("contoso", "Contoso", replace(on, enabled=False))

    during = configs.get_config("contoso")  # read before the write: still on then
    assert during is not None and during.enabled
    after = configs.get_config("contoso")
    assert after is not None and not after.enabled  # ... and not kept past it
