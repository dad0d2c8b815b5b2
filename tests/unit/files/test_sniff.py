"""The stored type comes from the bytes; markup that a browser would run is refused."""

from __future__ import annotations

import pytest

from bastion.files.sniff import OCTET_STREAM, TEXT, FileTypeNotAllowed, sniff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"# Notes\n\nPlain *markdown* text, caf\xc3\xa9.\n", TEXT),
        (b"a,b,c\n1,2,3\n", TEXT),
        (b'{"json": true}', TEXT),
        (b"x < y and <b is not a tag", TEXT),
        (b"\x00\x01\x02\x03binary", OCTET_STREAM),
    ],
)
def test_type_is_read_from_the_bytes(head: bytes, expected: str) -> None:
    assert sniff(head, "text/plain") == expected


def test_a_claimed_type_does_not_change_what_is_stored() -> None:
    assert sniff(PNG, "application/pdf") == "image/png"
    assert sniff(b"plain words", "image/png") == TEXT


@pytest.mark.parametrize(
    "head",
    [
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b"  \n<html>",
        b"\xef\xbb\xbf<script>alert(1)</script>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"<?xml version='1.0'?><svg/>",
        b"<!-- comment --><p>",
        b"<IFRAME src=x>",
        b"<a href='javascript:alert(1)'>x</a>",
        "\ufeff<html>".encode("utf-16"),
    ],
)
def test_markup_is_refused_whatever_its_claimed_type(head: bytes) -> None:
    with pytest.raises(FileTypeNotAllowed):
        sniff(head, "text/plain")


@pytest.mark.parametrize("claimed", ["text/html", "image/svg+xml; charset=utf-8", "TEXT/XML"])
def test_markup_types_are_refused_when_claimed(claimed: str) -> None:
    with pytest.raises(FileTypeNotAllowed):
        sniff(b"innocent text", claimed)
