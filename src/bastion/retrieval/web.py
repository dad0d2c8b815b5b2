"""Web fetch: a user-given URL fetched through the outbound client, as readable text.

This is the feature SSRF attacks aim at (a user names the URL, the server fetches it),
so every request goes through :class:`OutboundClient` with a policy built from
``ENABLE_LOCAL_WEB_FETCH`` and ``WEB_FETCH_FILTER_LIST``, redirects re-checked hop by hop.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from bastion.config import Settings
from bastion.config.outbound import OutboundSettings
from bastion.outbound import (
    AddressPolicy,
    DomainFilter,
    OutboundClient,
    OutboundTimeouts,
    UpstreamError,
)
from bastion.outbound.policy import LOCAL_NETWORKS

MAX_TEXT_CHARS = 200_000
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object", "head"})
_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    | {"header", "footer", "pre", "blockquote", "table", "ul", "ol", "hr", "title", "main"}
)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextExtractor(HTMLParser):
    """Visible text and the title; script, style and other code never reach the output."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skipping.append(tag)
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED and tag in self._skipping:
            while self._skipping and self._skipping.pop() != tag:
                pass
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """``(title, text)`` of an HTML page, with the stdlib parser.

    The title is one line, as a browser shows it.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return " ".join("".join(extractor.title).split()), _tidy("".join(extractor.parts))


def _client(settings: OutboundSettings) -> OutboundClient:
    filter_list = settings.web_fetch_filter_list
    policy = AddressPolicy(
        allow_networks=LOCAL_NETWORKS if settings.enable_local_web_fetch else (),
        domains=DomainFilter(filter_list) if filter_list else None,
    )
    return OutboundClient(
        policy,
        timeouts=OutboundTimeouts(
            connect=settings.outbound_connect_timeout,
            read=settings.outbound_read_timeout,
            write=settings.outbound_read_timeout,
            pool=settings.outbound_connect_timeout,
            total=settings.outbound_timeout,
        ),
        max_response_bytes=settings.outbound_max_response_size,
        verify_tls=settings.enable_web_loader_ssl_verification,
    )


class WebFetcher:
    def __init__(self, client: OutboundClient, settings: OutboundSettings | None = None) -> None:
        self.client = client
        self._settings = settings
        self._retired: list[OutboundClient] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> WebFetcher:
        return cls(_client(settings.outbound), settings.outbound)

    def reconfigure(self, settings: Settings) -> None:
        """The web-fetch settings of ``settings`` from the next fetch on (changed at run
        time); a fetch under way ends with the client it had, closed with the fetcher."""
        if settings.outbound == self._settings:
            return
        self._retired.append(self.client)
        self.client = _client(settings.outbound)
        self._settings = settings.outbound

    async def aclose(self) -> None:
        for client in (*self._retired, self.client):
            await client.aclose()

    async def fetch(self, url: str) -> dict[str, Any]:
        """The page's readable text; raises the outbound client's errors."""
        response = await self.client.request(
            "GET",
            url,
            headers={"Accept": "text/html, text/plain;q=0.9, */*;q=0.1"},
            follow_redirects=True,
        )
        if not response.is_success:
            raise UpstreamError(f"The page answered with status {response.status_code}.")
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type and not media_type.startswith(_TEXT_TYPES):
            raise UpstreamError("The page is not text or HTML.", code="unsupported_content_type")
        body = _decode(response)
        if media_type in {"text/html", "application/xhtml+xml", ""}:
            title, text = html_to_text(body)
        else:
            title, text = "", _tidy(body)
        return {
            "status": True,
            "url": str(response.request.url),
            "title": title,
            "content": text[:MAX_TEXT_CHARS],
            "truncated": len(text) > MAX_TEXT_CHARS,
        }


def _decode(response: httpx.Response) -> str:
    try:
        return response.content.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name from the page
        return response.content.decode("utf-8", errors="replace")
