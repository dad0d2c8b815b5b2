"""Untrusted text runs nothing: model output, chat titles, user names and file names.

Every payload, if it ran, would set a ``window.__xss…`` flag, open a dialog or make a
request to a canary on another port of 127.0.0.1. The harness fails the test on any
dialog or CSP violation (a request the sanitiser let through would be one); each test
asserts no flag is set and the canary was never reached, and that text put in as text
reads back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import ECHO, Account
from tests.web_servers import Handler, WebServer, page

# Model output, as Markdown, and what each reads as on screen: raw HTML is shown as the
# text it is, entities as the characters they name, links lose a script or data: target,
# an image is only its alt text.
ANSWER_CORPUS = (
    ("<script>window.__xss_script = 1; alert('script')</script>", None),
    ("<img src=x onerror=\"window.__xss_img = 1; alert('img')\">", None),
    ('<svg onload="window.__xss_svg = 1"><circle r=4 /></svg>', None),
    ("<svg><script>window.__xss_svg_script = 1</script></svg>", None),
    ("[javascript link](javascript:window.__xss_js_link=1)", "javascript link"),
    ("[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data link"),
    ('<a href="&#106;avascript:window.__xss_entity_link=1">entity link</a>', None),
    (
        "&lt;script&gt;window.__xss_entity = 1&lt;/script&gt;",
        "<script>window.__xss_entity = 1</script>",
    ),
    ('<iframe srcdoc="<script>parent.__xss_iframe = 1</script>"></iframe>', None),
    ('<details open ontoggle="window.__xss_toggle = 1">unclosed <b>bold <i>italic', None),
    ('<img src="x" onerror="window.__xss_unclosed = 1"', None),
    ("![canary pixel](CANARY/markdown.png)", "canary pixel"),
    ('<img src="CANARY/raw.png" alt="raw canary">', None),
    ('<a href="CANARY/link" ping="CANARY/ping">plain link</a>', None),
)
LINKS = ("javascript link", "data link")

# Titles and names: shown with textContent, so each must read back exactly as written.
TEXT_CORPUS = (
    "<script>window.__xss_text=1</script>",
    '<img src=x onerror="window.__xss_img_text=1">',
    "<svg onload=window.__xss_svg_text=1>",
    "[link](javascript:window.__xss_js_text=1)",
    "&lt;b&gt;entity&amp;amp; &#60;i&#62;",
    "<b>unclosed <i",
    "![pixel](CANARY/text.png)",
    '"><img src=CANARY/attr.png>',
)

FLAGS = "Object.keys(window).filter((key) => key.startsWith('__xss'))"


def _canary(local_server: Callable[[Handler], WebServer]) -> tuple[WebServer, str]:
    canary = local_server(page(b"canary", "image/png"))
    return canary, canary.origin


def _nothing_ran(page_: Page, canary: WebServer) -> None:
    assert page_.evaluate(FLAGS) == []
    assert canary.connections == 0, canary.requests


# Checked in the page: what the sanitiser left of an answer is inert markup.
_INERT = """(root) => {
  const found = [];
  for (const node of root.querySelectorAll("*")) {
    const tag = node.tagName.toLowerCase();
    if (["script", "iframe", "object", "embed", "svg", "link", "meta", "base", "style",
         "form"].includes(tag)) found.push(tag);
    for (const attribute of node.attributes) {
      const value = attribute.value.trim().toLowerCase();
      if (attribute.name.startsWith("on") || attribute.name === "ping") found.push(
        `${tag} ${attribute.name}`);
      if (["href", "src", "srcdoc"].includes(attribute.name)
          && !(value.startsWith("http:") || value.startsWith("https:")
               || value.startsWith("data:image/")))
        found.push(`${tag} ${attribute.name}=${value}`);
    }
    if (tag === "img") found.push(`img ${node.getAttribute("src")}`);
  }
  return found;
}"""


def test_xss_corpus_as_model_output_runs_nothing(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    local_server: Callable[[Handler], WebServer],
    screenshot: Callable[[Page, str], Path],
) -> None:
    canary, origin = _canary(local_server)
    corpus = [
        (written.replace("CANARY", origin), (shown or written).replace("CANARY", origin))
        for written, shown in ANSWER_CORPUS
    ]
    said = "\n\n".join(f"Payload {n}: {written}" for n, (written, _) in enumerate(corpus))
    shown = [f"Payload {n}: {text}" for n, (_, text) in enumerate(corpus)]
    chat = new_context(account=make_user("Xavier Output")).new_page()
    chat.goto("/")
    chat.get_by_label("Model").select_option(ECHO)
    chat.get_by_role("textbox", name="Message").fill(said)
    chat.get_by_role("button", name="Send").click()
    answer = chat.locator(".message.assistant .content").last
    expect(answer.locator("p").last).to_have_text(shown[-1])
    expect(chat.get_by_role("button", name="Stop")).to_be_hidden()
    chat.wait_for_url("**/c/*")
    # The person's own words are text; the model's the same words, made inert.
    assert chat.locator(".message.user .content").last.text_content() == said
    _answer_is_inert(chat, shown, canary)
    screenshot(chat, "answer")
    # As stored, the answer is drawn again from the database: inert the same way.
    chat.reload()
    _answer_is_inert(chat, shown, canary)

    # The same answer in the shared view, opened by someone else.
    chat.get_by_role("button", name="Share", exact=True).click()
    link = chat.get_by_label("Share link")
    expect(link).to_have_value(re.compile(r"/s/[^/]+$"))
    shared = new_context(account=admin).new_page()
    shared.goto(link.input_value())
    expect(shared.get_by_role("status")).to_have_text("Read-only.")
    answer = shared.locator(".message.assistant .content").last
    assert answer.locator("p").all_text_contents() == shown
    assert answer.evaluate(_INERT) == []
    _nothing_ran(shared, canary)
    assert chat.context.pages == [chat]  # no link opened a window


def _answer_is_inert(chat: Page, shown: list[str], canary: WebServer) -> None:
    answer = chat.locator(".message.assistant .content").last
    expect(answer.locator("p").last).to_have_text(shown[-1])
    assert answer.locator("p").all_text_contents() == shown
    assert answer.evaluate(_INERT) == []
    for name in LINKS:
        link = answer.get_by_text(name, exact=True)
        expect(link).to_be_visible()
        assert link.get_attribute("href") is None
        link.click()
    _nothing_ran(chat, canary)


def test_xss_corpus_as_titles_names_and_file_names_is_shown_as_text(
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    local_server: Callable[[Handler], WebServer],
    screenshot: Callable[[Page, str], Path],
) -> None:
    canary, origin = _canary(local_server)
    texts = [text.replace("CANARY", origin) for text in TEXT_CORPUS]
    people = [make_user(text) for text in texts]
    owner = people[0]
    # A file name is one path component (and a form quotes a '"'): the payloads without.
    file_names = [f"{text}.txt" for text in texts if "/" not in text and '"' not in text]
    files = []
    for name in file_names:
        uploaded = api.post(
            "/api/v1/files/", files={"file": (name, b"hello", "text/plain")}, headers=owner.auth
        )
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["filename"] == name
        files.append({"id": uploaded.json()["id"], "name": name, "type": "file"})
    chat_ids = []
    for title in texts:
        created = api.post(
            "/api/v1/chats/new",
            json={"title": title, "chat": {"messages": [], "files": files}},
            headers=owner.auth,
        )
        assert created.status_code == 200, created.text
        chat_ids.append(created.json()["id"])

    chat = new_context(account=owner).new_page()
    chat.goto(f"/c/{chat_ids[0]}")
    history = chat.get_by_role("list", name="Chats").get_by_role("link")
    expect(history).to_have_count(len(texts))
    assert sorted(history.all_text_contents()) == sorted(texts)
    assert chat.locator(".account-name").text_content() == owner.name
    attached = chat.get_by_role("list", name="Attached files").get_by_role("link")
    assert attached.all_text_contents() == file_names
    assert [attached.nth(n).get_attribute("download") for n in range(len(files))] == file_names
    assert chat.title() == f"{texts[0]} · Bastion"
    _nothing_ran(chat, canary)
    screenshot(chat, "chat")

    users = new_context(account=admin).new_page()
    users.goto("/admin/users")
    for person in people:
        cell = users.locator(f'tr[data-user-id="{person.id}"] td').first
        expect(cell).to_have_text(person.name, use_inner_text=True)
    _nothing_ran(users, canary)
    screenshot(users, "users")

    shared_ids = []
    for chat_id in chat_ids:
        answer = api.post(f"/api/v1/chats/{chat_id}/share", json={}, headers=owner.auth)
        assert answer.status_code == 200, answer.text
        shared_ids.append(answer.json()["share_id"])
    shared = new_context(account=people[1]).new_page()
    for title, share_id in zip(texts, shared_ids, strict=True):
        shared.goto(f"/s/{share_id}")
        expect(shared.get_by_role("status")).to_have_text("This chat has no messages.")
        assert shared.get_by_role("heading", level=1).text_content() == title
        assert shared.locator(".account-name").text_content() == people[1].name
        _nothing_ran(shared, canary)
