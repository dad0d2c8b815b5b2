"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.postgres import PostgresUnavailable, throwaway_cluster

pytest_plugins = ["tests.support", "tests.web_servers"]

# --- PostgreSQL ---------------------------------------------------------------------------
# A real server for the tests that need one: BASTION_TEST_DATABASE_URL when set (reuse a
# running server), else a throwaway cluster for the session. It fails, never skips, when
# PostgreSQL cannot be had: a skipped test would pass for one that ran.


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    external = os.environ.get("BASTION_TEST_DATABASE_URL")
    if external:
        yield external
        return
    try:
        with throwaway_cluster() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL for the tests: {exc}", pytrace=False)


# --- end PostgreSQL -----------------------------------------------------------------------
