"""The administration pages: users, model access, the audit log, the security overview."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import WIDTHS, Account, PageProblems, Served

ADMIN_PAGES = {
    "users": ("/admin/users", "Users"),
    "groups": ("/admin/groups", "Groups"),
    "models": ("/admin/models", "Model access"),
    "audit": ("/admin/audit", "Audit log"),
    "security": ("/admin/security", "Security overview"),
}


def _open(
    new_context: Callable[..., BrowserContext], account: Account, path: str, width: str = "laptop"
) -> Page:
    page = new_context(width=width, account=account).new_page()
    page.goto(path)
    return page


def _user_row(page: Page, account: Account):  # type: ignore[no-untyped-def]
    return page.locator(f'tr[data-user-id="{account.id}"]')


def _confirm(page: Page, expected: str) -> None:
    """Confirm the dialog and wait for the answer to the call it makes, so that the
    database is read after the change, not while it is on its way."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(expected)
    with page.expect_response(
        lambda response: (
            "/api/v1/users/" in response.url and response.request.method in {"POST", "DELETE"}
        )
    ) as answered:
        dialog.locator("#confirm-ok").click()
    assert answered.value.ok
    expect(dialog).to_be_hidden()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(ADMIN_PAGES))
def test_admin_pages_render_without_problems(
    name: str,
    width: str,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    make_user("<script>window.__owned=1</script> Eve")
    path, heading = ADMIN_PAGES[name]
    page = _open(new_context, admin, path, width)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    if name != "security":  # drawn on the server: nothing to load
        expect(page.locator(".status")).not_to_have_text(re.compile("^Loading"))
    assert page.evaluate("window.__owned") is None
    screenshot(page, f"admin-{name}-{width}")


def test_admin_pages_are_refused_to_others(
    served: Served,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
    problems: PageProblems,
) -> None:
    problems.allow(r"status of 403")
    user = make_user("Ursula User")
    page = new_context(account=user).new_page()
    for path, _ in ADMIN_PAGES.values():
        response = page.goto(path)
        assert response is not None and response.status == 403
        assert response.headers["cache-control"] == "no-store"
        expect(page.get_by_role("heading", name="Administrators only")).to_be_visible()
    screenshot(page, "admin-forbidden")
    signed_out = new_context().new_page()
    signed_out.goto("/admin/users")
    signed_out.wait_for_url(re.compile(r"/auth\?next=/admin/users$"))


def test_admin_approves_changes_role_disables_and_enables(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    waiting = make_user("Wes Waiting", approved=False)
    page = _open(new_context, admin, "/admin/users")
    # Other tests' accounts may fill the first page: look this one up.
    page.get_by_role("searchbox", name="Search accounts").fill(waiting.email)
    page.get_by_role("button", name="Search", exact=True).click()
    row = _user_row(page, waiting)
    expect(row).to_contain_text("waiting for approval")
    row.get_by_role("button", name="Approve").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert served.query("SELECT role FROM users WHERE id = ?", waiting.id) == [("pending",)]

    row.get_by_role("button", name="Approve").click()
    _confirm(page, "Approve Wes Waiting?")
    expect(row.get_by_label("Role of Wes Waiting")).to_have_value("user")
    assert served.query("SELECT role FROM users WHERE id = ?", waiting.id) == [("user",)]

    row.get_by_label("Role of Wes Waiting").select_option("admin")
    _confirm(page, "from user to admin")
    expect(row.get_by_label("Role of Wes Waiting")).to_have_value("admin")
    assert served.query("SELECT role FROM users WHERE id = ?", waiting.id) == [("admin",)]

    row.get_by_role("button", name="Disable").click()
    _confirm(page, "Disable Wes Waiting?")
    expect(row).to_contain_text("disabled")
    assert served.query("SELECT is_active FROM users WHERE id = ?", waiting.id) == [(0,)]
    screenshot(page, "admin-users-disabled")
    refused = api.post(
        "/api/v1/auths/signin", json={"email": waiting.email, "password": waiting.password}
    )
    assert refused.status_code == 403

    row.get_by_role("button", name="Enable").click()
    _confirm(page, "Enable Wes Waiting again?")
    expect(row.get_by_role("button", name="Disable")).to_be_visible()
    assert served.query("SELECT is_active FROM users WHERE id = ?", waiting.id) == [(1,)]

    row.get_by_role("button", name="Delete").click()
    _confirm(page, "Delete Wes Waiting")
    expect(row).to_have_count(0)
    assert served.query("SELECT id FROM users WHERE id = ?", waiting.id) == []


def test_model_access_is_saved_for_the_people_ticked(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
) -> None:
    user = make_user("Mo Models")
    page = _open(new_context, admin, "/admin/models")
    card = page.locator("form.model-card").filter(
        has=page.get_by_role("heading", name="gpt-normal", exact=True)
    )
    box = card.get_by_role("checkbox", name=re.compile("Mo Models"))
    expect(box).to_be_checked()  # granted by make_user
    box.uncheck()
    card.get_by_label("Groups").fill("research, ops")
    card.get_by_role("button", name="Save access").click()
    expect(
        page.get_by_role("status").filter(has_text="Access to gpt-normal saved.")
    ).to_be_visible()
    access = api.get("/api/v1/models/gpt-normal/access", headers=admin.auth).json()
    assert user.id not in access["user_ids"]
    assert access["groups"] == ["research", "ops"]
    models = api.get("/api/models", headers=user.auth).json()
    assert "gpt-normal" not in [model["id"] for model in models["data"]]


def test_audit_page_filters_and_opens_an_entry(
    served: Served,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = make_user("Ann Audited")
    assert served.services.audit.flush(30)
    page = _open(new_context, admin, "/admin/audit")
    page.get_by_label("User").select_option(user.id)
    page.get_by_label("Event type").fill("auth.signin")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("#audit-body tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("auth.signin")
    expect(rows.first).to_contain_text("Ann Audited")
    rows.first.get_by_role("button", name="Open").click()
    dialog = page.locator("#entry-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#entry-json")).to_contain_text(f'"user_id": "{user.id}"')
    expect(dialog.locator("#entry-json")).to_contain_text('"outcome": "success"')
    screenshot(page, "admin-audit-entry")
    dialog.get_by_role("button", name="Close").click()

    page.get_by_label("Event type").fill("no.such.type")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No entries match.")).to_be_visible()


def test_security_overview_charts_the_failures_just_caused(
    served: Served,
    api: httpx.Client,
    admin: Account,
    make_user: Callable[..., Account],
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
) -> None:
    def failures() -> int:
        assert served.services.audit.flush(30)
        page = _open(new_context, admin, "/admin/security")
        return int(page.locator("#card-signin_failures .chart-total").inner_text())

    before = failures()
    target = make_user("Fay Failing")
    for _ in range(2):
        wrong = api.post(
            "/api/v1/auths/signin", json={"email": target.email, "password": "not the password"}
        )
        assert wrong.status_code == 400
    assert failures() == before + 2

    page = _open(new_context, admin, "/admin/security")
    chart = page.get_by_role("img", name=re.compile("^Sign-in failures, 24h"))
    expect(chart).to_be_visible()
    bars = chart.locator("rect.chart-bar")
    expect(bars).to_have_count(24)
    assert float(bars.last.get_attribute("height") or 0) > 0
    expect(chart.locator("desc")).to_contain_text(f"{before + 2} in all")
    expect(page.get_by_role("table", name="Top source addresses")).to_contain_text("127.0.0.1")
    expect(page.get_by_role("heading", name="Start-up warnings")).to_be_visible()
    # The served instance has no Redis: the production checks say so, with the fix.
    checks = page.get_by_role("region", name="Configuration checks")
    expect(checks.locator("li", has_text="bastion.W061")).to_contain_text("Fix: set REDIS_URL")
    screenshot(page, "admin-security-failures")

    page.get_by_role("link", name="Last 7 days").click()
    page.wait_for_url(re.compile(r"range=7d$"))
    week = page.get_by_role("img", name=re.compile("^Sign-in failures, 7d"))
    expect(week.locator("rect.chart-bar")).to_have_count(7)
