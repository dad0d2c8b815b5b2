"""Uploads on a real PostgreSQL server: stored, listed per owner, refused to others."""

from __future__ import annotations

from tests.support import StartBastion


async def test_files_belong_to_their_owner_on_postgresql(
    start_bastion: StartBastion, postgres_database: str
) -> None:
    env = {"DATABASE_URL": postgres_database, "DEFAULT_USER_ROLE": "user"}
    bastion = await start_bastion(env)
    owner = {"Authorization": f"Bearer {(await bastion.signup('owner@example.com'))['token']}"}
    other = {"Authorization": f"Bearer {(await bastion.signup('other@example.com'))['token']}"}
    stored = (
        await bastion.client.post(
            "/api/v1/files/", files={"file": ("notes.txt", b"on postgres")}, headers=owner
        )
    ).json()
    url = f"/api/v1/files/{stored['id']}"

    restarted = await start_bastion(env)
    assert [
        f["id"] for f in (await restarted.client.get("/api/v1/files/", headers=owner)).json()
    ] == [stored["id"]]
    assert (await restarted.client.get("/api/v1/files/", headers=other)).json() == []
    assert (await restarted.client.get(f"{url}/content", headers=other)).status_code == 404
    assert (await restarted.client.delete(url, headers=other)).status_code == 404
    download = await restarted.client.get(f"{url}/content", headers=owner)
    assert download.content == b"on postgres"
    assert (await restarted.client.delete(url, headers=owner)).json() == {"status": True}
    assert (await restarted.client.get(url, headers=owner)).status_code == 404
