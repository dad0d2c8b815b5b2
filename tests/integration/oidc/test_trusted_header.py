"""Trusted-header sign-in: believed from a proxy in FORWARDED_ALLOW_IPS, and from anyone
else ignored and recorded (``trusted_header.refused``)."""

from __future__ import annotations

from bastion.audit.events import MemorySink
from tests.support import PASSWORD

HEADERS = {
    "WEBUI_AUTH_TRUSTED_EMAIL_HEADER": "X-Forwarded-Email",
    "WEBUI_AUTH_TRUSTED_NAME_HEADER": "X-Forwarded-User",
    "WEBUI_AUTH_TRUSTED_GROUPS_HEADER": "X-Forwarded-Groups",
}
SENT = {"X-Forwarded-Email": "Boss@Example.com", "X-Forwarded-User": "Big Boss"}


async def test_the_header_from_an_untrusted_peer_is_ignored_and_recorded(
    start_bastion, sink: MemorySink
) -> None:
    # The test client's peer is 127.0.0.1; only 10.0.0.0/8 is a trusted proxy here.
    bastion = await start_bastion({**HEADERS, "FORWARDED_ALLOW_IPS": "10.0.0.0/8"}, sinks=[sink])
    victim = await bastion.signup("boss@example.com")
    answer = await bastion.client.post(
        "/api/v1/auths/signin", json={"email": "x@example.com", "password": "guess"}, headers=SENT
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_credentials"
    (event,) = sink.of_type("trusted_header.refused")
    assert event.outcome == "denied" and event.details["header"] == "x-forwarded-email"
    assert (await bastion.services.users.get(victim["id"])).token_version == 0


async def test_the_header_from_a_trusted_proxy_signs_in_and_maps_groups(
    start_bastion, sink: MemorySink
) -> None:
    bastion = await start_bastion(
        {**HEADERS, "FORWARDED_ALLOW_IPS": "127.0.0.1", "DEFAULT_USER_ROLE": "user"}, sinks=[sink]
    )
    admin = await bastion.signup("admin@example.com")
    group = await bastion.services.groups.create(
        name="eng", description="", permissions={}, created_by=admin["id"]
    )
    answer = await bastion.client.post(
        "/api/v1/auths/signin",
        json={"email": "ignored@example.com", "password": "ignored"},
        headers={**SENT, "X-Forwarded-Groups": "eng, other"},
    )
    assert answer.status_code == 200, answer.text
    user = answer.json()
    assert user["email"] == "boss@example.com" and user["name"] == "Big Boss"
    assert user["role"] == "user"
    assert await bastion.services.groups.groups_of(user["id"]) == frozenset({group.id})
    assert sink.of_type("trusted_header.refused") == []
    # Without the header the password form works as ever.
    assert (await bastion.signin("admin@example.com", PASSWORD)).status_code == 200
