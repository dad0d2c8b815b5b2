"""What an upload really is, from its first bytes; never from what the client claims.

A file that a browser would render as HTML or SVG (script included) is refused: even
served as an attachment with ``nosniff`` it would be one mistake away from stored XSS.
Only images are served inline; everything else is a download.
See https://mimesniff.spec.whatwg.org/#identifying-a-resource-with-an-unknown-mime-type
"""

from __future__ import annotations

from bastion.errors import BastionError

OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"

# Raster images only: browsers never run script from these.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),  # docx, xlsx, pptx, odt too
    (b"\x1f\x8b", "application/gzip"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
)

# The tags whose presence makes a browser treat unknown content as HTML, plus XML/SVG.
_MARKUP = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<br",
    b"<p",
    b"<!--",
    b"<?xml",
    b"<svg",
    b"<x:",
    b"<html:",
    b"<math",
    b"<object",
    b"<embed",
    b"<img",
    b"<meta",
    b"<link",
    b"<base",
    b"<form",
    b"<template",
)
_TAG_END = frozenset(b" \t\n\r\x0c>/")
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")
_REFUSED_CLAIMS = frozenset(
    {"text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml"}
)


class FileTypeNotAllowed(BastionError):
    status_code = 415
    code = "file_type_not_allowed"
    detail = "This type of file may not be uploaded (HTML, SVG and XML are refused)."


def _looks_like_markup(head: bytes) -> bool:
    text = head
    for bom in _BOMS:
        text = text.removeprefix(bom)
    text = text.lstrip(b" \t\n\r\x0c").lower()
    for tag in _MARKUP:
        if text.startswith(tag):
            rest = text[len(tag) : len(tag) + 1]
            if not rest or rest[0] in _TAG_END or tag in (b"<!--", b"<?xml"):
                return True
    return False


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a multi-byte character.
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def sniff(head: bytes, claimed: str | None = None) -> str:
    """The media type to store for a file starting with ``head``, or refuse it."""
    if claimed and claimed.split(";", 1)[0].strip().lower() in _REFUSED_CLAIMS:
        raise FileTypeNotAllowed
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")
    if _looks_like_markup(head.decode("utf-16", "ignore").encode() if utf16 else head):
        raise FileTypeNotAllowed
    if _is_text(head):
        return TEXT
    return OCTET_STREAM
