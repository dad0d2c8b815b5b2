"""The shipped ``deploy/nginx/bastion.conf`` run by a real nginx (Debian's package), with
only its paths and ports substituted as the file's header says: plain HTTP answers
nothing but the redirect to HTTPS, TLS 1.2 and 1.3 are
offered, and the version is hidden."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SHIPPED = Path(__file__).resolve().parents[3] / "deploy" / "nginx" / "bastion.conf"


@dataclass(frozen=True)
class Nginx:
    http_port: int
    https_port: int
    ca: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _substituted(cert: Path, key: Path, http_port: int, https_port: int, upstream: int) -> str:
    text = SHIPPED.read_text()
    replacements = {
        "/etc/ssl/bastion/fullchain.pem": str(cert),
        "/etc/ssl/bastion/privkey.pem": str(key),
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8081 ": f"server 127.0.0.1:{upstream} ",
        "server 127.0.0.1:8082 ": f"server 127.0.0.1:{upstream} ",
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    root = tmp_path_factory.mktemp("nginx")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    http_port, https_port, upstream = _free_port(), _free_port(), _free_port()
    (root / "bastion.conf").write_text(_substituted(cert, key, http_port, https_port, upstream))
    temp = root / "temp"
    temp.mkdir()
    (root / "nginx.conf").write_text(
        f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nworker_processes 1;\n"
        "events {}\nhttp {\n    access_log off;\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {root}/bastion.conf;\n}}\n"
    )
    command = [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, (root / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    try:
        yield Nginx(http_port, https_port, cert)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_plain_http_redirects_to_https(nginx: Nginx) -> None:
    response = httpx.get(f"http://127.0.0.1:{nginx.http_port}/api/v1/auths/?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/api/v1/auths/?x=1"
    assert response.headers["server"] == "nginx"


def test_https_hides_the_version_and_adds_no_hsts(nginx: Nginx) -> None:
    context = ssl.create_default_context(cafile=str(nginx.ca))
    with httpx.Client(verify=context) as client:
        response = client.get(f"https://127.0.0.1:{nginx.https_port}/health")
    # No instance listens on the upstream port: nginx answers for it, with no version.
    assert response.status_code == 502
    assert response.headers["server"] == "nginx"
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"]
)
def test_tls_1_2_and_1_3_are_offered(nginx: Nginx, version: ssl.TLSVersion) -> None:
    context = ssl.create_default_context(cafile=str(nginx.ca))
    context.minimum_version = version
    context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", nginx.https_port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == version.name.replace("_", ".")
