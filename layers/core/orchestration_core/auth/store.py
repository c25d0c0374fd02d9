"""API key items: stored only as SHA-256 hashes with a tenant id; read by the authorizer.

Its hash is the item key, so a lookup is one GetItem; the stored hash is still compared in
constant time before a key is accepted. The plaintext is returned once, at creation, and never
stored or logged.
"""

from __future__ import annotations

import hmac
from typing import Any

from orchestration_core.auth.keys import MAX_KEY_NAME, TENANT, ApiKey, hash_key, new_plaintext_key
from orchestration_core.shared import clock
from orchestration_core.shared.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from orchestration_core.shared.ids import new_id
from orchestration_core.shared.table import ConditionFailed, Table, index_attributes, serialize


def _to_key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["keyId"],
        tenant_id=item["tenantId"],
        name=item.get("name", ""),
        created_at=item["createdAt"],
        revoked_at=item.get("revokedAt"),
    )


class KeyStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    def add(self, plaintext: str, tenant_id: str, name: str) -> ApiKey:
        """Store a key (its hash). A key that exists for this tenant is returned as it is; a
        revoked key is never revived and a key never moves to another tenant (409)."""
        if not TENANT.match(tenant_id):
            raise ValidationFailed("tenant ids are 1..128 characters of [A-Za-z0-9_-]")
        if len(name) > MAX_KEY_NAME:
            raise ValidationFailed(f"key names are at most {MAX_KEY_NAME} characters")
        digest = hash_key(plaintext)
        existing = self.table.get(f"KEY#{digest}", "KEY")
        if existing is not None:
            return self._reuse(_to_key(existing), tenant_id)
        key_id = new_id("key")
        created = clock.now_iso()
        item = {
            "PK": f"KEY#{digest}",
            "SK": "KEY",
            "entity": "apikey",
            "keyId": key_id,
            "hash": digest,
            "tenantId": tenant_id,
            "name": name,
            "createdAt": created,
            **index_attributes({1: "KEYS"}, key_id),
        }
        try:
            self.table.transact([self.table.put_op(item, condition="attribute_not_exists(PK)")])
        except ConditionFailed:  # added meanwhile: the same rules as above
            existing = self.table.get(f"KEY#{digest}", "KEY")
            if existing is None:
                raise
            return self._reuse(_to_key(existing), tenant_id)
        return _to_key(item)

    @staticmethod
    def _reuse(key: ApiKey, tenant_id: str) -> ApiKey:
        if key.revoked_at:
            raise Conflict(f"This API key ({key.key_id}) was revoked at {key.revoked_at}; it stays revoked.")
        if key.tenant_id != tenant_id:
            raise Conflict(f"This API key ({key.key_id}) belongs to another tenant.")
        return key

    def find(self, plaintext: str) -> ApiKey | None:
        """The stored key for this plaintext (revoked or not), or None."""
        item = self.table.get(f"KEY#{hash_key(plaintext)}", "KEY")
        return _to_key(item) if item is not None else None

    def create(self, tenant_id: str, name: str) -> tuple[str, ApiKey]:
        plaintext = new_plaintext_key()
        return plaintext, self.add(plaintext, tenant_id, name)

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        keys = [_to_key(i) for i in self._items()]
        return [k for k in keys if tenant_id is None or k.tenant_id == tenant_id]

    def revoke(self, key_id: str) -> ApiKey:
        for key_item in self._items():
            if key_item["keyId"] == key_id:
                if not key_item.get("revokedAt"):
                    key_item["revokedAt"] = clock.now_iso()
                    self.table.transact([self.table.put_op(key_item)])
                return _to_key(key_item)
        raise NotFound(f"No API key with id '{key_id}'.")

    def authenticate(self, plaintext: str) -> ApiKey:
        digest = hash_key(plaintext)
        item = self.table.get(f"KEY#{digest}", "KEY")
        if (
            item is None
            or not hmac.compare_digest(str(item.get("hash", "")), digest)
            or item.get("revokedAt")
        ):
            raise Unauthorized("The API key is not valid.")
        return _to_key(item)

    def _items(self) -> list[dict[str, Any]]:
        """Every key item, newest first: GSI1's ``KEYS`` partition read page by page (by the
        Query's own continuation, not offsets that would read the skipped items again)."""
        pages = self.table.query_pages(
            IndexName="GSI1",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": "GSI1PK"},
            ExpressionAttributeValues=serialize({":pk": "KEYS"}),
            ScanIndexForward=False,
        )
        return [item for items in pages for item in items]
