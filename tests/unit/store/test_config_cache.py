"""The configuration cache on the instance that writes: a change takes effect here at
once, even when a request was reading the configuration at that moment."""

from __future__ import annotations

from dataclasses import replace

from shared.store.configs import ConfigStore
from shared.tenants.model import OAuth2Config
from tests.support.memory_tables import ChangedDuringTheRead, MemoryTables


def test_sso_switched_off_during_a_read_is_off_here_at_once() -> None:
    racing = ChangedDuringTheRead(MemoryTables())
    configs = ConfigStore(racing)
    on = OAuth2Config(enabled=True, client_id="c", tenant_id="t")
    configs.put_tenant("contoso", "Contoso", on)
    configs.forget("contoso")
    racing.meanwhile = lambda: configs.put_tenant("contoso", "Contoso", replace(on, enabled=False))

    during = configs.get_config("contoso")  # read before the write: still on then
    assert during is not None and during.enabled
    after = configs.get_config("contoso")
    assert after is not None and not after.enabled  # ... and not kept past it
