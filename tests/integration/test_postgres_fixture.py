from __future__ import annotations

from urllib.parse import urlsplit

import psycopg


def test_postgres_url_reaches_a_server_that_runs_queries(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, connect_timeout=10) as connection:
        assert connection.execute("select 1").fetchone() == (1,)
        database = connection.execute("select current_database()").fetchone()
    assert database == (urlsplit(postgres_url).path.lstrip("/"),)
