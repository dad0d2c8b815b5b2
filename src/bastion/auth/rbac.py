"""Role guards and the ownership check every router uses.

An object that belongs to someone else answers 404, like one that does not exist:
a 403 would confirm to a prober that the id is real.
"""

from __future__ import annotations

from collections.abc import Iterable

from bastion.auth.authenticate import Principal
from bastion.auth.roles import Role
from bastion.errors import Forbidden, NotFound


class PendingApproval(Forbidden):
    code = "account_pending"
    detail = "Your account is waiting for an administrator's approval."


def require_role(principal: Principal, roles: Iterable[Role]) -> Principal:
    allowed = tuple(roles)
    if principal.user.role in allowed:
        return principal
    if principal.user.role == "pending":
        raise PendingApproval
    raise Forbidden(code="role_required", detail=f"This needs the {' or '.join(allowed)} role.")


def ensure_owner(
    principal: Principal, owner_id: str | None, *, admin_may: bool = False, what: str = "object"
) -> None:
    """Refuse unless ``principal`` owns the object (or is an admin, where admins may)."""
    if owner_id is not None and owner_id == principal.user.id:
        return
    if admin_may and principal.user.role == "admin":
        return
    raise NotFound(f"No such {what}.")
