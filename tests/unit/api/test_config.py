"""``GET /api/config``: what the sign-in page reads before anyone signs in."""

from __future__ import annotations

from bastion import __version__
from tests.support import Bastion, StartBastion


async def test_config_answers_without_a_session_and_holds_nothing_secret(
    bastion: Bastion,
) -> None:
    bastion.client.cookies.clear()
    response = await bastion.client.get("/api/config")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Bastion" and body["version"] == __version__
    assert body["oauth"] == {"providers": {}}
    assert body["features"]["enable_signup"] is True
    assert body["features"]["enable_login_form"] is True
    assert bastion.settings.auth.secret_key not in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_config_says_when_sign_up_is_closed(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ENABLE_SIGNUP": "false"})
    assert (await bastion.client.get("/api/config")).json()["features"]["enable_signup"] is False
