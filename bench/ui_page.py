"""The chat page in Chromium: its weight, and the time from a streamed answer's first
text reaching the page to that text on screen.

Bastion (one uvicorn worker) runs in front of the fake upstream's paced streams (words
0.15 s apart); Debian's Chromium, launched as the browser tests launch it, signs in with
a session cookie.

- *Weight*: the chat page opened in a fresh context (empty cache) until the network is
  idle: the page, its stylesheet and modules, and the API calls it makes at start. Bytes
  transferred (what the network carried: headers and compressed bodies, Chromium's
  ``encodedDataLength``), compressed bodies alone, and uncompressed bodies. Baselines:
  uncompressed against transferred (what compression saves), and the same page opened
  again in that context (the static files come from the cache).
- *First text*: a message sent on the chat page; from the moment the page's reader gets
  the stream's bytes holding the answer's first word to the first animation frame after
  that word is in the DOM (the frame that paints it). Baseline in the same run and the
  same browser: a bare page of the same origin, with no framework, Markdown or
  sanitiser, reading the same stream from the same API and appending its text to one
  element. Rounds alternate between the two; medians are reported.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _gateway_servers import bastion_callers, gateway_environment, serve
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from throughput import ROOT, BenchError

sys.path.insert(0, str(ROOT))
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, PACED

ROUNDS = 15
FIRST_WORD = "Hel"  # the paced stream's first piece of text
VIEWPORT = {"width": 1280, "height": 800}
BARE_PATH = "/bench-bare-reader"

# Runs before any of the page's own scripts: notes when a reader first gets bytes that
# hold the marker, and (once asked to watch an element) when the marker is first in that
# element's text and the animation frame after it.
_TIMING = """
(() => {
  const marker = MARKER;
  const times = (window.__times = {});
  const read = ReadableStreamDefaultReader.prototype.read;
  const decoder = new TextDecoder();
  ReadableStreamDefaultReader.prototype.read = async function () {
    const result = await read.call(this);
    if (!times.bytes && result.value && decoder.decode(result.value).includes(marker)) {
      times.bytes = performance.now();
    }
    return result;
  };
  window.__watch = (element) => {
    const observer = new MutationObserver(() => {
      if (times.dom || !element.textContent.includes(marker)) return;
      times.dom = performance.now();
      observer.disconnect();
      requestAnimationFrame(() => { times.frame = performance.now(); });
    });
    observer.observe(element, { subtree: true, childList: true, characterData: true });
  };
})();
""".replace("MARKER", json.dumps(FIRST_WORD))

# The baseline: the least a page can do with the same stream.
_BARE_PAGE = """<!doctype html><meta charset="utf-8"><title>bare</title><div id="out"></div>
<script>
window.readStream = async (csrf, model) => {
  const out = document.getElementById("out");
  window.__watch(out);
  const response = await fetch("/api/chat/completions", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify({model, stream: true, messages: [{role: "user", content: "Say hello"}]}),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let end;
    while ((end = buffer.indexOf("\\n\\n")) !== -1) {
      const data = buffer.slice(0, end).replace(/^data: /, "");
      buffer = buffer.slice(end + 2);
      if (data === "[DONE]") return;
      const text = JSON.parse(data).choices?.[0]?.delta?.content;
      if (text) out.textContent += text;
    }
  }
};
</script>"""


def _context(browser: Browser, base: str, token: str) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, base_url=base, service_workers="block")
    context.add_cookies([{"name": "token", "value": token, "url": base, "httpOnly": True}])
    context.add_init_script(_TIMING)
    return context


def _weigh(page: Page, *, show: bool = False) -> dict[str, float]:
    """Bytes of every request the chat page makes until the network is idle (with
    ``show``, each request's printed, largest first)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    transferred: dict[str, float] = {}
    cdp.on(
        "Network.loadingFinished",
        lambda event: transferred.__setitem__(event["requestId"], event["encodedDataLength"]),
    )
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto("/", wait_until="networkidle")
    compressed = uncompressed = 0.0
    rows = []
    for response in responses:
        body = response.request.sizes()["responseBodySize"]
        whole = len(response.body())
        compressed += body
        uncompressed += whole
        rows.append((whole, body, response.request.method, response.url.split("/", 3)[-1]))
    cdp.detach()
    for whole, body, method, path in sorted(rows, reverse=True) if show else ():
        print(f"  {_kib(body):>10} of {_kib(whole):>10}  {method} /{path}")
    return {
        "requests": float(len(responses)),
        "transferred": sum(transferred.values()),
        "compressed": compressed,
        "uncompressed": uncompressed,
    }


def _elapsed(page: Page) -> tuple[float, float]:
    """From the first word's bytes to it in the DOM, and to the frame after."""
    page.wait_for_function("() => window.__times.frame !== undefined", timeout=30_000)
    times: dict[str, Any] = page.evaluate("window.__times")
    if "bytes" not in times:
        raise BenchError("the page's reader never got the first word")
    return float(times["dom"] - times["bytes"]), float(times["frame"] - times["bytes"])


def _chat_page_round(context: BrowserContext) -> tuple[float, float]:
    page = context.new_page()
    try:
        page.goto("/", wait_until="networkidle")
        page.get_by_label("Model").select_option(PACED)
        page.evaluate("window.__watch(document.getElementById('messages'))")
        page.get_by_role("textbox", name="Message").fill("Say hello")
        page.get_by_role("textbox", name="Message").press("Enter")
        elapsed = _elapsed(page)
        # The page saves the chat once the stream ends: let it, before the next round.
        page.get_by_role("button", name="Stop").wait_for(state="hidden")
        page.wait_for_load_state("networkidle")
        return elapsed
    finally:
        page.close()


def _bare_page_round(context: BrowserContext, csrf: str) -> tuple[float, float]:
    page = context.new_page()
    try:
        page.goto(BARE_PATH)
        page.evaluate("([csrf, model]) => { window.readStream(csrf, model); }", [csrf, PACED])
        return _elapsed(page)
    finally:
        page.close()


def _kib(size: float) -> str:
    return f"{size / 1024:.1f} KiB"


def main() -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bastion-bench-") as data_dir,
        serve("tests.fake_upstreams:paced_openai_app", dict(os.environ), "--factory") as (up, _),
    ):
        env = gateway_environment(Path(data_dir), up)
        with (
            serve("bastion.app:app_from_env", env, "--factory") as (base, _),
            sync_playwright() as p,
        ):
            browser_headers, _ = bastion_callers(base, (PACED,))
            token = browser_headers["Cookie"].removeprefix("token=")
            csrf = browser_headers["X-CSRF-Token"]
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = _context(browser, base, token)
                cold = _weigh(context.new_page(), show=True)
                warm = _weigh(context.new_page())
                context.close()

                context = _context(browser, base, token)
                # The bare page is this origin's (so the cookie and CSRF checks are the
                # same); it is never Bastion's, only the browser's answer to its URL.
                context.route(
                    f"{base}{BARE_PATH}",
                    lambda route: route.fulfill(content_type="text/html", body=_BARE_PAGE),
                )
                _chat_page_round(context)  # warm-up: caches, connections, JIT
                _bare_page_round(context, csrf)
                chat, bare = [], []
                for _ in range(ROUNDS):
                    chat.append(_chat_page_round(context))
                    bare.append(_bare_page_round(context, csrf))
                context.close()
            finally:
                browser.close()
    chat_dom, chat_ms = (statistics.median(times) for times in zip(*chat, strict=True))
    bare_dom, bare_ms = (statistics.median(times) for times in zip(*bare, strict=True))
    frames = [frame for _, frame in chat], [frame for _, frame in bare]
    print(
        f"chat page, empty cache: {cold['requests']:.0f} requests, "
        f"{_kib(cold['transferred'])} transferred, {_kib(cold['compressed'])} compressed "
        f"bodies, {_kib(cold['uncompressed'])} uncompressed "
        f"(transferred/uncompressed {cold['transferred'] / cold['uncompressed']:.2f})"
    )
    print(
        f"chat page, opened again: {warm['requests']:.0f} requests, "
        f"{_kib(warm['transferred'])} transferred "
        f"(ratio to the empty cache {warm['transferred'] / cold['transferred']:.2f})"
    )
    print(
        f"first word in the DOM after its bytes reached the page, median of {ROUNDS}: "
        f"chat page {chat_dom:.1f} ms, bare reader page {bare_dom:.1f} ms, "
        f"ratio {chat_dom / bare_dom:.2f}"
    )
    print(
        f"first word on screen (the frame after), median of {ROUNDS}: chat page "
        f"{chat_ms:.1f} ms (min {min(frames[0]):.1f}, max {max(frames[0]):.1f}), bare "
        f"reader page {bare_ms:.1f} ms (min {min(frames[1]):.1f}, max {max(frames[1]):.1f}), "
        f"ratio {chat_ms / bare_ms:.2f}"
    )
    return {
        "cold_requests": cold["requests"],
        "cold_transferred_kib": cold["transferred"] / 1024,
        "cold_compressed_kib": cold["compressed"] / 1024,
        "cold_uncompressed_kib": cold["uncompressed"] / 1024,
        "cold_transferred_ratio": cold["transferred"] / cold["uncompressed"],
        "warm_transferred_kib": warm["transferred"] / 1024,
        "warm_vs_cold_ratio": warm["transferred"] / cold["transferred"],
        "first_text_dom_chat_ms": chat_dom,
        "first_text_dom_bare_ms": bare_dom,
        "first_text_dom_ratio": chat_dom / bare_dom,
        "first_text_chat_ms": chat_ms,
        "first_text_bare_ms": bare_ms,
        "first_text_ratio": chat_ms / bare_ms,
    }


if __name__ == "__main__":
    main()
