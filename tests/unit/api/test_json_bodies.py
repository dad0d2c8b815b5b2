"""Bodies Bastion parses: deep, malformed or not UTF-8, each answers 400 with a code."""

from __future__ import annotations

from tests.support import Bastion

DEEP = b"[" * 7000 + b"]" * 7000


async def test_a_deep_csp_report_answers_400_with_its_code(bastion: Bastion) -> None:
    response = await bastion.client.post(
        "/api/v1/security/csp-report",
        # Under the report's 8 KiB cap, far over the parser's depth limit.
        content=b"[" * 4000 + b"]" * 4000,
        headers={"content-type": "application/csp-report"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The body is not a CSP violation report.",
        "code": "invalid_csp_report",
    }


async def test_a_deep_completion_body_answers_400_saying_why(bastion: Bastion) -> None:
    token = (await bastion.signup("admin@example.com"))["token"]
    response = await bastion.client.post(
        "/api/chat/completions",
        content=b"[" * 50_000 + b"]" * 50_000,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["detail"] == "The JSON is nested deeper than 64 levels."


async def test_invalid_utf8_in_a_completion_body_answers_400(bastion: Bastion) -> None:
    token = (await bastion.signup("admin@example.com"))["token"]
    response = await bastion.client.post(
        "/api/chat/completions",
        content=b'{"messages": "\xff"}',
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid UTF-8 at byte 14."


async def test_malformed_json_to_a_model_route_says_what_and_where(bastion: Bastion) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signin",
        content=b'{"email": "a@example.com" "password": "x"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid JSON at line 1, column 27: Expecting ',' delimiter",
        "code": "invalid_json",
    }


async def test_a_deep_body_to_a_model_route_answers_400(bastion: Bastion) -> None:
    response = await bastion.client.post(
        "/api/v1/auths/signin", content=DEEP, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "There was an error parsing the body",
        "code": "bad_request",
    }
