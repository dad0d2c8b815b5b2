"""Single sign-on on a real PostgreSQL server: an account made, a state good once, the
provider's tokens sealed in the database."""

from __future__ import annotations

from sqlalchemy import select

from bastion.audit.events import MemorySink
from bastion.store.models import OidcFlow, OidcLogin
from tests.integration.oidc.conftest import refused_reasons, to_provider
from tests.oidc_provider import ProviderHandle


async def test_sign_in_and_a_replayed_state_on_postgresql(
    start_sso, provider: ProviderHandle, postgres_database: str, sink: MemorySink
) -> None:
    bastion = await start_sso(DATABASE_URL=postgres_database)
    provider.accounts(pg_user={"sub": "sub-pg", "email": "pg@example.com", "email_verified": True})
    callback = await to_provider(bastion, "pg_user")
    state_cookie = bastion.client.cookies["oauth_state"]
    answer = await bastion.client.get(callback)
    assert answer.headers["location"] == "/"
    assert (await bastion.client.get("/api/v1/auths/")).json()["email"] == "pg@example.com"
    # Replayed with the browser's state cookie too: the state itself is spent.
    bastion.client.cookies.set("oauth_state", state_cookie, path="/oauth/oidc")
    replayed = await bastion.client.get(callback)
    assert replayed.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["unknown_state"]
    issued = [s["tokens"] for s in provider.seen() if s["endpoint"] == "issued"][-1]
    async with bastion.services.db.session() as session:
        assert (await session.execute(select(OidcFlow))).first() is None
        (login,) = (await session.execute(select(OidcLogin))).scalars()
    assert issued["refresh_token"] not in login.tokens
    assert issued["access_token"] not in login.tokens
