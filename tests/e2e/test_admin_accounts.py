"""The users page's account forms: an account added, an account edited, the primary
admin's protection in words, search and pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import Account, PageProblems, Served, approve, sign_in_token


def _users_page(new_context: Callable[..., BrowserContext], account: Account) -> Page:
    page = new_context(account=account).new_page()
    page.goto("/admin/users")
    expect(page.locator("#users-status")).not_to_have_text(re.compile("^Loading"))
    return page


def _search(page: Page, text: str) -> None:
    page.get_by_role("searchbox", name="Search accounts").fill(text)
    page.get_by_role("button", name="Search", exact=True).click()


def test_an_admin_adds_an_account_that_can_sign_in(
    served: Served,
    api: httpx.Client,
    admin: Account,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = _users_page(new_context, admin)
    page.get_by_text("Add account").click()
    form = page.locator("#add-form")
    form.get_by_label("Name").fill("Nina <i>New</i>")
    form.get_by_label("E-mail").fill("Nina.New@Example.com")
    form.get_by_label("Password").fill("a long enough passphrase")
    form.get_by_label("Role").select_option("user")
    screenshot(page, "admin-users-add")
    form.get_by_role("button", name="Create account").click()
    expect(
        page.get_by_role("status").filter(has_text="The account of Nina <i>New</i> is created.")
    ).to_be_visible()
    assert served.query("SELECT name, role FROM users WHERE email = ?", "nina.new@example.com") == [
        ("Nina <i>New</i>", "user")
    ]
    assert sign_in_token(api, "nina.new@example.com", "a long enough passphrase")
    _search(page, "nina.new")
    expect(page.locator("#users-body tr")).to_have_count(1)
    expect(page.locator("#users-body")).to_contain_text("Nina <i>New</i>")


def test_a_refused_new_account_says_why(
    served: Served,
    admin: Account,
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
) -> None:
    problems.allow(r"status of 400")
    page = _users_page(new_context, admin)
    page.get_by_text("Add account").click()
    form = page.locator("#add-form")
    form.get_by_label("Name").fill("Shorty")
    form.get_by_label("E-mail").fill("shorty@example.com")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Create account").click()
    expect(form.get_by_role("alert")).to_have_text(
        "The password must be at least 8 characters long."
    )
    assert served.query("SELECT id FROM users WHERE email = ?", "shorty@example.com") == []


def test_an_admin_edits_name_email_role_and_password(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = make_user("Ed Editable")
    page = _users_page(new_context, admin)
    _search(page, "editable")  # by a word the new name keeps
    row = page.locator(f'tr[data-user-id="{user.id}"]')
    row.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit Ed Editable")
    expect(dialog.get_by_label("E-mail")).to_have_value(user.email)
    dialog.get_by_label("Name").fill("Edith Editable")
    dialog.get_by_label("E-mail").fill("edith.edited@example.com")
    dialog.get_by_label("Role").select_option("admin")
    dialog.get_by_label("New password").fill("the new passphrase 7")
    screenshot(page, "admin-users-edit")
    with page.expect_response(lambda r: r.url.endswith(f"/api/v1/users/{user.id}/update")) as saved:
        dialog.get_by_role("button", name="Save account").click()
    assert saved.value.ok
    expect(dialog).to_be_hidden()
    expect(row.get_by_role("button", name="Edit")).to_be_focused()
    assert served.query("SELECT name, email, role FROM users WHERE id = ?", user.id) == [
        ("Edith Editable", "edith.edited@example.com", "admin")
    ]
    # The old session ended with the new password; the new password signs in.
    assert api.get("/api/v1/auths/", headers=user.auth).status_code == 401
    assert sign_in_token(api, "edith.edited@example.com", "the new passphrase 7")
    # Put back as a user: other tests count on one admin being the primary one only.
    approve(api, admin, user.id)


def test_the_primary_admins_protection_is_shown_in_words(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    problems: PageProblems,
    screenshot: Callable[[Page, str], Path],
) -> None:
    problems.allow(r"status of 403")
    second = make_user("Sid Second")
    approve(api, admin, second.id, role="admin")
    second = Account(second.email, second.name, second.id, sign_in_token(api, second.email))
    page = _users_page(new_context, second)
    _search(page, admin.email)
    primary = page.locator(f'tr[data-user-id="{admin.id}"]')
    expect(primary).to_contain_text("primary admin")
    expect(primary.get_by_role("combobox")).to_be_disabled()
    for refused in ("Disable", "Delete"):
        expect(primary.get_by_role("button", name=refused)).to_have_count(0)
    primary.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Taken Over")
    dialog.get_by_label("Role").select_option("user")
    dialog.get_by_role("button", name="Save account").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "The primary administrator's account can only be changed by itself."
    )
    screenshot(page, "admin-users-primary")
    assert served.query("SELECT name, role FROM users WHERE id = ?", admin.id) == [
        (admin.name, "admin")
    ]
    approve(api, admin, second.id)


def test_the_search_finds_by_name_and_pages_by_thirty(
    api: httpx.Client, admin: Account, new_context: Callable[..., BrowserContext]
) -> None:
    for n in range(31):
        made = api.post(
            "/api/v1/auths/add",
            json={
                "name": f"Paged Person {n:02}",
                "email": f"paged{n:02}@example.org",
                "password": "paged person passphrase",
                "role": "user",
            },
            headers=admin.auth,
        )
        assert made.status_code == 200, made.text
    page = _users_page(new_context, admin)
    _search(page, "paged person")
    rows = page.locator("#users-body tr")
    expect(rows).to_have_count(30)
    expect(page.locator("#users-page")).to_have_text("1\u201330 of 31")
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    first = set(rows.locator("td:first-child").all_inner_texts())
    page.get_by_role("button", name="Next").click()
    expect(rows).to_have_count(1)
    expect(page.locator("#users-page")).to_have_text("31\u201331 of 31")
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    assert first | {rows.first.locator("td").first.inner_text()} == {
        f"Paged Person {n:02}" for n in range(31)
    }
    _search(page, "nobody has this name")
    expect(page.get_by_role("status").filter(has_text="No account matches")).to_be_visible()
