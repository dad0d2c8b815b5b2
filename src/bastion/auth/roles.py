"""The roles an account can have: ``pending`` until an admin approves it, then ``user``
or ``admin``."""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "user", "pending"]
ROLES: tuple[Role, ...] = ("admin", "user", "pending")
