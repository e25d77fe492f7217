"""The operators' tablet page in a real Chromium: badge sign-in, scan, the big buttons, the number pad, photos and
the offline queue of presses.

Elements are found by their data attributes, not their text: the Chinese labels come from the catalogue.
"""

import json
import os
import re
import uuid
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from accounts.roles import ROLE_PERMISSIONS, Role
from production.floor import report_event_record
from production.models import ReportEvent, WorkOrderOperation
from tests.conftest import make_user
from tests.e2e.conftest import TIMEOUT_MS
from tests.production.floor_builders import make_work_order, steps

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

QUEUE_KEY = "loopline.floor.queue.v1"
BIG = 64  # px: the smallest button a gloved finger hits reliably


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """The role groups and their permissions, as the data migrations grant them.

    transactional_db empties every table after each test, those grants included, and serialized_rollback does
    not reliably bring them back when ordinary database tests ran earlier in the session.
    """
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


def make_operator() -> User:
    return make_user(
        Role.OPERATOR, username="op.wang", employee_number="10001", pin="2468", last_name="王", first_name="伟"
    )


def badge_sign_in(page: Page, base_url: str, operator: User, path: str = "/floor/") -> None:
    """Open the floor page on a tablet nobody is signed in on, and scan the badge the sign-in page asks for."""
    page.goto(base_url + path)
    expect(page).to_have_url(re.compile(r"/accounts/tablet/\?next=/floor/"))
    badge = page.locator("#id_badge-badge_code")
    expect(badge).to_be_focused()
    badge.fill(operator.badge_code)
    badge.press("Enter")
    expect(page).to_have_url(base_url + path)
    expect(page.locator("#floor-operator-name")).to_have_text(operator.get_full_name())


def tap(page: Page, digits: str) -> None:
    for digit in digits:
        page.locator(f"#floor-keypad [data-key='{digit}']").click()


def card(page: Page):
    return page.locator("#floor-card")


def totals(operation: WorkOrderOperation) -> tuple:
    operation.refresh_from_db()
    return operation.status, operation.good_qty, operation.scrap_qty, operation.rework_qty


def press_answer(page: Page, click) -> dict:
    """Click, and return the JSON the press endpoint answered."""
    with page.expect_response(re.compile(r"/floor/press/$")) as response:
        click()
    return response.value.json()


def test_an_operator_scans_starts_reports_and_completes_an_operation(page: Page, live_server, screenshot):
    operator = make_operator()
    first = steps(make_work_order(qty="20"))[0]

    badge_sign_in(page, live_server.url, operator)
    expect(page.locator("#floor-camera")).to_be_hidden()  # headless Chromium on Linux has no BarcodeDetector
    screenshot("floor-empty")

    # A scanner is a keyboard: it types the code into the focused field and presses Enter.
    expect(page.locator("#floor-code")).to_be_focused()
    page.keyboard.type(first.code)
    page.keyboard.press("Enter")

    expect(card(page)).to_have_attribute("data-code", first.code)
    expect(card(page)).to_have_attribute("data-status", "pending")
    expect(page).to_have_url(f"{live_server.url}/floor/?code={first.code}")
    expect(card(page).locator("[data-field=work-order]")).to_have_text("WO-T-0001")
    expect(card(page).locator("[data-field=target]")).to_contain_text("20")
    for action in ("pause", "resume", "report", "complete"):
        expect(card(page).locator(f"[data-action={action}]")).to_be_disabled()
    for action in ("start", "pause", "report", "complete", "downtime", "photo"):
        assert card(page).locator(f"[data-action={action}]").bounding_box()["height"] >= BIG
    screenshot("floor-card")

    answer = press_answer(page, lambda: card(page).locator("[data-action=start]").click())
    assert answer["ok"] and answer["result"]["status"] == "running"
    expect(card(page)).to_have_attribute("data-status", "running")
    expect(page.locator("#floor-message")).to_have_class(re.compile(r"\bok\b"))
    expect(card(page).locator("[data-action=start]")).to_be_disabled()

    # Report: 10 good, then 1 scrap, whose reason must be chosen.
    card(page).locator("[data-action=report]").click()
    panel = page.locator("#panel-qty")
    expect(panel).to_be_visible()
    tap(page, "10")
    panel.locator("input[data-qty=scrap]").click()
    tap(page, "1")
    expect(page.locator("#panel-qty-scrap")).to_be_visible()
    page.locator("#panel-qty-submit").click()  # without a reason for the scrap: told so inside the pad
    expect(page.locator("#panel-qty-error")).to_be_visible()
    expect(panel).to_be_visible()
    screenshot("floor-number-pad")
    panel.locator("[data-scrap-reason=dimension]").click()
    answer = press_answer(page, lambda: page.locator("#panel-qty-submit").click())
    assert answer["result"]["good_qty"] == "10" and answer["result"]["scrap_qty"] == "1"
    expect(panel).to_be_hidden()
    expect(card(page).locator("[data-field=good]")).to_have_text("10")
    expect(card(page).locator("[data-field=scrap]")).to_have_text("1")

    # Complete, with nothing more to report.
    card(page).locator("[data-action=complete]").click()
    expect(panel).to_be_visible()
    answer = press_answer(page, lambda: page.locator("#panel-qty-submit").click())
    assert answer["ok"] is True
    assert {key: answer["result"][key] for key in ("status", "good_qty", "scrap_qty", "rework_qty")} == {
        "status": "done",
        "good_qty": "10",
        "scrap_qty": "1",
        "rework_qty": "0",
    }
    expect(card(page)).to_have_attribute("data-status", "done")
    for action in ("start", "pause", "resume", "report", "complete"):
        expect(card(page).locator(f"[data-action={action}]")).to_be_disabled()
    screenshot("floor-done")

    assert totals(first) == ("done", Decimal(10), Decimal(1), Decimal(0))
    assert list(ReportEvent.objects.filter(operation=first).order_by("at", "id").values_list("action", flat=True)) == [
        "start",
        "report",
        "complete",
    ]
    assert ReportEvent.objects.get(action="report").reason == "dimension"
    assert set(ReportEvent.objects.values_list("operator__username", flat=True)) == {"op.wang"}
    # The same totals, as another system reads them through the API with the operator's session.
    api = page.request.get(f"{live_server.url}/api/v1/work-order-operations/{first.code}/")
    assert api.status == 200, api.text()
    body = api.json()
    assert body["status"] == "done"
    assert Decimal(body["good_qty"]) == 10 and Decimal(body["scrap_qty"]) == 1


def test_a_press_made_offline_waits_on_the_tablet_and_is_sent_once_back_online(page: Page, live_server, screenshot):
    operator = make_operator()
    first = steps(make_work_order())[0]
    report_event_record(operation_code=first.code, operator=operator, action="start", client_uuid=uuid.uuid4())

    badge_sign_in(page, live_server.url, operator, path=f"/floor/?code={first.code}")
    expect(card(page)).to_have_attribute("data-status", "running")
    pending = page.locator("#floor-pending")
    expect(pending).to_be_hidden()

    page.context.set_offline(True)
    card(page).locator("[data-action=report]").click()
    tap(page, "5")
    page.locator("#panel-qty-submit").click()

    expect(pending).to_be_visible()
    expect(pending).to_have_attribute("data-count", "1")
    expect(page.locator("#floor-message")).to_have_class(re.compile(r"\bwait\b"))
    expect(card(page).locator("[data-card-pending]")).to_be_visible()
    screenshot("floor-offline")
    queued = json.loads(page.evaluate(f"localStorage.getItem('{QUEUE_KEY}')"))
    assert [entry["fields"]["good_qty"] for entry in queued] == ["5"]
    press_id = queued[0]["fields"]["client_uuid"]
    assert uuid.UUID(press_id)
    assert totals(first)[1] == 0
    assert not ReportEvent.objects.filter(action="report").exists()

    with page.expect_response(re.compile(r"/floor/press/$")) as response:
        page.context.set_offline(False)
    assert response.value.json()["result"]["good_qty"] == "5"

    expect(pending).to_be_hidden()
    expect(card(page).locator("[data-field=good]")).to_have_text("5")
    expect(page.locator("#floor-message")).to_have_class(re.compile(r"\bok\b"))
    assert totals(first)[1] == Decimal(5)
    assert list(ReportEvent.objects.filter(action="report").values_list("client_uuid", flat=True)) == [
        uuid.UUID(press_id)
    ]

    # Reloading sends nothing again: the queue is empty and no press leaves the page.
    presses = []
    page.on("request", lambda request: presses.append(request.url) if "/floor/press/" in request.url else None)
    page.reload()
    expect(card(page)).to_have_attribute("data-code", first.code)
    expect(pending).to_be_hidden()
    assert page.evaluate(f"localStorage.getItem('{QUEUE_KEY}')") == "[]"
    page.wait_for_timeout(500)
    assert presses == []
    assert totals(first)[1] == Decimal(5)
    assert ReportEvent.objects.filter(action="report").count() == 1


def test_a_photo_taken_on_the_tablet_goes_with_the_next_press(page: Page, live_server):
    operator = make_operator()
    first = steps(make_work_order())[0]
    report_event_record(operation_code=first.code, operator=operator, action="start", client_uuid=uuid.uuid4())
    badge_sign_in(page, live_server.url, operator, path=f"/floor/?code={first.code}")

    picture = BytesIO()
    Image.new("RGB", (2400, 1800), "orange").save(picture, "PNG")
    page.locator("#floor-photo").set_input_files(
        files=[{"name": "mould.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
    )
    expect(page.locator("#floor-photo-preview")).to_be_visible()

    card(page).locator("[data-action=pause]").click()
    answer = press_answer(page, lambda: page.locator("#panel-pause [data-reason=machine]").click())
    assert answer["result"]["status"] == "paused"
    expect(page.locator("#floor-photo-preview")).to_be_hidden()

    event = ReportEvent.objects.get(action="pause")
    assert event.reason == "machine"
    with Image.open(event.photo.path) as stored:
        assert stored.format == "JPEG" and max(stored.size) == 1600  # shrunk on the tablet before sending


def test_a_work_centre_scan_lists_its_operations_and_downtime_is_reported_from_the_card(page: Page, live_server):
    operator = make_operator()
    first = steps(make_work_order())[0]
    badge_sign_in(page, live_server.url, operator)

    page.locator("#floor-code").fill(first.work_center.code.lower())
    page.locator("#floor-code").press("Enter")
    item = page.locator(f"[data-open-code='{first.code}']")
    expect(item).to_be_visible()
    assert item.bounding_box()["height"] >= BIG
    item.click()
    expect(card(page)).to_have_attribute("data-code", first.code)

    card(page).locator("[data-action=downtime]").click()
    with page.expect_response(re.compile(r"/floor/downtime/$")) as response:
        page.locator("#panel-downtime [data-downtime-reason=mould_damaged]").click()
    assert response.value.json()["downtime"]["open"] is True
    expect(card(page)).to_have_attribute("data-down", "1")
    expect(card(page).locator("[data-action=downtime]")).to_be_hidden()

    with page.expect_response(re.compile(r"/floor/downtime/$")) as response:
        card(page).locator("[data-action=downtime-end]").click()
    assert response.value.json()["downtime"]["open"] is False
    expect(card(page)).to_have_attribute("data-down", "")
    downtime = first.work_center.downtimes.get()
    assert downtime.reason == "mould_damaged" and downtime.ended_at is not None


def test_a_refused_report_shows_the_reason_in_red_and_keeps_the_card(page: Page, live_server):
    operator = make_operator()
    first, second, _third = steps(make_work_order())
    for code, action, good in ((first.code, "start", 0), (first.code, "report", 8), (second.code, "start", 0)):
        report_event_record(
            operation_code=code, operator=operator, action=action, client_uuid=uuid.uuid4(), good_qty=good
        )
    badge_sign_in(page, live_server.url, operator, path=f"/floor/?code={second.code}")

    card(page).locator("[data-action=report]").click()
    tap(page, "9")
    answer = press_answer(page, lambda: page.locator("#panel-qty-submit").click())

    assert answer["error"] == {"code": "qty_exceeds_input", "message": answer["message"], "extra": {"max_qty": "8"}}
    message = page.locator("#floor-message")
    expect(message).to_have_class(re.compile(r"\bbad\b"))
    expect(message).to_have_text(answer["message"])
    expect(message).to_contain_text("8")
    expect(page.locator("#floor-pending")).to_be_hidden()  # a refusal is an answer: nothing stays queued
    expect(card(page).locator("[data-field=good]")).to_have_text("0")
    assert totals(second)[1] == 0


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}])
def test_the_card_fits_the_screen_of_a_tablet_and_a_phone(browser: Browser, live_server, viewport):
    operator = make_operator()
    first = steps(make_work_order(kind="trial"))[0]
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        badge_sign_in(page, live_server.url, operator, path=f"/floor/?code={first.code}")
        expect(card(page).locator("[data-field=kind]")).to_be_visible()
        # No sideways scrolling, and every action button is big enough and on screen without scrolling on a tablet.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        for action in ("start", "pause", "report", "complete", "downtime", "photo"):
            box = card(page).locator(f"[data-action={action}]").bounding_box()
            assert box["height"] >= BIG and box["width"] >= 120
            if viewport["width"] >= 1280:
                assert box["y"] + box["height"] <= viewport["height"]
        card(page).locator("[data-action=start]").click()
        expect(card(page)).to_have_attribute("data-status", "running")
        card(page).locator("[data-action=report]").click()
        submit = page.locator("#panel-qty-submit")
        submit.scroll_into_view_if_needed()
        expect(submit).to_be_in_viewport()
        assert page.locator("#floor-keypad [data-key='5']").bounding_box()["height"] >= BIG
        if os.environ.get("LOOPLINE_E2E_SCREENSHOTS"):  # the conftest's convention for keeping screenshots
            folder = Path(os.environ["LOOPLINE_E2E_SCREENSHOTS"])
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"floor-pad-{viewport['width']}.png"))
            page.locator("#panel-qty [data-close]").click()
            page.screenshot(path=str(folder / f"floor-card-{viewport['width']}.png"), full_page=True)
    finally:
        context.close()
