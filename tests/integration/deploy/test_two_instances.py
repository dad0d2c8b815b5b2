"""The shared-state design behind a real nginx: the shipped ``deploy/nginx/bastion.conf``
(paths and ports substituted, nothing else) in front of two ``bastion serve`` instances of
two workers each, on one PostgreSQL 15 and one redis-server, with a fake model upstream in
a process of its own. The whole stack starts once for this module.

Clients reach nginx over TLS from addresses of their own in 127.0.0.0/8, so that nginx
sees, and passes on, a real peer address per person; the instances are also asked
directly (the port nginx uses) where a test must know that both of them agree.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.deploy import stack
from tests.integration.deploy.load import Load, Shape
from tests.integration.deploy.nginx import Nginx, free_port, running_nginx
from tests.integration.redis_server import RedisServer
from tests.support import create_database

SPOOFED = "203.0.113.9"
LOAD = Shape(clients=6, cycles=3, reads=3, completions=2)


@dataclass
class Deployment:
    nginx: Nginx
    instances: list[stack.Server]
    redis: RedisServer
    upstream: stack.Server
    admin_token: str
    emails: list[str] = field(default_factory=list)

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A client of nginx over TLS, from ``source``, trusting only the test CA."""
        transport = httpx.HTTPTransport(verify=self.nginx.client_context(), local_address=source)
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=30)

    def user(self) -> str:
        """The e-mail of an account made for one test alone (made at the start)."""
        return self.emails.pop()

    def audit(self, *instances: stack.Server) -> list[dict[str, Any]]:
        """Every record in the audit logs of ``instances`` (of both, unless named)."""
        records = []
        for instance in instances or self.instances:
            path = Path(instance.env["AUDIT_LOGS_FILE_PATH"])
            if path.exists():
                records += [json.loads(line) for line in path.read_text().splitlines() if line]
        return records

    def closed_early(self) -> int:
        answer = httpx.get(f"{self.upstream.url}/closed-early", timeout=5)
        return int(answer.json()["closed_early"])


def _signup(base: str, email: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/api/v1/auths/signup",
        json={"name": "Someone", "email": email, "password": stack.PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    database_url = create_database(postgres_url)
    redis = RedisServer().start()
    upstream = stack.upstream(free_port(), root / "upstream.log").start()
    ports = (free_port(), free_port())
    key = stack.secret_key()
    instances: list[stack.Server] = []
    (root / "nginx").mkdir()
    try:
        with running_nginx(root / "nginx", ports) as nginx:
            for number, port in enumerate(ports, 1):
                data = root / f"instance-{number}"
                env = stack.bastion_env(data, database_url, redis.url, nginx.url, upstream.url)
                env["WEBUI_SECRET_KEY"] = key
                # One at a time: the first start migrates the database.
                instances.append(stack.bastion(port, env, root / f"instance-{number}.log").start())
            base = instances[0].url
            admin = _signup(base, "admin@example.com")
            assert admin["role"] == "admin"
            emails = [f"user{n}@example.com" for n in range(2 * LOAD.clients + 8)]
            ids = [_signup(base, email)["id"] for email in emails]
            for model in stack.MODELS:
                granted = httpx.post(
                    f"{base}/api/v1/models/{model}/access",
                    json={"user_ids": ids},
                    headers={"Authorization": f"Bearer {admin['token']}"},
                    timeout=10,
                )
                assert granted.status_code == 200, granted.text
            yield Deployment(nginx, instances, redis, upstream, admin["token"], emails)
    finally:
        for instance in instances:
            instance.stop()
        upstream.stop()
        redis.stop()


def _signin(
    client: httpx.Client, email: str, password: str = stack.PASSWORD, **headers: str
) -> httpx.Response:
    return client.post(
        "/api/v1/auths/signin", json={"email": email, "password": password}, headers=headers
    )


def _served_by(deployment: Deployment, source: str, uri: str) -> Counter[str]:
    """Which instances answered ``uri`` for ``source``, per nginx's access log."""
    served: Counter[str] = Counter()
    for line in deployment.nginx.access_log.read_text().splitlines():
        address, _, upstream, _, _, path = line.split(" ")
        if address == source and path == uri:
            served[upstream] += 1
    return served


def test_bastion_sees_the_peer_nginx_saw_and_not_a_forwarded_for_the_client_sent(
    deployment: Deployment,
) -> None:
    email = deployment.user()
    forged = {"X-Forwarded-For": SPOOFED, "X-Real-IP": SPOOFED, "Forwarded": f"for={SPOOFED}"}
    with deployment.client("127.0.0.11") as client:
        statuses = [_signin(client, email, "wrong guess", **forged).status_code for _ in range(2)]
    assert statuses == [400, 400]
    # nginx sent one to each instance (round robin), and each logged the real peer.
    assert set(_served_by(deployment, "127.0.0.11", "/api/v1/auths/signin")) == {
        f"127.0.0.1:{instance.port}" for instance in deployment.instances
    }

    def failures(instance: stack.Server) -> list[str]:
        return [
            record.get("client_ip")
            for record in deployment.audit(instance)
            if record.get("type") == "auth.signin"
            and record.get("outcome") == "failure"
            and record.get("client_ip") in {"127.0.0.11", SPOOFED}
        ]

    for instance in deployment.instances:
        stack.wait_for(lambda: failures(instance) != [], "a failed sign-in in its audit log")  # noqa: B023
    assert [failures(instance) for instance in deployment.instances] == [["127.0.0.11"]] * 2
    assert all(SPOOFED not in json.dumps(record) for record in deployment.audit())


def test_plain_http_redirects_to_https_where_the_cookie_is_secure(deployment: Deployment) -> None:
    redirect = httpx.get(f"http://127.0.0.1:{deployment.nginx.http_port}/auth?next=%2F")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://127.0.0.1/auth?next=%2F"
    with deployment.client("127.0.0.12") as client:
        signin = _signin(client, deployment.user())
    assert signin.status_code == 200, signin.text
    cookie = signin.headers["set-cookie"]
    assert cookie.startswith("token=")
    assert {"Secure", "HttpOnly"} <= {part.strip() for part in cookie.split(";")}
    # nginx adds none (test_nginx_config): this one is Bastion's, which saw HTTPS.
    assert signin.headers["strict-transport-security"].startswith("max-age=")


def test_signed_out_on_one_instance_is_refused_by_the_other_at_once(
    deployment: Deployment,
) -> None:
    first, second = (instance.url for instance in deployment.instances)
    with deployment.client("127.0.0.13") as client:
        token = _signin(client, deployment.user()).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        for base in (first, second):
            assert httpx.get(f"{base}/api/v1/auths/", headers=bearer).status_code == 200
        signout = httpx.post(f"{first}/api/v1/auths/signout", headers=bearer)
        assert signout.status_code == 200
        refused = httpx.get(f"{second}/api/v1/auths/", headers=bearer)
        assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
        through = [client.get("/api/v1/auths/", headers=bearer) for _ in range(4)]
    assert [(answer.status_code, answer.json()["code"]) for answer in through] == [
        (401, "token_revoked")
    ] * 4
    assert set(_served_by(deployment, "127.0.0.13", "/api/v1/auths/")) == {
        f"127.0.0.1:{instance.port}" for instance in deployment.instances
    }


def test_a_brute_force_from_one_address_is_limited_across_instances_not_for_others(
    deployment: Deployment,
) -> None:
    victim = deployment.user()
    attacker, person = "127.0.0.14", "127.0.0.15"
    with deployment.client(attacker) as client:
        # Each guess claims another address: nginx replaces the claim with the peer.
        guesses = [
            _signin(client, victim, f"guess {n}", **{"X-Forwarded-For": f"198.51.100.{n}"})
            for n in range(10)
        ]
        right = _signin(client, victim)
    # SIGNIN_RATE_LIMIT_IP=6/15m, counted in Redis by both instances together.
    assert [guess.status_code for guess in guesses] == [400] * 6 + [429] * 4
    assert {guess.json()["code"] for guess in guesses[6:]} == {"rate_limited"}
    assert right.status_code == 429
    assert set(_served_by(deployment, attacker, "/api/v1/auths/signin")) == {
        f"127.0.0.1:{instance.port}" for instance in deployment.instances
    }
    with deployment.client(person) as client:
        signin = _signin(client, victim)
    assert signin.status_code == 200, signin.text


def test_a_stream_arrives_in_chunks_and_leaving_it_reaches_the_upstream(
    deployment: Deployment,
) -> None:
    with deployment.client("127.0.0.16") as client:
        token = _signin(client, deployment.user()).json()["token"]
        before = deployment.closed_early()
        body = {
            "model": stack.DRIPPING,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
        reads: list[bytes] = []
        with client.stream(
            "POST", "/api/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for data in response.iter_raw():
                reads.append(data)
                if b"".join(reads).count(b"data: ") >= 5:
                    break
    # Buffered, the first events would come together once a buffer filled.
    assert len(reads) > 1
    assert reads[0].count(b"data: ") < 5
    stack.wait_for(
        lambda: deployment.closed_early() == before + 1, "the upstream saw the client leave"
    )


def _run(load: Load, during: Any) -> None:
    async def main() -> None:
        await asyncio.gather(load.run(), during(load))

    asyncio.run(main())


def _load(deployment: Deployment, network: int) -> Load:
    sources = [f"127.0.{network}.{n}" for n in range(1, LOAD.clients + 1)]
    emails = [deployment.user() for _ in sources]
    return Load(
        deployment.nginx.url,
        deployment.nginx.client_context(),
        emails,
        sources,
        LOAD,
        stack.PASSWORD,
    )


def test_the_load_goes_on_through_a_redis_kill_and_restart(deployment: Deployment) -> None:
    load = _load(deployment, 1)
    marks: dict[str, int] = {}

    async def break_redis(load: Load) -> None:
        await load.reached(LOAD.total // 3)
        await asyncio.to_thread(deployment.redis.kill)
        marks["killed"] = len(load.answers)
        await load.reached(2 * LOAD.total // 3)
        marks["restarted"] = len(load.answers)
        await asyncio.to_thread(deployment.redis.restart)

    _run(load, break_redis)
    assert len(load.answers) == LOAD.total
    assert load.unexpected() == []
    assert load.statuses()[("revoked", 401)] == LOAD.clients * LOAD.cycles
    # The load went on while Redis was away: requests were answered between kill and restart.
    assert marks["restarted"] - marks["killed"] >= LOAD.total // 4
    # The new Redis started empty; every sign-out, those made while it was away too, is
    # still refused by each instance.
    assert len(load.signed_out) == LOAD.clients * LOAD.cycles
    refused = Counter(
        httpx.get(f"{instance.url}/api/v1/auths/", headers={"Authorization": bearer}).status_code
        for instance in deployment.instances
        for bearer in load.signed_out
    )
    assert refused == Counter({401: 2 * len(load.signed_out)})


def test_nginx_fails_over_when_an_instance_is_killed(deployment: Deployment) -> None:
    load = _load(deployment, 2)
    window: list[float] = []

    async def kill_instance(load: Load) -> None:
        await load.reached(LOAD.total // 3)
        window.append(time.monotonic())
        await asyncio.to_thread(deployment.instances[0].kill)
        window.append(time.monotonic())

    _run(load, kill_instance)
    killing, dead = window
    lost = load.unexpected()
    # Only requests in flight on the instance as it died may fail (nginx answers 502, or
    # cuts an answer it had begun): each was sent before it was dead and answered after
    # the kill began.
    in_flight = [answer for answer in lost if answer.started < dead and answer.ended > killing]
    assert lost == in_flight, (killing, dead)
    assert len(lost) <= LOAD.clients
    assert {(answer.status, answer.error) for answer in lost} <= {
        (502, None),
        (None, "RemoteProtocolError"),
    }
    # Every request sent once it was dead went to the other instance, and was answered.
    after = [answer for answer in load.answers if answer.started > dead]
    assert len(after) >= LOAD.total // 4
    assert all(answer.expected for answer in after)
