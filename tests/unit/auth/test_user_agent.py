"""The User-Agent summary shown in the sessions list: the common browsers and systems by
name, anything else "Other", and an oversized header cut before it is looked at."""

from __future__ import annotations

import pytest

from bastion.auth.user_agent import Client, summarise

AGENTS = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86": Client("Windows", "Edge 131"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36": Client("Windows", "Chrome 131"),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15": Client("macOS", "Safari 18"),
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": Client("iPhone", "Safari 18"),
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1": Client("iPad", "Chrome 131"),
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0": Client(
        "Linux", "Firefox 133"
    ),
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36": Client(
        "Android", "Samsung Internet 26"
    ),
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0": Client("ChromeOS", "Opera 115"),
    "curl/8.5.0": Client("Other", "curl 8"),
    "python-httpx/0.28.1": Client("Other", "Other"),
    "": Client("Other", "Other"),
}


@pytest.mark.parametrize(("header", "expected"), list(AGENTS.items()))
def test_common_browsers_and_systems_are_named(header: str, expected: Client) -> None:
    assert summarise(header) == expected


def test_no_header_and_an_oversized_one_are_other() -> None:
    assert summarise(None) == Client("Other", "Other")
    assert summarise("x" * 100_000 + " Firefox/133.0") == Client("Other", "Other")
