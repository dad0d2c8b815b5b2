"""An administrator made by the operator: from ``WEBUI_ADMIN_EMAIL`` or ``create-admin``.

Both ways hold the password to the policy every user's password meets, and neither
makes the account through sign-up: the first account is not promoted by chance.
"""

from __future__ import annotations

from bastion.auth.passwords import PasswordHasher, PasswordPolicy
from bastion.store.users import UserRecord, Users


async def create_admin(
    users: Users,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    *,
    email: str,
    name: str,
    password: str,
) -> UserRecord:
    """The new admin account; raises the policy's error or ``EmailTaken``."""
    email = email.lower()
    policy.check(password, context=(email, name))
    return await users.create(
        email=email,
        name=name,
        password_hash=await hasher.hash_async(password),
        role="admin",
        first_is_admin=False,
    )
