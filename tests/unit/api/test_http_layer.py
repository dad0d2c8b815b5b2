"""The HTTP layer as the whole app assembles it: CORS, body limits, errors, files on disk."""

from __future__ import annotations

import stat

import pytest

from bastion.auth.authenticate import Principal
from bastion.auth.rbac import ensure_owner, require_role
from bastion.errors import Forbidden, NotFound
from tests.support import Bastion, StartBastion


async def test_no_cors_headers_by_default(bastion: Bastion) -> None:
    response = await bastion.client.options(
        "/api/v1/auths/signin",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    plain = await bastion.client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


async def test_listed_origin_gets_credentials_and_others_nothing(
    start_bastion: StartBastion,
) -> None:
    bastion = await start_bastion({"CORS_ALLOW_ORIGIN": "https://chat.example.com"})
    allowed = await bastion.client.options(
        "/api/v1/auths/signin",
        headers={"Origin": "https://chat.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    refused = await bastion.client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


async def test_wildcard_origin_never_allows_credentials(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"CORS_ALLOW_ORIGIN": "*"})
    response = await bastion.client.get("/health", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_100_mb_body_is_refused_with_413_before_it_is_read(bastion: Bastion) -> None:
    pulled = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal pulled
        chunk = b"x" * 1_048_576
        for _ in range(100):
            pulled += len(chunk)
            yield chunk

    response = await bastion.client.post(
        "/api/v1/auths/signin",
        content=body(),
        headers={"Content-Type": "application/json", "Content-Length": str(100 * 1_048_576)},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert pulled <= 1_048_576


async def test_unexpected_errors_answer_json_500_without_a_traceback(bastion: Bastion) -> None:
    app = bastion.client._transport.app  # type: ignore[attr-defined]

    async def broken() -> None:
        raise RuntimeError("internal detail that must not leak")

    app.add_api_route("/api/v1/broken", broken)
    bastion.client._transport.raise_app_exceptions = False  # type: ignore[attr-defined]
    response = await bastion.client.get("/api/v1/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "internal_error"}
    assert "internal detail" not in response.text and "Traceback" not in response.text


async def test_unknown_path_is_a_json_404(bastion: Bastion) -> None:
    response = await bastion.client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


async def test_database_file_is_private(bastion: Bastion) -> None:
    database = bastion.settings.server.data_dir / "bastion.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


async def test_ownership_check_hides_other_users_objects(bastion: Bastion) -> None:
    admin = await bastion.signup("admin@example.com")
    user = await bastion.signup("user@example.com")
    as_admin = Principal(user=await bastion.services.users.get(admin["id"]), via="bearer")  # type: ignore[arg-type]
    as_user = Principal(user=await bastion.services.users.get(user["id"]), via="bearer")  # type: ignore[arg-type]
    ensure_owner(as_user, user["id"])
    with pytest.raises(NotFound):
        ensure_owner(as_user, admin["id"])
    with pytest.raises(NotFound):
        ensure_owner(as_admin, user["id"])
    ensure_owner(as_admin, user["id"], admin_may=True)
    with pytest.raises(Forbidden):
        require_role(as_user, ("user", "admin"))
    assert require_role(as_admin, ("admin",)) is as_admin


async def test_slash_redirect_does_not_reflect_the_host(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    response = await bastion.client.get(
        "/api/v1/chats", headers={"Host": "evil.example", "Authorization": f"Bearer {token}"}
    )
    assert (response.status_code, response.headers["location"]) == (307, "/api/v1/chats/")
    followed = await bastion.client.get(response.headers["location"], headers=_bearer(token))
    assert followed.status_code == 200


async def test_hosts_outside_allowed_hosts_get_400(start_bastion: StartBastion) -> None:
    bastion = await start_bastion({"ALLOWED_HOSTS": "testserver,*.example.com"})
    assert (await bastion.client.get("/health")).status_code == 200
    ok = await bastion.client.get("/health", headers={"Host": "chat.example.com"})
    refused = await bastion.client.get("/health", headers={"Host": "evil.example"})
    assert ok.status_code == 200
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "This server does not answer for that host name.", "code": "host_not_allowed"},
    )


async def test_two_authorization_headers_are_refused(bastion: Bastion) -> None:
    token = (await bastion.signup("a@example.com"))["token"]
    for first in ("Bearer not-a-token", "Basic YTpi"):
        response = await bastion.client.get(
            "/api/v1/auths/",
            headers=[("Authorization", first), ("Authorization", f"Bearer {token}")],
        )
        assert (response.status_code, response.json()) == (
            400,
            {"detail": "The request repeats the Authorization header.", "code": "duplicate_header"},
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
