"""The deployment's cost: the mixed load of tests/integration/deploy through nginx TLS (the
shipped ``deploy/nginx/bastion.conf``), with one Bastion instance and with two, in one
run. Each instance is ``bastion serve --workers 2`` on one PostgreSQL 15 and one
redis-server, in front of the fake OpenAI-compatible upstream (its own process).

Per configuration: requests per second, latency p50 and p99 over every request, and the
CPU time the Bastion processes spend per request, summed over the instances in use and
all their processes (read from ``/proc/PID/stat`` of each instance's process group). The
figure that shows the design scales is CPU per request staying level from one instance
to two: the only coordination between instances is the Redis round trip each already
makes. On two cores two instances cannot serve more requests per second than one.

The configurations run alternately, ``ROUNDS`` times each; each round's clients use
addresses of their own, so that nginx's per-address limits stay out of the load's way.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from throughput import ROOT, BenchError

sys.path.insert(0, str(ROOT))

from tests.integration.deploy import stack
from tests.integration.deploy.load import Load, Shape
from tests.integration.deploy.nginx import Nginx, free_port, running_nginx
from tests.integration.postgres import throwaway_cluster
from tests.integration.redis_server import RedisServer

SHAPE = Shape(clients=8, cycles=4, reads=10, completions=5)
ROUNDS = 2
WORKERS = 2
# Bastion's own limits out of the load's reach: a 429 would end the measurement.
UNLIMITED = {
    "SIGNIN_RATE_LIMIT_IP": "1000000/1m",
    "SIGNIN_RATE_LIMIT_ACCOUNT_IP": "1000000/1m",
    "SIGNIN_RATE_LIMIT_ACCOUNT": "1000000/1m",
}


@dataclass
class Configuration:
    name: str
    nginx: Nginx
    instances: list[stack.Server]
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    elapsed_s: float = 0.0
    cpu_ms: float = 0.0
    processes: int = 0  # Bastion processes counted, all instances' workers included

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_ms / self.requests

    def p(self, percent: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[percent - 1]


def measure(configuration: Configuration, emails: list[str], network: int) -> None:
    """One round of the load through ``configuration``'s nginx; adds up its figures."""
    sources = [f"127.0.{network}.{n}" for n in range(1, SHAPE.clients + 1)]
    load = Load(
        configuration.nginx.url,
        configuration.nginx.client_context(),
        emails,
        sources,
        SHAPE,
        stack.PASSWORD,
    )
    cpu_before = sum(instance.cpu_ms() for instance in configuration.instances)
    started = time.monotonic()
    asyncio.run(load.run())
    elapsed = time.monotonic() - started
    cpu = sum(instance.cpu_ms() for instance in configuration.instances) - cpu_before
    configuration.processes = sum(len(i.pids()) for i in configuration.instances)
    wrong = load.unexpected()
    if wrong or len(load.answers) != SHAPE.total:
        raise BenchError(
            f"{configuration.name}: {len(wrong)} unexpected answers of {len(load.answers)} "
            f"(first: {wrong[:1]}); the figures would be meaningless"
        )
    configuration.latencies_ms += [(a.ended - a.started) * 1000 for a in load.answers]
    configuration.requests += len(load.answers)
    configuration.elapsed_s += elapsed
    configuration.cpu_ms += cpu


def accounts(base: str) -> list[str]:
    """The admin, then one account per client granted the models; their e-mails."""

    def post(path: str, body: object, token: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)
        if not answer.is_success:
            raise BenchError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()  # type: ignore[no-any-return]

    def signup(email: str) -> dict[str, str]:
        return post(
            "/api/v1/auths/signup", {"name": "Bench", "email": email, "password": stack.PASSWORD}
        )

    admin = signup("admin@example.com")
    emails = [f"user{n}@example.com" for n in range(SHAPE.clients)]
    ids = [signup(email)["id"] for email in emails]
    for model in stack.MODELS:
        post(f"/api/v1/models/{model}/access", {"user_ids": ids}, admin["token"])
    return emails


@contextmanager
def deployment(root: Path) -> Iterator[tuple[Configuration, Configuration]]:
    """nginx in front of one instance and, on other ports, in front of two."""
    with ExitStack() as stack_:
        database_url = stack_.enter_context(throwaway_cluster("bastion_bench"))
        redis = RedisServer().start()
        stack_.callback(redis.stop)
        upstream = stack.upstream(free_port(), root / "upstream.log").start()
        stack_.callback(upstream.stop)
        ports = (free_port(), free_port())
        (root / "nginx-one").mkdir()
        (root / "nginx-two").mkdir()
        one = stack_.enter_context(running_nginx(root / "nginx-one", (ports[0], ports[0])))
        two = stack_.enter_context(running_nginx(root / "nginx-two", ports))
        key = stack.secret_key()
        instances = []
        for number, port in enumerate(ports, 1):
            data = root / f"instance-{number}"
            env = stack.bastion_env(data, database_url, redis.url, two.url, upstream.url)
            env |= {"WEBUI_SECRET_KEY": key, **UNLIMITED}
            server = stack.bastion(port, env, root / f"instance-{number}.log", WORKERS)
            instances.append(server.start())
            stack_.callback(server.stop)
        yield (
            Configuration("one instance", one, instances[:1]),
            Configuration("two instances", two, instances),
        )


def main() -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-deploy-") as directory,
        deployment(Path(directory)) as (one, two),
    ):
        emails = accounts(one.instances[0].url)
        network = 10
        for _ in range(ROUNDS):
            for configuration in (one, two):
                measure(configuration, emails, network)
                network += 1
    print(
        f"load: {SHAPE}, {ROUNDS} rounds per configuration, alternately, through nginx TLS; "
        f"{WORKERS} workers an instance"
    )
    figures: dict[str, float] = {}
    for configuration in (one, two):
        print(
            f"{configuration.name}: {configuration.requests} requests, "
            f"{configuration.rate:.0f} req/s, p50 {configuration.p(50):.2f} ms, "
            f"p99 {configuration.p(99):.2f} ms, CPU {configuration.cpu_per_request:.2f} ms "
            f"per request (over {configuration.processes} processes)"
        )
        key = configuration.name.replace(" ", "_")
        figures |= {
            f"{key}_req_per_s": configuration.rate,
            f"{key}_p50_ms": configuration.p(50),
            f"{key}_p99_ms": configuration.p(99),
            f"{key}_cpu_per_request_ms": configuration.cpu_per_request,
        }
    ratios = {
        "req_per_s": two.rate / one.rate,
        "p50": two.p(50) / one.p(50),
        "p99": two.p(99) / one.p(99),
        "cpu_per_request": two.cpu_per_request / one.cpu_per_request,
    }
    print(
        "two instances against one: "
        + ", ".join(f"{name} {value:.2f}x" for name, value in ratios.items())
    )
    figures |= {f"two_vs_one_{name}": value for name, value in ratios.items()}
    return figures


if __name__ == "__main__":
    main()
