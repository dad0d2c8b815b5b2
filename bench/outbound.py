"""What the safe outbound client costs against plain httpx, same server, same run.

A small asyncio HTTP server on 127.0.0.1 answers every request with 2 KiB. Each client
makes the same requests: sequential on a kept-alive connection (the model-gateway
case), sequential with a new connection each time (where the resolve-check-pin step
runs), and 32 at once. Also timed: the address policy's check of one URL against the
cost of httpx parsing it (the URLs repeat, as a model upstream's do: the policy
remembers their parse, not its verdict). Figures are medians of alternating rounds; the ratios are
plain httpx time / outbound client time (1.0 = no cost; the target is at least 0.8).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

from bastion.outbound import AddressPolicy, OutboundClient

BODY = b"x" * 2048
SEQUENTIAL = 500
FRESH = 200
CONCURRENT = 32
CONCURRENT_ROUNDS = 20
ROUNDS = 5
POLICY_URLS = [
    "https://api.openai.com/v1/chat/completions",
    "http://192.168.1.10:11434/api/tags",
    "http://2130706433/",
    "http://[::ffff:127.0.0.1]/",
    "https://example.com/some/long/path?query=1",
]


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(BODY)
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            close = b"connection: close" in request.lower()
            extra = b"Connection: close\r\n" if close else b""
            writer.write(head + extra + b"\r\n" + BODY)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


Get = Callable[[str], Awaitable[object]]


async def _timed(get: Get, url: str, count: int, concurrency: int = 1) -> float:
    """Seconds per request."""
    start = time.perf_counter()
    if concurrency == 1:
        for _ in range(count):
            await get(url)
    else:
        for _ in range(count):
            await asyncio.gather(*(get(url) for _ in range(concurrency)))
        count *= concurrency
    return (time.perf_counter() - start) / count


async def _measure() -> dict[str, float]:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/models"
    policy = AddressPolicy.for_urls([url])
    fresh = {"Connection": "close"}
    plain = httpx.AsyncClient(trust_env=False)
    safe = OutboundClient(policy)

    async def plain_get(target: str, headers: dict[str, str] | None = None) -> object:
        response = await plain.get(target, headers=headers)
        return response.content

    async def safe_get(target: str, headers: dict[str, str] | None = None) -> object:
        return (await safe.request("GET", target, headers=headers)).content

    cases: dict[str, tuple[Get, Get, int, int]] = {
        "keepalive": (plain_get, safe_get, SEQUENTIAL, 1),
        "new_connection": (
            lambda u: plain_get(u, fresh),
            lambda u: safe_get(u, fresh),
            FRESH,
            1,
        ),
        "concurrent32": (plain_get, safe_get, CONCURRENT_ROUNDS, CONCURRENT),
    }
    figures: dict[str, float] = {}
    try:
        await plain_get(url)
        await safe_get(url)
        for name, (baseline, candidate, count, concurrency) in cases.items():
            base_times, safe_times = [], []
            for _ in range(ROUNDS):
                base_times.append(await _timed(baseline, url, count, concurrency))
                safe_times.append(await _timed(candidate, url, count, concurrency))
            base, cost = statistics.median(base_times), statistics.median(safe_times)
            figures[f"{name}_httpx_us"] = base * 1e6
            figures[f"{name}_outbound_us"] = cost * 1e6
            figures[f"{name}_ratio"] = base / cost
    finally:
        await plain.aclose()
        await safe.aclose()
        await asyncio.sleep(0.1)  # let the server's handlers see the clients hang up
        server.close()
        await server.wait_closed()
    return figures


def _policy_figures() -> dict[str, float]:
    policy = AddressPolicy()
    loops = 2000

    def check_all() -> None:
        for url in POLICY_URLS:
            try:
                policy.check_url(url)
            except Exception:  # noqa: S110 (refusals are part of what is timed)
                pass

    def parse_all() -> None:
        for url in POLICY_URLS:
            httpx.URL(url)

    timings = {}
    for name, work in (("parse", parse_all), ("check", check_all)):
        runs = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in range(loops):
                work()
            runs.append((time.perf_counter() - start) / (loops * len(POLICY_URLS)))
        timings[name] = statistics.median(runs)
    return {
        "url_parse_us": timings["parse"] * 1e6,
        "url_check_us": timings["check"] * 1e6,
    }


def main() -> dict[str, float]:
    figures = asyncio.run(_measure())
    figures.update(_policy_figures())
    for case in ("keepalive", "new_connection", "concurrent32"):
        print(
            f"{case:>15}: httpx {figures[f'{case}_httpx_us']:8.1f} us/request, "
            f"outbound client {figures[f'{case}_outbound_us']:8.1f} us/request, "
            f"ratio {figures[f'{case}_ratio']:.2f} (target >= 0.8)"
        )
    print(
        f"URL check: {figures['url_check_us']:.1f} us (httpx.URL parse alone: "
        f"{figures['url_parse_us']:.1f} us)"
    )
    return figures


if __name__ == "__main__":
    main()
