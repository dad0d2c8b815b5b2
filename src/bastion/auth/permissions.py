"""What an account may use beyond chatting: the features a group's members are granted.

open-webui's model: every non-admin account has the default permissions (set by the
``USER_PERMISSIONS_*`` variables), and each group it belongs to can grant more; a
permission holds if the defaults or any group grant it. Admins hold every permission.
open-webui's names are kept (``features.api_keys``, ``chat.file_upload``,
``chat.share``); ``features.web_fetch`` is Bastion's, for fetching a web page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from bastion.errors import Forbidden

if TYPE_CHECKING:
    from bastion.auth.authenticate import Principal
    from bastion.store.groups import GroupStore

Permission = Literal["features.api_keys", "features.web_fetch", "chat.file_upload", "chat.share"]
PERMISSIONS: tuple[Permission, ...] = (
    "features.api_keys",
    "features.web_fetch",
    "chat.file_upload",
    "chat.share",
)


class PermissionDenied(Forbidden):
    code = "permission_denied"

    def __init__(self, permission: Permission) -> None:
        super().__init__(f"Your account may not use this ({permission}); ask an administrator.")
        self.permission = permission


def granted(document: Mapping[str, Any] | None) -> frozenset[Permission]:
    """The permissions a stored document (open-webui's nested shape) sets to true."""
    if not document:
        return frozenset()
    found = set()
    for permission in PERMISSIONS:
        section, name = permission.split(".")
        values = document.get(section)
        if isinstance(values, Mapping) and values.get(name) is True:
            found.add(permission)
    return frozenset(found)


def document(permissions: Iterable[Permission]) -> dict[str, dict[str, bool]]:
    """The nested shape of ``permissions``, every known permission present."""
    held = set(permissions)
    shaped: dict[str, dict[str, bool]] = {}
    for permission in PERMISSIONS:
        section, name = permission.split(".")
        shaped.setdefault(section, {})[name] = permission in held
    return shaped


class Permissions:
    """Whether an account holds a permission: admin, the defaults, or one of its groups."""

    def __init__(self, groups: GroupStore, defaults: frozenset[Permission]) -> None:
        self._groups = groups
        self.defaults = defaults

    async def holds(self, principal: Principal, permission: Permission) -> bool:
        if principal.user.role == "admin" or permission in self.defaults:
            return True
        return permission in await self._groups.granted_to(principal.user.id)

    async def of(self, principal: Principal) -> frozenset[Permission]:
        if principal.user.role == "admin":
            return frozenset(PERMISSIONS)
        return self.defaults | await self._groups.granted_to(principal.user.id)
