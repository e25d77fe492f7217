"""Signing in, in a real Chromium: office staff by password, operators on the shared tablet by badge or PIN.

The browser's locale is zh-CN, so every page is expected in Simplified Chinese unless the user chose English.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from accounts.roles import Role
from tests.conftest import ROLE_PASSWORD, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

CJK = re.compile(r"[\u4e00-\u9fff]")


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def office_login(page: Page, base_url: str, user: User) -> None:
    """Open the home page, get sent to the login page, and log in with username and password."""
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(ROLE_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(base_url + "/")


def tap_keys(page: Page, digits: str) -> None:
    """Tap the on-screen keypad, as an operator in gloves would."""
    for digit in digits:
        page.locator(f".keypad button[data-key='{digit}']").click()


def test_an_office_user_logs_in_and_sees_the_chinese_home_page(page: Page, live_server, screenshot):
    manager = make_user(Role.PRODUCTION_MANAGER, username="zhang.min", last_name="张", first_name="敏")

    page.goto(live_server.url + "/")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(heading(page)).to_have_text("登录 Loopline")

    page.locator("#id_username").fill(manager.username)
    page.locator("#id_password").fill(ROLE_PASSWORD)
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(heading(page)).to_have_text("欢迎，张敏")
    expect(page.locator(".topbar .who")).to_have_text("张敏 (zhang.min)")
    expect(page.locator(".topnav").get_by_role("link", name="首页")).to_be_visible()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    screenshot("home")


def test_the_language_switch_shows_english_and_remembers_it(page: Page, new_page, live_server):
    manager = make_user(Role.PRODUCTION_MANAGER, username="zhang.min", last_name="张", first_name="敏")
    office_login(page, live_server.url, manager)
    expect(heading(page)).to_have_text("欢迎，张敏")

    # Picked by value: the Chinese page labels it "英语" (Django translates the LANGUAGES names), not "English".
    page.locator(".language-switch button[name=language][value=en]").click()

    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(heading(page)).to_have_text("Welcome, 张敏")
    manager.refresh_from_db()
    assert manager.preferred_language == User.Language.EN

    # The choice follows the user to another device whose browser asks for Chinese.
    other_device = new_page()
    office_login(other_device, live_server.url, manager)
    expect(other_device.locator("html")).to_have_attribute("lang", "en")
    expect(heading(other_device)).to_have_text("Welcome, 张敏")


def test_an_operator_signs_in_by_scanning_a_badge_and_the_next_operator_takes_over(page: Page, live_server, screenshot):
    first = make_user(
        Role.OPERATOR, username="op.wang", employee_number="10001", pin="2468", last_name="王", first_name="伟"
    )
    second = make_user(
        Role.OPERATOR, username="op.li", employee_number="10002", pin="2468", last_name="李", first_name="娜"
    )
    assert first.badge_code

    page.goto(live_server.url + "/accounts/tablet/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(heading(page)).to_have_text("操作员登录")
    expect(page.get_by_role("button", name="刷工牌登录")).to_be_visible()
    screenshot("tablet-login")

    # A USB badge scanner is a keyboard: it types the code into the focused field and presses Enter.
    badge = page.locator("#id_badge-badge_code")
    expect(badge).to_be_focused()
    badge.fill(first.badge_code)
    badge.press("Enter")

    expect(page).to_have_url(live_server.url + "/")
    expect(heading(page)).to_have_text("欢迎，王伟")
    expect(page.locator(".topbar .who")).to_have_text("王伟 (op.wang)")

    # The first operator hands the tablet over: the sign-in page waits for the next one, then opens the floor.
    page.locator(".topbar").get_by_role("button", name="切换操作员").click()
    expect(page).to_have_url(re.compile(r"/accounts/tablet/\?next=%2Ffloor%2F$"))
    expect(heading(page)).to_have_text("操作员登录")
    expect(page.locator(".topbar .who")).to_have_count(0)

    employee_number = page.locator("#id_pin-employee_number")
    pin = page.locator("#id_pin-pin")
    employee_number.click()
    tap_keys(page, second.employee_number)
    expect(employee_number).to_have_value("10002")
    pin.click()
    tap_keys(page, "2468")
    expect(pin).to_have_value("2468")
    page.locator(".keypad button[type=submit]").click()

    expect(page).to_have_url(live_server.url + "/floor/")
    expect(page.locator(".topbar .who")).to_have_text("李娜 (op.li)")


def test_a_wrong_pin_is_refused_on_the_tablet(page: Page, live_server):
    operator = make_user(
        Role.OPERATOR, username="op.wang", employee_number="10001", pin="2468", last_name="王", first_name="伟"
    )

    page.goto(live_server.url + "/accounts/tablet/")
    page.locator("#id_pin-employee_number").click()
    tap_keys(page, "10001")
    page.locator("#id_pin-pin").click()
    tap_keys(page, "1357")
    page.locator(".keypad button[type=submit]").click()

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_have_text(CJK)
    expect(alert).not_to_contain_text("Unknown badge")  # the untranslated English message
    expect(page).to_have_url(live_server.url + "/accounts/tablet/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(heading(page)).to_have_text("操作员登录")
    expect(page.locator("#id_pin-employee_number")).to_have_value("10001")
    expect(page.locator("#id_pin-pin")).to_have_value("")
    expect(page.locator(".topbar .who")).to_have_count(0)
    operator.refresh_from_db()
    assert operator.failed_pin_attempts == 1
