"""A private redis-server for the tests: free port on 127.0.0.1, no persistence.

Fault tests drive it directly: ``kill`` (SIGKILL), ``pause``/``resume`` (SIGSTOP and
SIGCONT: a hung server that accepts connections and never answers), ``restart`` (a new,
empty server on the same port) and ``flush``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

READY_TIMEOUT_S = 10.0


class RedisUnavailable(RuntimeError):
    """redis-server could not be started."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server not found: install redis-server (bin/test does)")
        self.binary = binary
        self.port = _free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="bastion-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--protected-mode", "yes",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisUnavailable(f"redis-server exited with {self.process.returncode}")
            try:
                if self.command("PING") == "+PONG":
                    return self
            except OSError:
                time.sleep(0.02)
        raise RedisUnavailable(f"redis-server did not answer on port {self.port}")

    def command(self, *words: str) -> str:
        """One inline command, answered with the reply's first line (no client needed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as connection:
            connection.sendall((" ".join(words) + "\r\n").encode())
            return connection.recv(65536).decode().split("\r\n", 1)[0]

    def info(self, section: str) -> str:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as connection:
            connection.sendall(f"INFO {section}\r\n".encode())
            data = b""
            while not data.endswith(b"\r\n\r\n") and not data.endswith(b"\r\n"):
                data += connection.recv(65536)
            return data.decode()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since start or ``CONFIG RESETSTAT`` (script-internal ones too)."""
        calls = {}
        for line in self.info("commandstats").splitlines():
            if line.startswith("cmdstat_"):
                name, _, stats = line.removeprefix("cmdstat_").partition(":")
                calls[name] = int(stats.split(",")[0].removeprefix("calls="))
        return calls

    def flush(self) -> None:
        assert self.command("FLUSHALL") == "+OK"

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        if self.process is not None:
            self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
