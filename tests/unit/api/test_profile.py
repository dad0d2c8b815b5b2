"""``POST /api/v1/auths/update/profile``: a person changes their own name and picture."""

from __future__ import annotations

import base64

import pytest

from bastion.audit.events import MemorySink
from bastion.files.data_url import MAX_IMAGE_BYTES
from tests.support import Bastion, StartBastion

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


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
        "profile_image_url": "",
    }
    assert (await bastion.me(user["token"])).json()["name"] == "New <b>Name</b>"
    [event] = sink.of_type("user.profile_change")
    assert event.user_id == user["id"]
    assert event.details == {"name": "New <b>Name</b>", "picture": False}


async def test_a_raster_data_url_is_kept_as_the_picture(bastion: Bastion) -> None:
    user = await bastion.signup("someone@example.com")
    headers = {"Authorization": f"Bearer {user['token']}"}
    response = await bastion.client.post(
        "/api/v1/auths/update/profile",
        json={"name": "Someone", "profile_image_url": PNG_URL},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert (await bastion.me(user["token"])).json()["profile_image_url"] == PNG_URL
    renamed = await bastion.client.post(
        "/api/v1/auths/update/profile", json={"name": "Renamed"}, headers=headers
    )
    assert renamed.json()["profile_image_url"] == PNG_URL  # a name alone keeps the picture
    cleared = await bastion.client.post(
        "/api/v1/auths/update/profile",
        json={"name": "Renamed", "profile_image_url": ""},
        headers=headers,
    )
    assert cleared.json()["profile_image_url"] == ""


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://tracker.example/pixel.png", "a URL every viewer's browser would fetch"),
        ("data:image/svg+xml;base64," + base64.b64encode(b"<svg onload=alert(1)>").decode(), "svg"),
        ("data:image/png;base64," + base64.b64encode(b"<html><script>").decode(), "not a png"),
        ("data:image/jpeg;base64," + base64.b64encode(PNG).decode(), "a png claimed as jpeg"),
        ("data:image/png;base64,***", "not base64"),
        (
            "data:image/png;base64," + base64.b64encode(PNG + b"\x00" * MAX_IMAGE_BYTES).decode(),
            "too large",
        ),
        ("javascript:alert(1)", "script"),
    ],
)
async def test_pictures_that_are_not_small_raster_images_are_refused(
    bastion: Bastion, url: str, why: str
) -> None:
    user = await bastion.signup("someone@example.com")
    headers = {"Authorization": f"Bearer {user['token']}"}
    response = await bastion.client.post(
        "/api/v1/auths/update/profile",
        json={"name": "Changed", "profile_image_url": url},
        headers=headers,
    )
    assert response.status_code == 422, why
    assert response.json()["code"] in ("invalid_profile_image", "validation_error"), why
    me = (await bastion.me(user["token"])).json()
    assert (me["name"], me["profile_image_url"]) == ("Someone", ""), why


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
