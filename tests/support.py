"""What the tests share: one running Bastion instance and its HTTP client."""

from __future__ import annotations

import httpx

from bastion.config import Settings
from bastion.services import Services

PASSWORD = "correct horse battery staple"


class Bastion:
    """One running instance: its settings, services and an HTTP client."""

    def __init__(self, settings: Settings, services: Services, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.services = services
        self.client = client

    async def signup(self, email: str, password: str = PASSWORD, name: str = "Someone") -> dict:
        response = await self.client.post(
            "/api/v1/auths/signup", json={"name": name, "email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def signin(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/v1/auths/signin", json={"email": email, "password": password}
        )

    async def me(self, token: str) -> httpx.Response:
        return await self.client.get(
            "/api/v1/auths/", headers={"Authorization": f"Bearer {token}"}
        )
