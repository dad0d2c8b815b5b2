"""``POST /api/v1/auths/update/profile``: a person changes their own name."""

from __future__ import annotations

from bastion.audit.events import MemorySink
from tests.support import Bastion, StartBastion


async def test_the_name_is_changed_and_recorded(start_bastion: StartBastion) -> None:
    sink = MemorySink()
    bastion: Bastion = await start_bastion(sinks=[sink])
    user = await bastion.signup("someone@example.com", name="Old Name")
    headers = {"Authorization": f"Bearer {user['token']}"}
    response = await bastion.client.post(
        "/api/v1/auths/update/profile",
        json={"name": "  New <b>Name</b>  ", "profile_image_url": "/user.png"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": user["id"],
        "email": "someone@example.com",
        "name": "New <b>Name</b>",
        "role": "admin",
    }
    assert (await bastion.me(user["token"])).json()["name"] == "New <b>Name</b>"
    [event] = sink.of_type("user.profile_change")
    assert event.user_id == user["id"]
    assert event.details == {"name": "New <b>Name</b>"}


async def test_an_empty_name_is_refused(bastion: Bastion) -> None:
    user = await bastion.signup("someone@example.com", name="Kept")
    response = await bastion.client.post(
        "/api/v1/auths/update/profile",
        json={"name": "   "},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert response.status_code == 422
    assert "detail" in response.json()
    assert (await bastion.me(user["token"])).json()["name"] == "Kept"


async def test_signed_out_callers_are_refused(bastion: Bastion) -> None:
    response = await bastion.client.post("/api/v1/auths/update/profile", json={"name": "X"})
    assert response.status_code == 401
