"""Who may use which model: admins every model, others what the model's list grants."""

from __future__ import annotations

from collections.abc import Iterable

from bastion.auth.authenticate import Principal
from bastion.store.model_access import AccessList, ModelAccessStore


def _grants(access: AccessList | None, user_id: str, groups: frozenset[str]) -> bool:
    """Listed by id, or a member of a listed group."""
    if access is None:
        return False
    return user_id in access.user_ids or not groups.isdisjoint(access.groups)


class ModelAccessControl:
    def __init__(self, store: ModelAccessStore, *, bypass: bool) -> None:
        self.store = store
        self._bypass = bypass

    def _sees_all(self, principal: Principal) -> bool:
        return self._bypass or principal.user.role == "admin"

    async def may_use(self, principal: Principal, model_id: str) -> bool:
        if self._sees_all(principal):
            return True
        access = await self.store.get(model_id)
        user_id = principal.user.id
        if user_id in access.user_ids:
            return True
        return bool(access.groups) and _grants(access, user_id, await self.store.groups_of(user_id))

    async def usable(self, principal: Principal, model_ids: Iterable[str]) -> list[str]:
        """The ids of ``model_ids`` the caller may use, in their order."""
        if self._sees_all(principal):
            return list(model_ids)
        lists = await self.store.all()
        groups = await self.store.groups_of(principal.user.id)
        return [
            model_id
            for model_id in model_ids
            if _grants(lists.get(model_id), principal.user.id, groups)
        ]
