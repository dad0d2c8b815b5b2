"""The settings and administration pages on the server: who gets them, and what is drawn."""

from __future__ import annotations

import pytest

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion

ADMIN_PAGES = ["/admin/users", "/admin/groups", "/admin/models", "/admin/audit", "/admin/security"]


def _cookie(bastion: Bastion, token: str) -> None:
    bastion.client.cookies.clear()
    bastion.client.cookies.set("token", token)


@pytest.mark.parametrize("path", [*ADMIN_PAGES, "/settings"])
async def test_signed_out_visitors_go_to_sign_in(bastion: Bastion, path: str) -> None:
    response = await bastion.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/auth?next={path}"


@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_admin_pages_are_refused_to_users(bastion: Bastion, path: str) -> None:
    await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    # A pending account goes to the waiting page; an approved user gets a 403 page.
    _cookie(bastion, user["token"])
    assert (await bastion.client.get(path)).headers["location"] == "/pending"
    await bastion.services.users.set_role(user["id"], "user")
    token = (await bastion.signin("user@example.com")).json()["token"]
    _cookie(bastion, token)
    response = await bastion.client.get(path)
    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert "Administrators only" in response.text
    assert 'id="confirm-dialog"' not in response.text


@pytest.mark.parametrize("path", [*ADMIN_PAGES, "/settings"])
async def test_admins_get_every_page_not_stored(bastion: Bastion, path: str) -> None:
    admin = await bastion.signup("admin@example.com", name="<b>Ada</b>")
    _cookie(bastion, admin["token"])
    response = await bastion.client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "<b>Ada</b>" not in response.text
    assert "&lt;b&gt;Ada&lt;/b&gt;" in response.text
    assert "style=" not in response.text


async def test_security_page_draws_the_failures_and_the_warnings(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion({"JWT_EXPIRES_IN": "-1"}, sinks=[MemorySink()])
    assert bastion.settings.warnings, "the environment should raise a start-up warning"
    admin = await bastion.signup("admin@example.com")
    await bastion.signup("user@example.com")
    for _ in range(2):
        assert (await bastion.signin("user@example.com", "not the password")).status_code == 400
    assert bastion.services.audit.flush(30)
    _cookie(bastion, admin["token"])
    page = (await bastion.client.get("/admin/security")).text
    assert 'aria-labelledby="chart-signin_failures-title chart-signin_failures-desc"' in page
    assert "Sign-in failures, 24h" in page
    assert '<desc id="chart-signin_failures-desc">2 in all.' in page
    assert '<th scope="row" class="top-name">127.0.0.1</th><td class="top-count">2</td>' in page
    for warning in bastion.settings.warnings:
        assert str(warning).replace('"', "&#34;").replace("'", "&#39;") in page
    week = (await bastion.client.get("/admin/security", params={"range": "7d"})).text
    assert "Sign-in failures, 7d" in week
    odd = (await bastion.client.get("/admin/security", params={"range": "<x>"})).text
    assert "Sign-in failures, 24h" in odd


async def test_security_page_says_when_the_audit_log_is_off(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ENABLE_AUDIT_LOGS_FILE": "false"})
    admin = await bastion.signup("admin@example.com")
    _cookie(bastion, admin["token"])
    page = (await bastion.client.get("/admin/security")).text
    assert "The audit log file is disabled" in page
    assert "<svg" not in page
