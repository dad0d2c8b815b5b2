"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.postgres import PostgresUnavailable, throwaway_cluster
from tests.integration.redis_server import RedisServer, RedisUnavailable

pytest_plugins = ["tests.support", "tests.web_servers"]

# PostgreSQL
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


# Redis
# A private redis-server (free port, no persistence) for the session, emptied before each
# test that uses it; fault tests start their own with ``redis_process`` so that they can
# kill, hang or restart it. Like PostgreSQL, it fails rather than skips when missing.


def _redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.fail(f"Redis for the tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_session_server() -> Iterator[RedisServer]:
    yield from _redis_server()


@pytest.fixture
def redis_url(redis_session_server: RedisServer) -> str:
    redis_session_server.flush()
    return redis_session_server.url


@pytest.fixture
def redis_process() -> Iterator[RedisServer]:
    """A redis-server of this test's own, to break as the test sees fit."""
    yield from _redis_server()
