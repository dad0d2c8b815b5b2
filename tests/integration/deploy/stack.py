"""The deployment of ``deploy/compose.yaml`` on 127.0.0.1: ``bastion serve`` instances of
two workers each on one PostgreSQL and one redis-server, a fake model upstream in a
process of its own, and nginx (``nginx.py``) in front.

Each server runs in a process group of its own, so that it is killed with its workers in one
signal and the CPU time of its whole tree can be read from ``/proc``. The tests in this
directory and ``bench/deploy.py`` build the same stack from here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fake_upstreams import FakeUpstream

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 60.0
UPSTREAM_KEY = "sk-upstream-deploy-0123456789abcdef"
PASSWORD = "correct horse battery staple"
# Answers without end, a chunk every 20 ms: a stream to read a few chunks of and leave.
DRIPPING = "gpt-dripping"
MODELS = ("gpt-normal", DRIPPING)


def upstream_app() -> ASGIApp:
    """For ``uvicorn --factory``: the fake OpenAI upstream, and ``GET /closed-early``, how
    many of its answers the client left before they ended."""
    fake = FakeUpstream("openai")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/closed-early":
            body = json.dumps({"closed_early": fake.closed_early}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await fake(scope, receive, send)

    return app


class Server:
    """A server process with its workers, in a process group of its own."""

    def __init__(
        self, command: list[str], env: dict[str, str], port: int, log: Path, probe: str
    ) -> None:
        self.command = command
        self.env = env
        self.port = port
        self.log = log
        self.probe = probe
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(self.url + self.probe, timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"{self.command[:4]} did not start"
            time.sleep(0.1)

    def pids(self) -> list[int]:
        """Every live process of the group: the server and its workers."""
        assert self.process is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields[0] is the state, fields[2] the process group.
            if int(fields[2]) == self.process.pid and fields[0] != "Z":
                found.append(int(entry.name))
        return found

    def cpu_ms(self) -> float:
        """User and system CPU time the group's processes have used so far."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total * 1000 / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL to the server and its workers at once, as a crash would end them."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.pids():
            assert time.monotonic() < deadline, "the workers outlived SIGKILL"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def upstream(port: int, log: Path) -> Server:
    command = [
        sys.executable, "-m", "uvicorn", "--factory",
        "tests.integration.deploy.stack:upstream_app", "--host", "127.0.0.1", "--port",
        str(port), "--lifespan", "off", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return Server(command, _base_env(), port, log, "/closed-early")


def bastion_env(
    data_dir: Path, database_url: str, redis_url: str, webui_url: str, upstream_url: str
) -> dict[str, str]:
    """One instance's environment; every instance of a deployment shares the same key."""
    return _base_env() | {
        "DATA_DIR": str(data_dir),
        "AUDIT_LOGS_FILE_PATH": str(data_dir / "audit.log"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # nginx's address, and only it: the X-Forwarded-For it sets is believed.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "WEBUI_URL": webui_url,
        "OPENAI_API_BASE_URLS": f"{upstream_url}/v1",
        "OPENAI_API_KEYS": UPSTREAM_KEY,
        "DEFAULT_USER_ROLE": "user",
        "MODEL_UPSTREAM_READ_TIMEOUT": "30s",
        "MODEL_LIST_CACHE_TTL": "1h",
        # A test's client addresses sign in a few times each; the brute force tests
        # stay within the account limits and hit the one of the address.
        "SIGNIN_RATE_LIMIT_IP": "6/15m",
        "SIGNIN_DELAY_AFTER_FAILURES": "100",
        "SIGNUP_RATE_LIMIT": "1000/1h",
        "API_RATE_LIMIT_USER": "1000000/1m",
        "COSTLY_RATE_LIMIT": "1000000/1m",
    }


def bastion(port: int, env: dict[str, str], log: Path, workers: int = 2) -> Server:
    command = [
        sys.executable, "-m", "bastion", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    return Server(command, env, port, log, "/health")


def secret_key() -> str:
    return secrets.token_urlsafe(48)


def _base_env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "TMPDIR"}
    return {name: value for name, value in os.environ.items() if name in keep}


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
