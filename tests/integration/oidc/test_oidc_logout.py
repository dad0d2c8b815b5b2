"""Signing out of a single sign-on: the browser is sent to the provider's end of session,
and the provider's back-channel logout revokes the matching tokens on every instance
(two instances sharing a real Redis) and ends their session records."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qsl, urlsplit

from bastion.audit.events import MemorySink
from bastion.store.sessions import SessionRecord
from tests.integration.oidc.conftest import CALLBACK, oidc_env, refused_reasons, sso
from tests.oidc_provider import ProviderHandle, start_provider
from tests.support import Bastion, Clock


def _account(provider: ProviderHandle) -> tuple[str, str]:
    username = f"user-{secrets.token_hex(4)}"
    subject = f"sub-{username}"
    provider.accounts(
        **{username: {"sub": subject, "email": f"{username}@example.com", "email_verified": True}}
    )
    return username, subject


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _last_id_token(provider: ProviderHandle) -> str:
    issued = [seen["tokens"] for seen in provider.seen() if seen["endpoint"] == "issued"]
    return str(issued[-1]["id_token"])


async def _signed_in(bastion: Bastion, provider: ProviderHandle) -> tuple[str, str, dict]:
    """Sign a new provider account in; its Bastion token, subject and ID token claims."""
    username, subject = _account(provider)
    assert (await sso(bastion, username)).answer.headers["location"] == "/"
    return bastion.client.cookies["token"], subject, _claims(_last_id_token(provider))


async def _session(bastion: Bastion, token: str) -> SessionRecord:
    record = await bastion.services.sessions.store.get(bastion.services.tokens.verify(token).sid)
    assert record is not None
    return record


async def _logout(bastion: Bastion, token: str):
    return await bastion.client.post(
        "/oauth/oidc/backchannel-logout",
        data={"logout_token": token},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_sign_out_sends_the_browser_to_the_providers_end_of_session(
    start_sso, provider: ProviderHandle
) -> None:
    bastion = await start_sso()
    token, _, _ = await _signed_in(bastion, provider)
    id_token = _last_id_token(provider)
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 200  # CSRF token
    answer = await bastion.client.post("/api/v1/auths/signout", json={})
    assert answer.status_code == 200
    redirect = urlsplit(answer.json()["redirect_url"])
    assert (
        f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == f"{provider.issuer}/end-session"
    )
    assert dict(parse_qsl(redirect.query)) == {
        "id_token_hint": id_token,
        "post_logout_redirect_uri": "http://testserver/auth",
        "client_id": "bastion",
    }
    assert any(c.startswith('oauth_id_token=""') for c in answer.headers.get_list("set-cookie"))
    assert (await bastion.me(token)).status_code == 401


async def test_the_signout_redirect_setting_is_where_the_provider_sends_back(
    start_sso, provider: ProviderHandle
) -> None:
    bastion = await start_sso(WEBUI_AUTH_SIGNOUT_REDIRECT_URL="https://intranet.example/bye")
    await _signed_in(bastion, provider)
    await bastion.client.get("/api/v1/auths/")
    answer = await bastion.client.post("/api/v1/auths/signout", json={})
    query = dict(parse_qsl(urlsplit(answer.json()["redirect_url"]).query))
    assert query["post_logout_redirect_uri"] == "https://intranet.example/bye"
    # A password session goes straight to the configured page.
    await bastion.signup("local@example.com")
    await bastion.client.get("/api/v1/auths/")
    local = await bastion.client.post("/api/v1/auths/signout", json={})
    assert local.json() == {"status": True, "redirect_url": "https://intranet.example/bye"}


async def test_without_webui_url_the_provider_sends_back_to_the_callbacks_site(
    start_sso, provider: ProviderHandle
) -> None:
    bastion = await start_sso(WEBUI_URL="", OPENID_REDIRECT_URI=CALLBACK)
    await _signed_in(bastion, provider)
    await bastion.client.get("/api/v1/auths/")
    answer = await bastion.client.post("/api/v1/auths/signout", json={})
    query = dict(parse_qsl(urlsplit(answer.json()["redirect_url"]).query))
    assert query["post_logout_redirect_uri"] == "http://testserver/auth"


async def test_sign_out_ends_the_session_when_the_provider_is_away(
    start_bastion, clock: Clock, sink: MemorySink, redis_url: str
) -> None:
    with start_provider([CALLBACK]) as away:
        env = oidc_env(
            away,
            REDIS_URL=redis_url,
            WEBUI_AUTH_SIGNOUT_REDIRECT_URL="https://intranet.example/bye",
        )
        first = await start_bastion(env, clock=clock, sinks=[sink])
        second = await start_bastion(env, clock=clock, sinks=[sink])  # has not met it yet
        token, _, _ = await _signed_in(first, away)
    second.client.cookies.update(first.client.cookies)
    assert (await second.client.get("/api/v1/auths/")).status_code == 200  # CSRF token
    answer = await second.client.post("/api/v1/auths/signout", json={})
    assert answer.status_code == 200
    assert answer.json()["redirect_url"] == "https://intranet.example/bye"
    assert (await first.me(token)).status_code == 401
    assert (await second.me(token)).status_code == 401


async def test_backchannel_logout_of_a_session_revokes_it_on_the_other_instance(
    start_sso, provider: ProviderHandle, redis_url: str, sink: MemorySink
) -> None:
    first = await start_sso(REDIS_URL=redis_url)
    second = await start_sso(REDIS_URL=redis_url)
    token, _, claims = await _signed_in(first, provider)
    other_token, _, _ = await _signed_in(first, provider)
    assert (await second.me(token)).status_code == 200  # cached by the second
    logout = provider.control("logout-token", {"claims": {"sid": claims["sid"]}})["logout_token"]
    answer = await _logout(second, logout)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    refused = await first.me(token)
    assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
    assert (await second.me(token)).status_code == 401
    assert (await first.me(other_token)).status_code == 200  # another provider session
    (event,) = sink.of_type("oauth.backchannel_logout")
    assert event.details["revoked"] == 1 and event.details["sid"] == claims["sid"]
    # The session record ended too: the owner's list no longer shows it as live.
    ended = await _session(first, token)
    assert ended.ended_at is not None and ended.end_reason == "provider_logout"
    assert (await _session(first, other_token)).ended_at is None
    (revoked,) = sink.of_type("session.revoked")
    assert revoked.details["session_id"] == ended.id
    assert revoked.details["reason"] == "provider_logout"


async def test_backchannel_logout_by_subject_ends_every_token_of_the_account(
    start_sso, provider: ProviderHandle, redis_url: str
) -> None:
    first = await start_sso(REDIS_URL=redis_url)
    second = await start_sso(REDIS_URL=redis_url)
    token, subject, _ = await _signed_in(first, provider)
    assert (await second.me(token)).status_code == 200
    logout = provider.control("logout-token", {"claims": {"sub": subject}})["logout_token"]
    assert (await _logout(second, logout)).status_code == 200
    assert (await first.me(token)).status_code == 401
    assert (await second.me(token)).status_code == 401
    assert (await _session(second, token)).end_reason == "provider_logout"


async def test_a_bad_or_replayed_logout_token_is_refused_and_revokes_nothing(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    token, subject, claims = await _signed_in(bastion, provider)
    sid = {"sid": claims["sid"]}
    cases = [
        ({"claims": {**sid, "nonce": "n"}}, "nonce_in_logout_token"),
        ({"claims": sid, "without": ["events"]}, "no_logout_event"),
        ({"claims": {**sid, "events": {"http://example.com/other": {}}}}, "no_logout_event"),
        ({"claims": {}, "without": ["sid", "sub"]}, "no_session_or_subject"),
        ({"claims": {**sid, "aud": "another-client"}}, "wrong_audience"),
        ({"claims": {**sid, "iss": "http://evil.example"}}, "wrong_issuer"),
        ({"claims": sid, "without": ["iat"]}, "bad_issued_at"),
        ({"claims": sid, "without": ["jti"]}, "no_jti"),
    ]
    for body, _ in cases:
        logout = provider.control("logout-token", body)["logout_token"]
        answer = await _logout(bastion, logout)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert (await _logout(bastion, "not.a.token")).status_code == 400
    assert refused_reasons(sink) == [reason for _, reason in cases] + ["malformed_token"]
    assert (await bastion.me(token)).status_code == 200

    good = provider.control("logout-token", {"claims": sid})["logout_token"]
    assert (await _logout(bastion, good)).status_code == 200
    assert (await _logout(bastion, good)).status_code == 400
    assert refused_reasons(sink)[-1] == "logout_token_replayed"
    assert len(sink.of_type("oauth.backchannel_logout")) == 1
    assert subject


async def test_backchannel_logout_is_off_unless_enabled(
    start_sso, provider: ProviderHandle
) -> None:
    bastion = await start_sso(ENABLE_OAUTH_BACKCHANNEL_LOGOUT="false")
    token, _, claims = await _signed_in(bastion, provider)
    logout = provider.control("logout-token", {"claims": {"sid": claims["sid"]}})["logout_token"]
    answer = await _logout(bastion, logout)
    assert answer.status_code == 404
    assert answer.json()["code"] == "oauth_backchannel_logout_disabled"
    assert (await bastion.me(token)).status_code == 200
