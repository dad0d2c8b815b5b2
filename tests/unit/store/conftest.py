"""The repositories' fixtures (defined in tests/unit/store/support.py)."""

from tests.unit.store.support import db, new_user, users

__all__ = ["db", "new_user", "users"]
