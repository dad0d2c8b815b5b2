"""Web fetch's reading of a page, without a network: only visible text and the title
reach the model; code and markup never do."""

from __future__ import annotations

import httpx
import pytest

from bastion.retrieval.web import _decode, html_to_text

PAGE = b"""<!doctype html><html><head><title>The  Title</title>
<style>body { color: red }</style><script>var secret = 1;</script></head>
<body><h1>Heading</h1><p>First&nbsp;paragraph &amp; more.</p>
<noscript>enable js</noscript><div>Second<br>line</div></body></html>"""


def test_html_is_reduced_to_its_visible_text() -> None:
    title, text = html_to_text(PAGE.decode())
    assert title == "The Title"
    assert text == "Heading\n\nFirst\xa0paragraph & more.\n\nSecond\nline"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<svg><script>alert(1)</script>drawn</svg>after", "after"),
        ("<template><p>hidden</p></template><iframe>frame</iframe>shown", "shown"),
        ("</script>a stray end tag hides nothing", "a stray end tag hides nothing"),
        ("<object><style>x{}</style>inner</object>outer", "outer"),
    ],
)
def test_code_and_embedded_content_never_reach_the_text(html: str, expected: str) -> None:
    assert html_to_text(html) == ("", expected)


def test_the_title_is_kept_apart_from_the_text() -> None:
    title, text = html_to_text("<title>Only\n  here</title><p>Body</p>")
    assert (title, text) == ("Only here", "Body")


def test_blocks_become_lines_and_runs_of_blank_lines_one() -> None:
    html = "<ul><li>one</li><li>two</li></ul>\n\n\n<pre>a\t\tb</pre>"
    assert html_to_text(html)[1] == "one\n\ntwo\n\na b"


def test_a_page_in_its_declared_charset_is_decoded_in_it() -> None:
    response = httpx.Response(
        200,
        content="café".encode("latin-1"),
        headers={"content-type": "text/html; charset=latin-1"},
    )
    assert _decode(response) == "café"


def test_bytes_that_do_not_decode_become_replacement_characters() -> None:
    response = httpx.Response(200, content=b"ok \xff", headers={"content-type": "text/plain"})
    assert _decode(response) == "ok \ufffd"
