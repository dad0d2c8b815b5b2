"""The browser tests' fixtures (see ``tests/e2e/harness.py``)."""

from tests.e2e.harness import (
    admin,
    api,
    browser,
    local_server,
    make_user,
    new_context,
    playwright,
    problems,
    screenshot,
    screenshots,
    served,
    upstream,
)

__all__ = [
    "admin",
    "api",
    "browser",
    "local_server",
    "make_user",
    "new_context",
    "playwright",
    "problems",
    "screenshot",
    "screenshots",
    "served",
    "upstream",
]
