"""The content security policy in a real Chromium: pages, admin and API docs work with no inline script allowed
(the floor page is driven under the same policy in test_floor.py)."""

import re

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from accounts.roles import Role
from tests.conftest import ROLE_PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def watch_csp(page: Page) -> list[str]:
    """Collects what the browser refused under the policy, and script errors, as they happen."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A missing favicon is a failed load too; it is not what this test is about.
        if "Content Security Policy" in message.text or (
            message.type == "error" and "Failed to load resource" not in message.text
        ):
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems


def test_pages_admin_and_api_docs_run_under_the_policy(page: Page, live_server):
    it = make_user(Role.IT_ADMIN, username="wang.li")
    problems = watch_csp(page)

    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(it.username)
    page.locator("#id_password").fill(ROLE_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/")

    page.goto(live_server.url + "/admin/accounts/user/")
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#action-toggle").check()  # the admin's own script ticks every row
    expect(page.locator("input.action-select").first).to_be_checked()
    page.goto(live_server.url + "/admin/accounts/apikey/add/")
    expect(page.locator("#id_name")).to_be_visible()
    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator(".swagger-ui .title")).to_contain_text(re.compile("Loopline API"))

    assert problems == []
