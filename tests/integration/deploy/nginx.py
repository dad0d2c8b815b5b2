"""Debian's nginx running the shipped ``deploy/nginx/bastion.conf`` for the tests.

Only the tokens the file's header names are replaced (certificate paths, the two listening
ports, the two instances' ports), so the file the tests run is the file that is shipped.
The certificate comes from a test CA made with trustme; clients trust that CA alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "nginx" / "bastion.conf"
START_TIMEOUT_S = 10.0
# What the tests read from the access log: who asked, which instance answered, and how.
ACCESS_FORMAT = "$remote_addr $status $upstream_addr $upstream_status $request_method $uri"


@dataclass(frozen=True)
class Nginx:
    http_port: int
    https_port: int
    ca: trustme.CA
    root: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA and nothing else."""
        return ssl.create_default_context(cadata=self.ca.cert_pem.bytes().decode())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def substituted(
    cert: Path, key: Path, http_port: int, https_port: int, upstreams: tuple[int, int]
) -> str:
    """The shipped file with its paths and ports replaced, and nothing else."""
    text = SHIPPED.read_text()
    replacements = {
        "/etc/ssl/bastion/fullchain.pem": str(cert),
        "/etc/ssl/bastion/privkey.pem": str(key),
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{upstreams[0]} ",
        "server 127.0.0.1:8082 ": f"server 127.0.0.1:{upstreams[1]} ",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@contextmanager
def running_nginx(root: Path, upstreams: tuple[int, int]) -> Iterator[Nginx]:
    """nginx on free ports of 127.0.0.1 in front of ``upstreams``, stopped afterwards."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key = root / "fullchain.pem", root / "privkey.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(key))
    http_port, https_port = free_port(), free_port()
    (root / "bastion.conf").write_text(substituted(cert, key, http_port, https_port, upstreams))
    temp = root / "temp"
    temp.mkdir()
    # Under root the workers would run as nobody, who may not enter the test's directories.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        f"{user}pid {root}/nginx.pid;\nerror_log {root}/error.log;\nworker_processes 1;\n"
        "events {}\nhttp {\n"
        f"    log_format tests '{ACCESS_FORMAT}';\n"
        f"    access_log {root}/access.log tests;\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {root}/bastion.conf;\n}}\n"
    )
    command = [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, (root / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    try:
        yield Nginx(http_port, https_port, ca, root)
    finally:
        process.terminate()
        process.wait(timeout=10)
