"""The live Gantt and order progress in a real Chromium: a report posted through the API shows on the open Gantt
without a reload, and order progress reads on a phone."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.roles import ROLE_PERMISSIONS, Role
from orders.models import SalesOrder
from production.models import Item
from tests.conftest import make_user
from tests.dashboards.gantt_builders import factory, first_step, planned_order
from tests.e2e.test_login import office_login
from tests.integrations.builders import make_account, make_order

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """The role groups with their permissions, as the data migrations grant them (flushed between tests)."""
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


def test_a_report_posted_through_the_api_appears_on_the_open_gantt_without_reload(page: Page, live_server, screenshot):
    team_a = factory()["teams"][0]
    leader = make_user(Role.TEAM_LEADER, username="leader.li", team=team_a, last_name="李", first_name="班长")
    work_order = planned_order("WO-E-000001", timezone.now() - timedelta(hours=1))
    step = first_step(work_order)
    office_login(page, live_server.url, leader)

    page.goto(f"{live_server.url}/dashboards/gantt/")
    bar = page.locator(f"#gantt-chart [data-op='{step.code}']")
    expect(bar).to_have_attribute("data-status", "pending")
    page.evaluate("window.__notReloaded = true")
    screenshot("gantt-before")

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    answer = page.request.post(
        f"{live_server.url}/api/v1/report-events/",
        data={"operation_code": step.code, "action": "start", "client_uuid": str(uuid.uuid4())},
        headers={"X-CSRFToken": csrf, "Referer": live_server.url + "/"},
    )
    assert answer.ok, answer.text()

    # The page polls every 5 s; the scan must be on screen within 10 s.
    expect(bar).to_have_attribute("data-status", "running", timeout=10_000)
    expect(bar.locator(".g-actual")).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    screenshot("gantt-after")

    bar.locator(".g-plan").click()
    expect(page).to_have_url(f"{live_server.url}/dashboards/work-orders/{work_order.number}/")
    expect(page.locator("table.wo-events tbody tr")).to_have_count(1)


def test_order_progress_reads_on_a_phone(browser: Browser, live_server):
    hinge = Item.objects.create(code="FG-E2E", name="合页", kind=Item.Kind.FINISHED)
    order = make_order(
        make_account("TB1"),
        lines=[("SKU-E2E", 100, "15.00")],
        items={"SKU-E2E": hinge},
        status=SalesOrder.Status.IN_PRODUCTION,
        promised_date=timezone.localdate() + timedelta(days=3),
    )
    planned_order("WO-E-000002", timezone.now(), order_line=order.lines.get())
    seller = make_user(Role.SALES, username="sales.zhang")
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        office_login(page, live_server.url, seller)
        page.goto(f"{live_server.url}/dashboards/order-progress/?q=SKU-E2E")
        card = page.locator(f"[data-order='{order.number}']")
        expect(card).to_be_visible()
        expect(card.locator("td.po-current")).to_contain_text("下料")
        # Cards, not a wide table: nothing scrolls sideways on a 390 px phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert card.locator("table.po-lines thead").is_hidden()
    finally:
        context.close()


def test_work_centre_rows_show_downtime_and_the_drill_down_lists_it(page: Page, live_server, screenshot):
    from production.floor import downtime_start

    manager = make_user(Role.PRODUCTION_MANAGER, username="pm.wang")
    operator = make_user(Role.OPERATOR, username="op.zhao")
    work_order = planned_order("WO-E-000003", timezone.now() - timedelta(hours=1))
    step = first_step(work_order)
    from tests.dashboards.gantt_builders import press

    press(step, operator, "start", timezone.now() - timedelta(minutes=50))
    downtime_start(
        work_center_code="CY-01",
        reason="mould_damaged",
        operator=operator,
        client_uuid=uuid.uuid4(),
        now=timezone.now() - timedelta(minutes=20),
    )
    office_login(page, live_server.url, manager)

    page.goto(f"{live_server.url}/dashboards/gantt/?group=work_center&zoom=day")
    expect(page.locator("[data-row='CY-01'] [data-downtime='mould_damaged']")).to_have_count(1)
    expect(page.locator(f"[data-row='CY-01'] [data-op='{step.code}']")).to_have_attribute("data-status", "running")
    screenshot("gantt-work-centres")

    page.goto(f"{live_server.url}/dashboards/work-orders/{work_order.number}/")
    expect(page.locator("table.wo-downtime tbody tr")).to_have_count(1)
    screenshot("gantt-work-order")
