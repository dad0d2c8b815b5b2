"""The administrator's settings routes given every key they show, each with values of
every JSON type and the strings an administrator could paste: a change is taken or
refused with 422 naming the key, never a 5xx, and a refusal leaves the settings as
they were."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Bastion, StartBastion

ROUTES = [
    "/api/v1/auths/admin/config",
    "/openai/config",
    "/ollama/config",
    "/api/v1/retrieval/config",
]
VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, float("1e308"), "", " ", "\u00b2", "\u0665", "nan",
    "9" * 400, "\x00", "a\nb", "http://[::1", "http://a:99999", "ftp://x", "*", "1/0s",
    "-5/1m", [], ["http://[::1"], [None], [1, 2], {}, {"0": None}, {"a": [[]]},
]  # fmt: skip


@pytest.fixture
async def admin(start_bastion: StartBastion) -> tuple[Bastion, dict[str, str]]:
    bastion = await start_bastion(
        {"WEBUI_URL": "http://testserver", "API_RATE_LIMIT_USER": "1000000/1m"}
    )
    token = (await bastion.signup("admin@example.com"))["token"]
    return bastion, {"Authorization": f"Bearer {token}"}


async def test_no_value_of_any_key_gets_a_server_error(
    admin: tuple[Bastion, dict[str, str]],
) -> None:
    bastion, auth = admin
    failures = []
    for route in ROUTES:
        shown = await bastion.client.get(route, headers=auth)
        assert shown.status_code == 200, route
        keys = [key for key in shown.json() if key not in ("START_TIME_ONLY", "IGNORED")]
        assert keys, route
        for key in keys:
            for value in VALUES:
                before = (await bastion.client.get(route, headers=auth)).json()
                answer = await bastion.client.post(_update(route), json={key: value}, headers=auth)
                if answer.status_code >= 500:
                    failures.append((route, key, value, answer.status_code))
                elif answer.status_code == 422:
                    after = (await bastion.client.get(route, headers=auth)).json()
                    if after != before:
                        failures.append((route, key, value, "changed though refused"))
                elif answer.status_code != 200:
                    failures.append((route, key, value, answer.status_code))
    assert failures == []


def _update(route: str) -> str:
    return route if route.endswith("/admin/config") else f"{route}/update"
