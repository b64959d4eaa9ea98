"""The configuration cache on the instance that writes: a change takes effect here at
once, even when a request was reading the configuration at that moment."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.errors import SsoUnavailable
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


class LandsThenTimesOut:
    """Storage that, once `failing`, writes a row but never answers (a timeout)."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)

    def update(self, table: str, entity: Any, *, etag: str) -> Any:
        written = self.tables.update(table, entity, etag=etag)
        if self.failing:
            raise SsoUnavailable("no answer from storage")
        return written


def test_a_write_that_landed_but_timed_out_is_not_hidden_by_the_cache() -> None:
    storage = LandsThenTimesOut(MemoryTables())
    configs = ConfigStore(storage)
    on = OAuth2Config(enabled=True, client_id="c", tenant_id="t")
    configs.put_tenant("contoso", "Contoso", on)
    record = configs.cached_tenant("contoso")  # cached here
    assert record is not None
    storage.failing = True
    with pytest.raises(SsoUnavailable):
        configs.replace_config(record, replace(on, enabled=False))
    after = configs.get_config("contoso")
    assert after is not None and not after.enabled


def test_a_tenant_this_instance_creates_is_known_here_at_once() -> None:
    configs = ConfigStore(MemoryTables())
    assert configs.cached_tenant("acme") is None  # "no such tenant", cached
    configs.create_or_rename("acme", "Acme")
    record = configs.cached_tenant("acme")
    assert record is not None and record.display_name == "Acme"


def test_an_admin_write_over_a_sign_ins_mark_keeps_the_credential_proven() -> None:
    # The admin read the configuration while its new secret was pending; a sign-in
    # proves the secret before the admin's write lands (over that mark). The write
    # keeps the secret, so the proof stays: the next rotation demotes this secret to
    # the fallback, not an older one.
    configs = ConfigStore(MemoryTables())
    configs.put_tenant(
        "acme",
        "Acme",
        OAuth2Config(
            client_secret_set=True, client_secret_version="v2", client_secret_pending=True
        ),
    )
    read_by_admin = configs.get_tenant("acme")
    assert read_by_admin is not None and read_by_admin.config.client_secret_pending
    assert configs.mark_client_secret_proven("acme", "v2")
    configs.replace_config(read_by_admin, replace(read_by_admin.config, button_label="Sign in"))
    written = configs.read_now("acme")
    assert written is not None and written.button_label == "Sign in"
    assert not written.client_secret_pending
    # A write that pins another version starts that one pending, as it should.
    rotated = configs.get_tenant("acme")
    assert rotated is not None
    configs.replace_config(
        rotated,
        replace(rotated.config, client_secret_version="v3", client_secret_pending=True),
    )
    after = configs.read_now("acme")
    assert after is not None and after.client_secret_pending
