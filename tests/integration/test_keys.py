"""KeyStore: a revoked key is never revived and a key never moves to another tenant."""

from __future__ import annotations

import uuid

import pytest
from orchestration_core.shared.errors import Conflict, Unauthorized, ValidationFailed

from orchestration_local.runtime import Runtime


def test_adding_a_revoked_key_again_is_a_conflict_and_it_stays_revoked(runtime: Runtime, tenant: str) -> None:
    store = runtime.key_store()
    plaintext, key = store.create(tenant, "k")
    store.revoke(key.key_id)
    with pytest.raises(Conflict, match="revoked"):
        store.add(plaintext, tenant, "again")
    with pytest.raises(Unauthorized):
        store.authenticate(plaintext)
    found = store.find(plaintext)
    assert found is not None and found.revoked_at and found.name == "k"


def test_a_key_never_moves_to_another_tenant(runtime: Runtime, tenant: str) -> None:
    store = runtime.key_store()
    plaintext, key = store.create(tenant, "k")
    with pytest.raises(Conflict, match="another tenant"):
        store.add(plaintext, f"o-{uuid.uuid4().hex[:8]}", "stolen")
    assert store.authenticate(plaintext).tenant_id == tenant
    assert store.add(plaintext, tenant, "same tenant").key_id == key.key_id  # idempotent


def test_tenant_ids_and_names_are_bounded(runtime: Runtime) -> None:
    store = runtime.key_store()
    _, key = store.create("t" * 128, "n" * 128)
    assert key.tenant_id == "t" * 128
    for tenant, name in [("t" * 129, ""), ("None ", ""), ("", ""), ("ok", "n" * 129)]:
        with pytest.raises(ValidationFailed):
            store.create(tenant, name)
    assert store.find("orch_unknown") is None
