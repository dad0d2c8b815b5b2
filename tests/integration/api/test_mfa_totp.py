"""TOTP second factor (SPEC 4, issue 12): enrolment, the two-step sign-in, the mfa_token,
replay and drift, recovery codes, brute force, secrets at rest, key rotation, the policy."""

from __future__ import annotations

import sqlite3

import anyio
import httpx
import pyotp
import pytest

from bastion.audit.events import MemorySink
from tests.support import PASSWORD, Bastion, Clock, client_from

KEY_A = "a" * 20 + "-first-sealing-key-0001"
KEY_B = "b" * 20 + "-second-sealing-key-002"


@pytest.fixture
def clock() -> Clock:
    # The middle of a 30-second step, so that "one step earlier" is unambiguous.
    return Clock(30 * 60_000_000 + 15)


@pytest.fixture
async def start(start_bastion, clock: Clock, sink: MemorySink):
    async def start_with(env: dict[str, str] | None = None) -> Bastion:
        return await start_bastion(env, clock=clock, sinks=[sink])

    return start_with


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _enrol(bastion: Bastion, token: str, clock: Clock) -> tuple[str, list[str], str]:
    """TOTP turned on for the account of ``token``: (secret, recovery codes, new token)."""
    setup = await bastion.client.post("/api/v1/auths/mfa/totp/setup", headers=_auth(token))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    code = pyotp.TOTP(secret).at(clock())
    confirmed = await bastion.client.post(
        "/api/v1/auths/mfa/totp/confirm", json={"code": code}, headers=_auth(token)
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"], confirmed.json()["token"]


async def _password_step(
    bastion: Bastion, email: str, client: httpx.AsyncClient | None = None
) -> str:
    answer = await (client or bastion.client).post(
        "/api/v1/auths/signin", json={"email": email, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mfa_required"] is True
    return str(body["mfa_token"])


async def _second_step(bastion: Bastion, mfa_token: str, code: str) -> httpx.Response:
    return await bastion.client.post(
        "/api/v1/auths/signin/mfa", json={"mfa_token": mfa_token, "code": code}
    )


async def test_setup_gives_a_secret_an_otpauth_uri_and_a_local_svg_qr_code(start) -> None:
    bastion = await start({"WEBUI_NAME": "Acme Chat"})
    user = await bastion.signup("someone@example.com")
    setup = await bastion.client.post("/api/v1/auths/mfa/totp/setup", headers=_auth(user["token"]))
    assert setup.status_code == 200
    body = setup.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    assert len(body["secret"]) == 32
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == body["secret"]
    assert parsed.name == "someone@example.com" and parsed.issuer == "Acme Chat"
    assert body["qr_svg"].startswith("<svg") and "<script" not in body["qr_svg"]
    # Not on until confirmed: the password alone still signs in.
    signin = await bastion.signin("someone@example.com")
    assert "token" in signin.json() and "mfa_required" not in signin.json()


async def test_a_wrong_code_does_not_turn_totp_on(start, clock: Clock, sink: MemorySink) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    setup = await bastion.client.post("/api/v1/auths/mfa/totp/setup", headers=_auth(user["token"]))
    secret = setup.json()["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).at(clock())) + 1) % 1_000_000:06d}"
    refused = await bastion.client.post(
        "/api/v1/auths/mfa/totp/confirm", json={"code": wrong}, headers=_auth(user["token"])
    )
    assert refused.status_code == 400
    assert refused.json() == {"detail": "The code is incorrect.", "code": "mfa_code_invalid"}
    status = await bastion.client.get("/api/v1/auths/mfa", headers=_auth(user["token"]))
    assert status.json()["totp"] is False
    assert sink.of_type("mfa.enabled") == []


async def test_confirm_turns_it_on_and_signin_then_needs_the_second_step(
    start, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, codes, token = await _enrol(bastion, user["token"], clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    [enabled] = sink.of_type("mfa.enabled")
    assert enabled.user_id == user["id"] and enabled.details == {"method": "totp"}
    # Other sessions end with the change; the caller holds a fresh token.
    assert (await bastion.me(user["token"])).status_code == 401
    assert (await bastion.me(token)).status_code == 200

    fresh = client_from(bastion, "127.0.0.1")
    async with fresh:
        answer = await fresh.post(
            "/api/v1/auths/signin", json={"email": "someone@example.com", "password": PASSWORD}
        )
        assert answer.status_code == 200
        body = answer.json()
        assert set(body) == {"mfa_required", "mfa_token", "methods"}
        assert body["methods"] == ["totp", "recovery"]
        assert "set-cookie" not in answer.headers  # no session before the second step
        clock.advance(30)
        done = await fresh.post(
            "/api/v1/auths/signin/mfa",
            json={"mfa_token": body["mfa_token"], "code": pyotp.TOTP(secret).at(clock())},
        )
        assert done.status_code == 200, done.text
        assert done.json()["id"] == user["id"]
        assert "token=" in done.headers["set-cookie"]
    assert (await bastion.me(done.json()["token"])).status_code == 200
    signins = [e for e in sink.of_type("auth.signin") if e.user_id == user["id"]]
    assert [(e.outcome, e.details.get("method")) for e in signins] == [
        ("info", None),
        ("success", "totp"),
    ]


async def test_the_mfa_token_is_refused_on_every_other_route_and_after_use(
    start, clock: Clock
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    mfa_token = await _password_step(bastion, "someone@example.com")
    checked = 0
    for path, operations in bastion.app.openapi()["paths"].items():
        if path == "/api/v1/auths/signin/mfa":
            continue
        concrete = path.replace("{", "").replace("}", "")
        for method in operations:
            for headers in (_auth(mfa_token), {"Cookie": f"token={mfa_token}"}):
                answer = await bastion.client.request(method.upper(), concrete, headers=headers)
                assert answer.status_code in {401, 403, 404, 405, 400, 422, 415} or (
                    answer.status_code == 200 and "id" not in answer.json()
                ), (method, concrete, answer.status_code, answer.text)
                assert answer.status_code != 200 or user["id"] not in answer.text
                checked += 1
    assert checked > 50
    me = await bastion.client.get("/api/v1/auths/", headers=_auth(mfa_token))
    assert me.status_code == 401 and me.json()["code"] == "token_invalid"
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    assert (await _second_step(bastion, mfa_token, code)).status_code == 200
    clock.advance(30)
    again = await _second_step(bastion, mfa_token, pyotp.TOTP(secret).at(clock()))
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"


async def test_the_mfa_token_expires_after_five_minutes_and_is_bound_to_the_token_version(
    start, clock: Clock
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    stale = await _password_step(bastion, "someone@example.com")
    clock.advance(301)
    expired = await _second_step(bastion, stale, pyotp.TOTP(secret).at(clock()))
    assert expired.json()["code"] == "mfa_token_invalid"
    pending = await _password_step(bastion, "someone@example.com")
    await bastion.services.users.revoke_all_tokens(user["id"])  # e.g. the password changed
    clock.advance(30)
    revoked = await _second_step(bastion, pending, pyotp.TOTP(secret).at(clock()))
    assert revoked.json()["code"] == "mfa_token_invalid"


async def test_a_code_is_accepted_once(start, clock: Clock) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    first = await _second_step(bastion, await _password_step(bastion, "someone@example.com"), code)
    assert first.status_code == 200
    replay = await _second_step(bastion, await _password_step(bastion, "someone@example.com"), code)
    assert replay.status_code == 400 and replay.json()["code"] == "mfa_code_invalid"
    # An earlier step's code is refused too once a later one was used.
    earlier = pyotp.TOTP(secret).at(clock() - 30)
    older = await _second_step(
        bastion, await _password_step(bastion, "someone@example.com"), earlier
    )
    assert older.status_code == 400


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_one_step_of_drift_is_accepted_and_two_are_not(
    start, clock: Clock, steps: int, accepted: bool
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    clock.advance(300)  # well past the enrolment's step
    code = pyotp.TOTP(secret).at(clock() + 30 * steps)
    answer = await _second_step(bastion, await _password_step(bastion, "someone@example.com"), code)
    assert answer.status_code == (200 if accepted else 400), answer.text


async def test_a_recovery_code_signs_in_once(start, clock: Clock, sink: MemorySink) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    _, codes, _ = await _enrol(bastion, user["token"], clock)
    used = await _second_step(
        bastion, await _password_step(bastion, "someone@example.com"), codes[3].upper()
    )
    assert used.status_code == 200, used.text
    [event] = sink.of_type("mfa.recovery_used")
    assert event.user_id == user["id"] and event.details == {"left": 9}
    again = await _second_step(
        bastion, await _password_step(bastion, "someone@example.com"), codes[3]
    )
    assert again.status_code == 400
    [failed] = sink.of_type("mfa.failed")
    assert failed.user_id == user["id"] and failed.details["method"] == "recovery"
    status = await bastion.client.get("/api/v1/auths/mfa", headers=_auth(used.json()["token"]))
    assert status.json()["recovery_codes_left"] == 9


async def test_brute_force_of_codes_is_stopped_long_before_a_million_tries(
    start, clock: Clock, sink: MemorySink
) -> None:
    """Count every code the server checks until it stops checking: with the per-address
    cap (20) and the lockout (100 consecutive failures) no attacker who has the password
    gets near the 10**6 codes, and each guess has 3 chances in 10**6 at most."""
    bastion = await start()
    user = await bastion.signup("victim@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    current = {pyotp.TOTP(secret).at(clock() + d) for d in (-30, 0, 30)}
    guesses = (f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in current)
    checked = 0
    for address in range(10):
        client = client_from(bastion, f"192.0.2.{address}")
        async with client:
            for _ in range(40):
                signin = await client.post(
                    "/api/v1/auths/signin",
                    json={"email": "victim@example.com", "password": PASSWORD},
                )
                if signin.status_code != 200:
                    break
                answer = await client.post(
                    "/api/v1/auths/signin/mfa",
                    json={"mfa_token": signin.json()["mfa_token"], "code": next(guesses)},
                )
                if answer.status_code == 400:
                    checked += 1
                clock.advance(901)  # past every delay and window: only the caps remain
    assert len(sink.of_type("mfa.failed")) == checked
    assert checked == 100  # 20 per address; then the account is locked
    [lockout] = sink.of_type("auth.lockout")
    assert lockout.user_id == user["id"]
    locked = await bastion.signin("victim@example.com")
    assert locked.status_code == 429 and locked.json()["code"] == "account_locked"


async def test_one_mfa_token_carries_five_wrong_codes_at_most(start, clock: Clock) -> None:
    bastion = await start({"SIGNIN_DELAY_AFTER_FAILURES": "100"})
    user = await bastion.signup("someone@example.com")
    secret, _, _ = await _enrol(bastion, user["token"], clock)
    mfa_token = await _password_step(bastion, "someone@example.com")
    wrong = f"{(int(pyotp.TOTP(secret).at(clock())) + 500_000) % 1_000_000:06d}"
    answers = [(await _second_step(bastion, mfa_token, wrong)).status_code for _ in range(6)]
    assert answers == [400] * 5 + [401]


async def test_disable_needs_the_password_and_a_current_code(
    start, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, _, token = await _enrol(bastion, user["token"], clock)
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    wrong_password = await bastion.client.post(
        "/api/v1/auths/mfa/totp/disable",
        json={"password": "not the password", "code": code},
        headers=_auth(token),
    )
    assert wrong_password.status_code == 400
    wrong_code = await bastion.client.post(
        "/api/v1/auths/mfa/totp/disable",
        json={"password": PASSWORD, "code": "000000" if code != "000000" else "111111"},
        headers=_auth(token),
    )
    assert wrong_code.status_code == 400 and wrong_code.json()["code"] == "mfa_code_invalid"
    disabled = await bastion.client.post(
        "/api/v1/auths/mfa/totp/disable",
        json={"password": PASSWORD, "code": code},
        headers=_auth(token),
    )
    assert disabled.status_code == 200, disabled.text
    [event] = sink.of_type("mfa.disabled")
    assert event.user_id == user["id"]
    assert (await bastion.me(token)).status_code == 401  # other sessions ended
    assert (await bastion.me(disabled.json()["token"])).status_code == 200
    assert "token" in (await bastion.signin("someone@example.com")).json()


async def test_secrets_and_recovery_codes_are_not_in_the_database_or_the_audit_log(
    start, clock: Clock
) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    secret, codes, _ = await _enrol(bastion, user["token"], clock)
    await _second_step(bastion, await _password_step(bastion, "someone@example.com"), codes[0])
    await anyio.to_thread.run_sync(bastion.services.audit.flush)
    data_dir = bastion.settings.server.data_dir
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    [database] = [path for path in files if path.suffix == ".db"]
    with sqlite3.connect(database) as connection:
        stored = connection.execute("SELECT secret FROM mfa_totp").fetchone()[0]
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert bastion.settings.audit.audit_logs_file_path in files
    raw = b"".join(path.read_bytes() for path in files)
    assert b"mfa.recovery_used" in raw  # the audit log is among what was read
    for plain in [secret, *codes, *(code.replace("-", "") for code in codes)]:
        assert plain.encode() not in raw, plain


async def test_a_new_key_with_the_old_one_as_fallback_keeps_enrolled_users_working(
    start, clock: Clock
) -> None:
    bastion = await start({"MFA_ENCRYPTION_KEY": KEY_A})
    user = await bastion.signup("someone@example.com")
    secret, codes, _ = await _enrol(bastion, user["token"], clock)
    rotated = await start({"MFA_ENCRYPTION_KEY": f"{KEY_B},{KEY_A}"})
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    assert (
        await _second_step(rotated, await _password_step(rotated, "someone@example.com"), code)
    ).status_code == 200
    recovery = await _second_step(
        rotated, await _password_step(rotated, "someone@example.com"), codes[1]
    )
    assert recovery.status_code == 200
    # Used once under the new key, the secret is sealed under it: the old key can go.
    only_new = await start({"MFA_ENCRYPTION_KEY": KEY_B})
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    assert (
        await _second_step(only_new, await _password_step(only_new, "someone@example.com"), code)
    ).status_code == 200
    # Without any key that opens it, the secret is unreadable, never accepted.
    wrong_key = await start({"MFA_ENCRYPTION_KEY": KEY_A.replace("a", "c")})
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    refused = await _second_step(
        wrong_key, await _password_step(wrong_key, "someone@example.com"), code
    )
    assert refused.status_code == 503 and refused.json()["code"] == "mfa_key_missing"


async def test_require_mfa_admin_keeps_an_unenrolled_admin_on_the_enrolment_routes(
    start, clock: Clock
) -> None:
    bastion = await start({"REQUIRE_MFA": "admin"})
    admin = await bastion.signup("admin@example.com")
    member = await bastion.signup("member@example.com")
    headers = _auth(admin["token"])
    refused = await bastion.client.get("/api/v1/users/", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Set up a second factor on the security page first.",
        "code": "mfa_enrolment_required",
    }
    assert (await bastion.client.get("/api/models", headers=headers)).status_code == 403
    assert (await bastion.client.get("/api/v1/auths/", headers=headers)).status_code == 200
    status = await bastion.client.get("/api/v1/auths/mfa", headers=headers)
    assert status.json()["required"] is True
    for held in ("/", "/settings", "/admin/users"):
        page = await bastion.client.get(held, headers=headers)
        assert page.status_code == 303 and page.headers["location"] == "/settings/security"
    security = await bastion.client.get("/settings/security", headers=headers)
    assert security.status_code == 200 and "Authenticator app" in security.text
    setup = await bastion.client.post("/api/v1/auths/mfa/totp/setup", headers=headers)
    assert setup.status_code == 200
    # Members are not held by REQUIRE_MFA=admin.
    assert (await bastion.client.get("/api/v1/auths/mfa", headers=_auth(member["token"]))).json()[
        "required"
    ] is False
    _, _, token = await _enrol(bastion, admin["token"], clock)
    assert (await bastion.client.get("/api/v1/users/", headers=_auth(token))).status_code == 200


async def test_require_mfa_all_holds_every_account(start) -> None:
    bastion = await start({"REQUIRE_MFA": "all"})
    await bastion.signup("admin@example.com")
    member = await bastion.signup("member@example.com")
    refused = await bastion.client.get("/api/v1/chats/", headers=_auth(member["token"]))
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_enrolment_required"
    signout = await bastion.client.post("/api/v1/auths/signout", headers=_auth(member["token"]))
    assert signout.status_code == 200


async def test_an_admin_resets_a_users_factors_and_their_sessions_end(
    start, clock: Clock, sink: MemorySink
) -> None:
    bastion = await start()
    admin = await bastion.signup("admin@example.com")
    member = await bastion.signup("member@example.com")
    _, _, token = await _enrol(bastion, member["token"], clock)
    refused = await bastion.client.post(
        f"/api/v1/users/{admin['id']}/mfa/reset", headers=_auth(token)
    )
    assert refused.status_code == 403
    reset = await bastion.client.post(
        f"/api/v1/users/{member['id']}/mfa/reset", headers=_auth(admin["token"])
    )
    assert reset.status_code == 200
    [event] = sink.of_type("mfa.reset")
    assert event.user_id == admin["id"] and event.details == {"target_user_id": member["id"]}
    assert (await bastion.me(token)).status_code == 401
    assert "token" in (await bastion.signin("member@example.com")).json()
    missing = await bastion.client.post(
        "/api/v1/users/nobody/mfa/reset", headers=_auth(admin["token"])
    )
    assert missing.status_code == 404


async def test_the_second_step_finishes_on_another_instance_and_only_once(
    start_bastion, clock: Clock, sink: MemorySink, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url}
    first = await start_bastion(env, clock=clock, sinks=[sink])
    second = await start_bastion(env, clock=clock, sinks=[sink])
    user = await first.signup("someone@example.com")
    secret, _, _ = await _enrol(first, user["token"], clock)
    mfa_token = await _password_step(first, "someone@example.com")
    clock.advance(30)
    code = pyotp.TOTP(secret).at(clock())
    done = await _second_step(second, mfa_token, code)
    assert done.status_code == 200, done.text
    assert (await first.me(done.json()["token"])).status_code == 200
    again = await _second_step(first, mfa_token, code)
    assert again.status_code == 401 and again.json()["code"] == "mfa_token_invalid"


async def test_passkeys_need_webui_url_and_passkey_login_is_off_by_default(start) -> None:
    bastion = await start()
    user = await bastion.signup("someone@example.com")
    options = await bastion.client.post(
        "/api/v1/auths/mfa/webauthn/register/options", headers=_auth(user["token"])
    )
    assert options.status_code == 400 and options.json()["code"] == "passkeys_unavailable"
    alone = await bastion.client.post("/api/v1/auths/signin/webauthn/options", json={})
    assert alone.status_code == 403 and alone.json()["code"] == "passkey_login_disabled"
    listed = await bastion.client.get(
        "/api/v1/auths/mfa/webauthn/credentials", headers=_auth(user["token"])
    )
    assert listed.json() == []
    missing = await bastion.client.delete(
        "/api/v1/auths/mfa/webauthn/credentials/nothing", headers=_auth(user["token"])
    )
    assert missing.status_code == 404


async def test_a_sign_in_with_a_passkey_alone_counts_against_the_address_limit(start) -> None:
    bastion = await start(
        {
            "WEBUI_URL": "https://chat.example.com",
            "ENABLE_PASSKEY_LOGIN": "true",
            "SIGNIN_RATE_LIMIT_IP": "2/15m",
        }
    )
    async with client_from(bastion, "127.0.0.1") as client:  # no Origin, as above
        options = await client.post("/api/v1/auths/signin/webauthn/options", json={})
        assert options.status_code == 200, options.text
        forged = await client.post(
            "/api/v1/auths/signin/webauthn",
            json={"challenge_token": options.json()["challenge_token"], "credential": {"id": "x"}},
        )
        assert forged.status_code == 400 and forged.json()["code"] == "mfa_code_invalid"
        # Options and attempts share the one limit: the third request of either is refused.
        third = await client.post("/api/v1/auths/signin/webauthn/options", json={})
        assert third.status_code == 429 and "retry-after" in third.headers


async def test_a_forged_registration_is_refused_and_its_challenge_is_spent(start) -> None:
    bastion = await start({"WEBUI_URL": "https://chat.example.com"})
    # A program's client (no Origin): the test client's origin is not WEBUI_URL's.
    async with client_from(bastion, "127.0.0.1") as client:
        signup = {"name": "Someone", "email": "someone@example.com", "password": PASSWORD}
        user = (await client.post("/api/v1/auths/signup", json=signup)).json()
        headers = _auth(user["token"])
        begun = await client.post("/api/v1/auths/mfa/webauthn/register/options", headers=headers)
        assert begun.status_code == 200
        options = begun.json()["options"]
        assert options["rp"] == {"id": "chat.example.com", "name": "Bastion"}
        assert options["user"]["name"] == "someone@example.com"
        form = {
            "challenge_token": begun.json()["challenge_token"],
            "name": "Key",
            "credential": {"id": "x"},
        }
        forged = await client.post(
            "/api/v1/auths/mfa/webauthn/register/verify", json=form, headers=headers
        )
        assert forged.status_code == 400 and forged.json()["code"] == "passkey_invalid"
        replayed = await client.post(
            "/api/v1/auths/mfa/webauthn/register/verify", json=form, headers=headers
        )
        assert (
            replayed.json()["detail"] == "The passkey request has expired or was used: try again."
        )
