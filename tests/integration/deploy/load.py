"""A bounded mixed load through nginx: people signing in, reading, asking for completions
and signing out, each from a client address of their own (127.0.0.0/8 is all loopback).

Every client runs ``cycles`` times: sign in, ``reads`` authenticated reads, ``completions``
completions, sign out, then one more read with the signed-out token, which must be
refused (``revoked``). The number of requests is fixed by the shape, not by a duration.
Every answer is kept with its start and end on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

EXPECTED = {"signin": 200, "read": 200, "completion": 200, "signout": 200, "revoked": 401}
COMPLETION = {
    "model": "gpt-normal",
    "messages": [{"role": "user", "content": "Say hello"}],
    "stream": False,
}


@dataclass(frozen=True)
class Shape:
    clients: int
    cycles: int
    reads: int
    completions: int

    @property
    def per_cycle(self) -> int:
        return self.reads + self.completions + 3

    @property
    def total(self) -> int:
        return self.clients * self.cycles * self.per_cycle

    def __str__(self) -> str:
        return (
            f"{self.clients} clients x {self.cycles} cycles of (1 sign-in, {self.reads} reads, "
            f"{self.completions} completions, 1 sign-out, 1 read with the signed-out token) "
            f"= {self.total} requests"
        )


@dataclass(frozen=True)
class Answer:
    kind: str
    status: int | None  # None: no HTTP answer at all
    error: str | None
    started: float
    ended: float

    @property
    def expected(self) -> bool:
        return self.status == EXPECTED[self.kind]


@dataclass
class Load:
    url: str
    context: ssl.SSLContext
    emails: list[str]
    sources: list[str]
    shape: Shape
    password: str
    answers: list[Answer] = field(default_factory=list)
    signed_out: list[str] = field(default_factory=list)  # the tokens sign-out revoked
    _waiters: list[tuple[int, asyncio.Event]] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert len(self.emails) == len(self.sources) == self.shape.clients

    async def run(self) -> None:
        await asyncio.gather(
            *(self._client(e, s) for e, s in zip(self.emails, self.sources, strict=True))
        )

    async def reached(self, count: int) -> None:
        """Returns once ``count`` requests have been answered."""
        if len(self.answers) >= count:
            return
        event = asyncio.Event()
        self._waiters.append((count, event))
        await event.wait()

    def statuses(self) -> Counter[tuple[str, int | None]]:
        return Counter((answer.kind, answer.status) for answer in self.answers)

    def unexpected(self) -> list[Answer]:
        return [answer for answer in self.answers if not answer.expected]

    async def _client(self, email: str, source: str) -> None:
        transport = httpx.AsyncHTTPTransport(verify=self.context, local_address=source)
        async with httpx.AsyncClient(base_url=self.url, transport=transport, timeout=60) as client:
            for _ in range(self.shape.cycles):
                signin = await self._call(
                    client,
                    "signin",
                    "POST",
                    "/api/v1/auths/signin",
                    json={"email": email, "password": self.password},
                )
                if signin is None or signin.status_code != 200:
                    continue
                auth = {"Authorization": f"Bearer {signin.json()['token']}"}
                for _ in range(self.shape.reads):
                    await self._call(client, "read", "GET", "/api/v1/auths/", headers=auth)
                for _ in range(self.shape.completions):
                    await self._call(
                        client,
                        "completion",
                        "POST",
                        "/api/chat/completions",
                        json=COMPLETION,
                        headers=auth,
                    )
                signout = await self._call(
                    client, "signout", "POST", "/api/v1/auths/signout", headers=auth
                )
                # Only a sign-out that was answered revoked the token for certain.
                if signout is not None and signout.status_code == 200:
                    self.signed_out.append(auth["Authorization"])
                    await self._call(client, "revoked", "GET", "/api/v1/auths/", headers=auth)

    async def _call(
        self, client: httpx.AsyncClient, kind: str, method: str, path: str, **options: object
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await client.request(method, path, **options)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            self._record(Answer(kind, None, type(exc).__name__, started, time.monotonic()))
            return None
        self._record(Answer(kind, response.status_code, None, started, time.monotonic()))
        return response

    def _record(self, answer: Answer) -> None:
        self.answers.append(answer)
        for count, event in self._waiters:
            if len(self.answers) >= count:
                event.set()
