"""Single sign-on against a real OpenID provider in its own process: accounts made,
linked and mapped at each login, and every forged or replayed answer refused with a
security event and no account created or changed."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import func, select

from bastion.audit.events import MemorySink
from bastion.store.models import OidcIdentity, User
from tests.integration.oidc.conftest import refused_reasons, sso, to_provider
from tests.oidc_provider import AUTH_METHODS, CLIENT_ID, CLIENT_SECRET, ProviderHandle
from tests.support import PASSWORD, Bastion, Clock


def _name() -> str:
    return f"user-{secrets.token_hex(4)}"


def _account(provider: ProviderHandle, **claims: object) -> str:
    username = _name()
    provider.accounts(
        **{
            username: {
                "sub": f"sub-{username}",
                "email": f"{username}@example.com",
                "email_verified": True,
                "name": username.title(),
                **claims,
            }
        }
    )
    return username


async def _counts(bastion: Bastion) -> tuple[int, int]:
    async with bastion.services.db.session() as session:
        users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        links = (await session.execute(select(func.count()).select_from(OidcIdentity))).scalar_one()
    return int(users), int(links)


async def test_first_sign_in_creates_the_account_and_lands_in_the_chat(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso(DEFAULT_USER_ROLE="user")
    await bastion.signup("first@example.com")  # the admin exists already
    username = _account(provider)
    flow = await sso(bastion, username)
    assert flow.answer.status_code == 302 and flow.answer.headers["location"] == "/"
    me = await bastion.client.get("/api/v1/auths/")
    assert me.status_code == 200
    assert me.json()["email"] == f"{username}@example.com" and me.json()["role"] == "user"
    assert [e.user_id for e in sink.of_type("oauth.signup")] == [me.json()["id"]]
    assert [e.user_id for e in sink.of_type("oauth.login")] == [me.json()["id"]]
    # The provider's ID token travels in open-webui's cookie, HttpOnly.
    cookie = flow.answer.headers.get_list("set-cookie")
    assert any(c.startswith("oauth_id_token=") and "HttpOnly" in c for c in cookie)

    again = await sso(bastion, username)
    assert again.answer.status_code == 302
    assert len(sink.of_type("oauth.signup")) == 1 and len(sink.of_type("oauth.login")) == 2
    assert await _counts(bastion) == (2, 1)


async def test_without_oauth_signup_a_new_identity_is_refused(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso(ENABLE_OAUTH_SIGNUP="false")
    flow = await sso(bastion, _account(provider))
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["signup_disabled"]
    assert await _counts(bastion) == (0, 0)


async def test_merge_by_email_links_only_a_verified_address(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso(OAUTH_MERGE_ACCOUNTS_BY_EMAIL="true")
    local = await bastion.signup("owner@example.com")
    unverified = _account(provider, email="owner@example.com", email_verified=False)
    flow = await sso(bastion, unverified)
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["email_not_verified"]
    assert await _counts(bastion) == (1, 0)
    # "true" as a string is not true either.
    as_text = _account(provider, email="owner@example.com", email_verified="true")
    await sso(bastion, as_text)
    assert refused_reasons(sink)[-1] == "email_not_verified"

    verified = _account(provider, email="owner@example.com", email_verified=True)
    flow = await sso(bastion, verified)
    assert flow.answer.headers["location"] == "/"
    assert [e.user_id for e in sink.of_type("oauth.linked")] == [local["id"]]
    assert (await bastion.client.get("/api/v1/auths/")).json()["id"] == local["id"]
    assert await _counts(bastion) == (1, 1)


async def test_without_merging_an_address_in_use_is_refused(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    await bastion.signup("owner@example.com")
    flow = await sso(bastion, _account(provider, email="owner@example.com"))
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["email_in_use"] and await _counts(bastion) == (1, 0)


async def test_roles_and_groups_follow_the_claims_at_each_login(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso(
        ENABLE_OAUTH_ROLE_MANAGEMENT="true",
        OAUTH_ROLES_CLAIM="realm_access.roles",
        OAUTH_ALLOWED_ROLES="staff",
        OAUTH_ADMIN_ROLES="boss",
        ENABLE_OAUTH_GROUP_MANAGEMENT="true",
    )
    admin = await bastion.signup("first@example.com")
    groups = bastion.services.groups
    eng, ops = [
        await groups.create(name=name, description="", permissions={}, created_by=admin["id"])
        for name in ("eng", "ops")
    ]
    username = _name()
    claims = {
        "sub": f"sub-{username}",
        "email": f"{username}@example.com",
        "email_verified": True,
    }
    provider.accounts(
        **{username: {**claims, "realm_access": {"roles": ["boss"]}, "groups": ["eng", "nope"]}}
    )
    await sso(bastion, username)
    me = (await bastion.client.get("/api/v1/auths/")).json()
    assert me["role"] == "admin"
    assert await groups.groups_of(me["id"]) == frozenset({eng.id})

    provider.accounts(
        **{username: {**claims, "realm_access": {"roles": ["staff"]}, "groups": ["ops"]}}
    )
    await sso(bastion, username)
    me = (await bastion.client.get("/api/v1/auths/")).json()
    assert me["role"] == "user"
    assert await groups.groups_of(me["id"]) == frozenset({ops.id})
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 200

    # No longer allowed: refused, and the session it had ends too.
    provider.accounts(**{username: {**claims, "realm_access": {"roles": ["visitor"]}}})
    flow = await sso(bastion, username)
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["role_not_allowed"]
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 401
    assert (await bastion.services.users.get(me["id"])).role == "user"  # unchanged


async def test_a_disabled_account_is_not_let_in_by_the_provider(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    await bastion.signup("first@example.com")  # the admin, who can disable
    bastion.client.cookies.clear()
    username = _account(provider)
    await sso(bastion, username)
    me = (await bastion.client.get("/api/v1/auths/")).json()
    await bastion.services.users.set_active(me["id"], False)
    bastion.client.cookies.clear()
    flow = await sso(bastion, username)
    assert flow.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["account_disabled"]
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 401
    assert len(sink.of_type("oauth.login")) == 1


async def test_a_first_login_the_claims_do_not_allow_makes_no_account(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso(ENABLE_OAUTH_ROLE_MANAGEMENT="true", OAUTH_ALLOWED_ROLES="staff")
    refused = await sso(bastion, _account(provider, roles=["visitor"]))
    assert refused.answer.headers["location"] == "/auth?error=oauth_refused"
    no_address = await sso(bastion, _account(provider, roles=["staff"], email="not-an-address"))
    assert no_address.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["role_not_allowed", "no_email"]
    assert await _counts(bastion) == (0, 0)


async def test_a_callback_without_a_code_or_after_ten_minutes_is_refused(
    start_sso, provider: ProviderHandle, sink: MemorySink, clock: Clock
) -> None:
    bastion = await start_sso()
    username = _account(provider)
    callback = await to_provider(bastion, username)
    state = dict(p.split("=", 1) for p in callback.split("?", 1)[1].split("&"))["state"]
    without_code = await bastion.client.get(f"/oauth/oidc/callback?state={state}")
    assert without_code.headers["location"] == "/auth?error=oauth_refused"
    late = await to_provider(bastion, username)
    clock.advance(601)
    expired = await bastion.client.get(late)
    assert expired.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["no_code", "state_expired"]
    assert await _counts(bastion) == (0, 0)


async def test_a_rotated_key_is_fetched_at_most_once_a_minute(
    start_sso, provider: ProviderHandle, sink: MemorySink, clock: Clock
) -> None:
    bastion = await start_sso()
    username = _account(provider)
    assert (await sso(bastion, username)).answer.headers["location"] == "/"
    provider.control("rotate")
    refused = await sso(bastion, username)
    assert refused.answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["unknown_key"]
    clock.advance(61)
    assert (await sso(bastion, username)).answer.headers["location"] == "/"


# --- attacks ------------------------------------------------------------------------------


async def test_a_state_is_good_once_and_only_in_the_browser_that_began(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    username = _account(provider)
    callback = await to_provider(bastion, username)
    state_cookie = bastion.client.cookies["oauth_state"]
    assert (await bastion.client.get(callback)).headers["location"] == "/"
    # The same state (and code) again, the browser's state cookie put back: spent.
    bastion.client.cookies.set("oauth_state", state_cookie, path="/oauth/oidc")
    replayed = await bastion.client.get(callback)
    assert replayed.headers["location"] == "/auth?error=oauth_refused"
    bastion.client.cookies.clear()
    replayed = await bastion.client.get(callback)  # and without the cookie
    assert replayed.headers["location"] == "/auth?error=oauth_refused"
    wrong = await bastion.client.get("/oauth/oidc/callback?state=forged&code=whatever")
    assert wrong.headers["location"] == "/auth?error=oauth_refused"
    # A callback link made for another browser (login CSRF): that browser has no cookie.
    callback = await to_provider(bastion, username)
    bastion.client.cookies.clear()
    stolen = await bastion.client.get(callback)
    assert stolen.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == [
        "unknown_state",
        "state_not_of_this_browser",
        "state_not_of_this_browser",
        "state_not_of_this_browser",
    ]
    assert await _counts(bastion) == (1, 1)


async def test_a_replayed_code_is_refused(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    username = _account(provider)
    first = await sso(bastion, username)
    code = first.params["code"]
    # A fresh, valid state in this browser, with the code already spent.
    fresh = await to_provider(bastion, username)
    state = dict(p.split("=", 1) for p in fresh.split("?", 1)[1].split("&"))["state"]
    replayed = await bastion.client.get(f"/oauth/oidc/callback?state={state}&code={code}")
    assert replayed.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["token_endpoint_refused"]


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ({"mode": "none"}, "algorithm_refused"),
        ({"mode": "hs256"}, "algorithm_refused"),
        ({"mode": "foreign_key"}, "unknown_key"),
        ({"mode": "claims", "claims": {"iss": "http://evil.example"}}, "wrong_issuer"),
        ({"mode": "claims", "claims": {"aud": "another-client"}}, "wrong_audience"),
        ({"mode": "claims", "claims": {"exp": 1_000_000_000}}, "expired"),
        (
            {"mode": "claims", "claims": {"aud": ["bastion", "other"], "azp": "other"}},
            "wrong_authorized_party",
        ),
        ({"mode": "claims", "claims": {"nonce": "a-nonce-of-another-flow"}}, "wrong_nonce"),
        ({"mode": "claims", "claims": {"aud": ["bastion", "other"]}}, "wrong_authorized_party"),
        ({"mode": "claims", "without": ["exp"]}, "expired"),
        ({"mode": "claims", "without": ["sub"]}, "no_subject"),
        ({"mode": "header", "header": {"jku": "http://evil.example/jwks"}}, "key_in_header"),
        ({"mode": "header", "header": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}}, "key_in_header"),
        ({"mode": "header", "header": {"kid": 7}}, "malformed_token"),
        ({"mode": "bad_signature"}, "bad_signature"),
    ],
)
async def test_a_forged_id_token_is_refused_and_changes_nothing(
    start_sso, provider: ProviderHandle, sink: MemorySink, spoil: dict, reason: str
) -> None:
    bastion = await start_sso()
    callback = await to_provider(bastion, _account(provider))
    provider.control("spoil", spoil)
    answer = await bastion.client.get(callback)
    assert answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == [reason]
    assert await _counts(bastion) == (0, 0)
    assert (await bastion.client.get("/api/v1/auths/")).status_code == 401


@pytest.mark.parametrize(
    ("body", "media_type", "location", "reason"),
    [
        (
            "<html>Oops</html>",
            "text/html",
            "oauth_provider_unavailable",
            "oauth_provider_unavailable",
        ),
        (
            '{"access_token": "at", "token_type": "Bearer"}',
            "application/json",
            "oauth_refused",
            "no_id_token",
        ),
        ('["not", "an", "object"]', "application/json", "oauth_refused", "no_id_token"),
    ],
)
async def test_a_token_answer_without_an_id_token_signs_no_one_in(
    start_sso,
    provider: ProviderHandle,
    sink: MemorySink,
    body: str,
    media_type: str,
    location: str,
    reason: str,
) -> None:
    bastion = await start_sso()
    callback = await to_provider(bastion, _account(provider))
    provider.control("spoil", {"mode": "token_body", "body": body, "type": media_type})
    answer = await bastion.client.get(callback)
    assert answer.headers["location"] == f"/auth?error={location}"
    assert refused_reasons(sink) == [reason]
    assert await _counts(bastion) == (0, 0)


async def test_a_provider_offering_only_client_secret_post_gets_the_secret_in_the_form(
    start_sso, provider: ProviderHandle
) -> None:
    provider.control("auth-methods", {"methods": ["client_secret_post"]})
    try:
        bastion = await start_sso()
        flow = await sso(bastion, _account(provider))
    finally:
        provider.control("auth-methods", {"methods": AUTH_METHODS})
    assert flow.answer.headers["location"] == "/"
    request = [s for s in provider.seen() if s["endpoint"] == "token"][-1]
    assert request["authorization"] is None
    assert (request["form"]["client_id"], request["form"]["client_secret"]) == (
        CLIENT_ID,
        CLIENT_SECRET,
    )


async def test_the_nonce_of_an_earlier_sign_in_is_refused(
    start_sso, provider: ProviderHandle, sink: MemorySink
) -> None:
    bastion = await start_sso()
    username = _account(provider)
    started = await bastion.client.get("/oauth/oidc/login")
    old_nonce = dict(
        p.split("=", 1) for p in started.headers["location"].split("?", 1)[1].split("&")
    )["nonce"]
    callback = await to_provider(bastion, username)
    provider.control("spoil", {"mode": "claims", "claims": {"nonce": old_nonce}})
    answer = await bastion.client.get(callback)
    assert answer.headers["location"] == "/auth?error=oauth_refused"
    assert refused_reasons(sink) == ["wrong_nonce"] and await _counts(bastion) == (0, 0)


async def test_no_redirect_parameter_leads_off_the_site(
    start_sso, provider: ProviderHandle
) -> None:
    bastion = await start_sso()
    evil = "https://evil.example/"
    started = await bastion.client.get(
        "/oauth/oidc/login", params={"redirect": evil, "next": evil, "redirect_uri": evil}
    )
    location = started.headers["location"]
    assert location.startswith(f"{provider.issuer}/authorize?")
    assert "evil" not in location
    callback = await to_provider(bastion, _account(provider))
    back = await bastion.client.get(callback + "&next=https://evil.example/&redirect=//evil")
    assert back.headers["location"] == "/"
    refused = await bastion.client.get("/oauth/oidc/callback?state=x&next=https://evil.example/")
    assert refused.headers["location"] == "/auth?error=oauth_refused"


async def test_the_login_form_can_be_turned_off(start_sso) -> None:
    bastion = await start_sso(ENABLE_LOGIN_FORM="false")
    signup = await bastion.client.post(
        "/api/v1/auths/signup", json={"name": "A", "email": "a@example.com", "password": PASSWORD}
    )
    signin = await bastion.signin("a@example.com")
    for answer in (signup, signin):
        assert answer.status_code == 403 and answer.json()["code"] == "login_form_disabled"
    page = await bastion.client.get("/auth")
    assert "Sign in with Test IdP" in page.text and 'id="signin-form"' not in page.text
    config = (await bastion.client.get("/api/config")).json()
    assert config["oauth"] == {"providers": {"oidc": "Test IdP"}}
    assert config["features"]["enable_login_form"] is False


async def test_provider_tokens_are_sealed_in_the_database_and_absent_from_the_log(
    start_sso, provider: ProviderHandle, tmp_path, caplog
) -> None:
    bastion = await start_sso(ENABLE_AUDIT_LOGS_FILE="true", AUDIT_LOG_LEVEL="request_response")
    flow = await sso(bastion, _account(provider))
    assert flow.answer.headers["location"] == "/"
    issued = [s["tokens"] for s in provider.seen() if s["endpoint"] == "issued"][-1]
    files = [path for path in (tmp_path / "data").rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in files)
    for secret in (issued["access_token"], issued["refresh_token"]):
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
        assert secret not in caplog.text


async def test_the_provider_access_token_is_refreshed_server_side_when_due(
    start_sso, provider: ProviderHandle, clock: Clock
) -> None:
    bastion = await start_sso()
    await sso(bastion, _account(provider))
    oidc = bastion.services.oidc
    assert oidc is not None
    token = bastion.client.cookies["token"]
    jti = bastion.services.tokens.verify(token).jti
    issued = [s["tokens"] for s in provider.seen() if s["endpoint"] == "issued"][-1]
    assert await oidc.access_token(jti) == issued["access_token"]
    clock.advance(290)  # within a minute of its expiry
    refreshed = await oidc.access_token(jti)
    latest = [s["tokens"] for s in provider.seen() if s["endpoint"] == "issued"][-1]
    assert refreshed == latest["access_token"] != issued["access_token"]
    grants = [s["form"]["grant_type"] for s in provider.seen() if s["endpoint"] == "token"]
    assert grants[-1] == "refresh_token"


async def test_a_provider_that_cannot_be_reached_sends_back_to_sign_in(
    start_bastion, sink: MemorySink, clock: Clock
) -> None:
    from tests.fake_upstreams import bound_socket

    closed = bound_socket()  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    bastion = await start_bastion(
        {
            "OPENID_PROVIDER_URL": f"http://127.0.0.1:{port}",
            "OAUTH_CLIENT_ID": "bastion",
            "WEBUI_URL": "http://testserver",
        },
        clock=clock,
        sinks=[sink],
    )
    started = await bastion.client.get("/oauth/oidc/login")
    closed.close()
    assert started.status_code == 302
    assert started.headers["location"] == "/auth?error=oauth_provider_unavailable"
    assert [e.details["reason"] for e in sink.of_type("oauth.refused")] == ["bad_upstream"]
    page = await bastion.client.get("/auth?error=oauth_provider_unavailable")
    assert "Single sign-on failed" in page.text
