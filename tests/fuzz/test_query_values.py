"""Every query parameter of every route, given values a caller could send (numbers past
any database's range, negative, fractional, empty, undecodable, huge): never a 5xx."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from tests.support import Bastion, StartBastion

VALUES = [
    "", "-1", "0", "1.5", str(10**20), str(2**63), "nan", "\u00b2", "%ff%fe", "a" * 5000,
    "[]", "null", "true", "..%2f..%2fetc", "desc", "asc", "name",
]  # fmt: skip


async def test_no_query_value_gets_a_server_error(start_bastion: StartBastion) -> None:
    bastion: Bastion = await start_bastion(
        {"API_RATE_LIMIT_USER": "1000000/1m", "WEBUI_URL": "http://testserver"}
    )
    token = (await bastion.signup("admin@example.com"))["token"]
    auth = {"Authorization": f"Bearer {token}"}
    failures = []
    tried = 0
    for route in bastion.app.routes:
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        names = [param.alias for param in route.dependant.query_params]
        if not names:
            continue
        path = re.sub(r"\{[^}]+\}", "nothing", route.path)
        for name in names:
            for value in VALUES:
                answer = await bastion.client.get(path, params={name: value}, headers=auth)
                tried += 1
                if answer.status_code >= 500:
                    failures.append((path, name, value[:20], answer.status_code))
    assert tried > 50 and failures == []
