"""Static assets under one versioned prefix, cached by browsers for a year.

Every file of ``web/static`` is read once at start. The version in the URL
(``/static/<version>/js/api.js``) is a hash of all of them, so the modules' relative
imports stay within one version and any change to any file gives every URL a new name:
a browser never mixes an old module with a new one, and an immutable cache is safe.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.types import Receive, Scope, Send

from bastion.errors import NotFound, render

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
CACHE_FOREVER = b"public, max-age=31536000, immutable"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}
# Below this, compression costs more than it saves.
_GZIP_FROM = 512


@dataclass(frozen=True, slots=True)
class Asset:
    content_type: bytes
    body: bytes
    gzipped: bytes | None


def _content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0]
    return _TYPES.get(path.suffix) or guessed or "application/octet-stream"


class StaticAssets:
    """The files of ``directory`` and the ASGI app that serves them under ``PREFIX``."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        assets: dict[str, Asset] = {}
        digest = hashlib.sha256()
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            name = path.relative_to(directory).as_posix()
            body = path.read_bytes()
            digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
            gzipped = gzip.compress(body, 9, mtime=0) if len(body) >= _GZIP_FROM else None
            if gzipped is not None and len(gzipped) >= len(body):
                gzipped = None
            assets[name] = Asset(_content_type(path).encode(), body, gzipped)
        self.assets = assets
        self.version = digest.hexdigest()[:16]
        self._prefix = f"{PREFIX}{self.version}/"

    def url(self, name: str) -> str:
        """The versioned URL of ``name``; a name that is not a file is a mistake at start."""
        if name not in self.assets:
            raise KeyError(f"no static file {name!r}")
        return self._prefix + name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        asset = None
        if path.startswith(self._prefix) and scope["method"] in ("GET", "HEAD"):
            # Only names read at start: no path from the request ever reaches the disk.
            asset = self.assets.get(path[len(self._prefix) :])
        if asset is None:
            body = render(NotFound())
            headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
            await _answer(send, 404, headers, body, scope["method"])
            return
        body = asset.body
        headers = [
            (b"content-type", asset.content_type),
            (b"cache-control", CACHE_FOREVER),
            (b"vary", b"accept-encoding"),
        ]
        if asset.gzipped is not None and _accepts_gzip(scope):
            body = asset.gzipped
            headers.append((b"content-encoding", b"gzip"))
        await _answer(send, 200, headers, body, scope["method"])


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            codings = (part.split(b";", 1) for part in value.lower().split(b","))
            for coding, *params in codings:
                if coding.strip() == b"gzip":
                    quality = params[0].strip().replace(b" ", b"") if params else b""
                    return quality not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, method: str
) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
