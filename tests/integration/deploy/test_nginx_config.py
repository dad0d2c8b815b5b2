"""The shipped ``deploy/nginx/bastion.conf`` run by a real nginx (Debian's package), with
only its paths and ports substituted as the file's header says: plain HTTP answers
nothing but the redirect to HTTPS, TLS 1.2 and 1.3 are offered, and the version is
hidden. Clients trust only the test CA (trustme) that signed nginx's certificate."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.deploy.nginx import Nginx, free_port, running_nginx


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    # No instance listens on the upstream port: nginx answers for it.
    upstream = free_port()
    with running_nginx(tmp_path_factory.mktemp("nginx"), (upstream, upstream)) as served:
        yield served


def test_plain_http_redirects_to_https(nginx: Nginx) -> None:
    response = httpx.get(f"http://127.0.0.1:{nginx.http_port}/api/v1/auths/?x=1")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/api/v1/auths/?x=1"
    assert response.headers["server"] == "nginx"


def test_https_hides_the_version_and_adds_no_hsts(nginx: Nginx) -> None:
    with httpx.Client(verify=nginx.client_context()) as client:
        response = client.get(f"https://127.0.0.1:{nginx.https_port}/health")
    # No instance listens on the upstream port: nginx answers for it, with no version.
    assert response.status_code == 502
    assert response.headers["server"] == "nginx"
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"]
)
def test_tls_1_2_and_1_3_are_offered(nginx: Nginx, version: ssl.TLSVersion) -> None:
    context = nginx.client_context()
    context.minimum_version = version
    context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", nginx.https_port)) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == version.name.replace("_", ".")


def test_the_certificate_is_verified_against_the_test_ca(nginx: Nginx) -> None:
    # The system's CAs do not know the test CA: the same request fails verification.
    with (
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        httpx.Client(verify=ssl.create_default_context()) as client,
    ):
        client.get(f"{nginx.url}/health")
