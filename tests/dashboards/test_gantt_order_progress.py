"""Order progress for sales: each line's current operation, % done, projected completion against the promised date,
late risk; search by order number, buyer and SKU; the Excel export; permissions and query counts."""

from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.roles import Role
from dashboards.progress import order_progress_page
from orders.models import SalesOrder
from production.models import Item
from tests.dashboards.gantt_builders import first_step, planned_order, press
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db
PROGRESS = reverse("dashboards:order-progress")


@pytest.fixture
def shop(db):
    return make_account("TB1")


@pytest.fixture
def sales(client, users):
    client.force_login(users[Role.SALES])
    return client


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def order_in_production(shop, external_id: str, *, promised_in_days: int = 5, start=None, buyer="tb_buyer_01"):
    """An order of two lines: the first released (a three-step work order from `start`), the second not yet."""
    hinge = Item.objects.get_or_create(code="FG-合页", defaults={"name": "合页", "kind": Item.Kind.FINISHED})[0]
    order = make_order(
        shop,
        lines=[("SKU-HINGE-4", 100, "15.00"), ("SKU-HANDLE-2", 5, "9.00")],
        items={"SKU-HINGE-4": hinge},
        status=SalesOrder.Status.IN_PRODUCTION,
        external_id=external_id,
        buyer=buyer,
        promised_date=timezone.localdate() + timedelta(days=promised_in_days),
    )
    line = order.lines.get(line_no=1)
    work_order = planned_order(f"WO-P-{external_id[-6:]}", start or timezone.now() - hours(1), order_line=line)
    return order, work_order


def test_each_line_shows_its_current_operation_share_done_and_projection(sales, shop, users):
    now = timezone.now()
    order, work_order = order_in_production(shop, "4000000001", start=now - hours(1))
    press(first_step(work_order), users[Role.OPERATOR], "start", now - hours(1))
    press(first_step(work_order), users[Role.OPERATOR], "report", now - hours(0.5), good_qty="50")

    response = sales.get(PROGRESS)

    assert response.status_code == 200
    [shown] = response.context["page"].orders
    released, unreleased = shown.lines
    assert (released.current_operation, released.current_work_center, released.current_status) == (
        "下料",
        "CY-01",
        "running",
    )
    # Three equal steps, the first half done: one sixth of the standard time.
    assert released.pct_done == Decimal("16.7")
    assert released.projected is not None and released.risk == "on_track"
    assert unreleased.risk == "not_released" and unreleased.pct_done is None
    page = response.content.decode()
    assert f'data-order="{order.number}"' in page and "下料" in page


def test_a_line_projected_after_the_promised_date_is_at_risk_and_past_it_is_late(sales, shop, users):
    now = timezone.now()
    order_in_production(shop, "4000000002", promised_in_days=0, start=now + timedelta(days=2))
    order_in_production(shop, "4000000003", promised_in_days=-1, start=now - hours(1))

    orders = {order.number: order for order in sales.get(PROGRESS).context["page"].orders}

    assert orders["TB1-4000000002"].lines[0].risk == "at_risk"
    assert orders["TB1-4000000002"].risk == "at_risk"
    assert orders["TB1-4000000003"].lines[0].risk == "late"
    assert orders["TB1-4000000003"].risk == "late"


def test_a_finished_line_is_done_at_a_hundred_percent(shop, users):
    now = timezone.now()
    _order, work_order = order_in_production(shop, "4000000004", start=now - hours(8))
    for step in work_order.operations.order_by("sequence"):
        press(step, users[Role.OPERATOR], "start", now - hours(3))
        press(step, users[Role.OPERATOR], "complete", now - hours(2), good_qty="100")

    [order] = order_progress_page().orders

    assert order.lines[0].risk == "done" and order.lines[0].pct_done == 100
    assert order.lines[0].current_operation == ""


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("4000000005", ["TB1-4000000005"]),
        ("alice", ["TB1-4000000006"]),
        ("HANDLE", ["TB1-4000000005", "TB1-4000000006"]),
        ("nothing", []),
    ],
)
def test_it_searches_by_order_number_buyer_and_sku(sales, shop, q, expected):
    order_in_production(shop, "4000000005", buyer="bob_shop")
    order_in_production(shop, "4000000006", buyer="alice_home", promised_in_days=6)

    numbers = [order.number for order in sales.get(PROGRESS, {"q": q}).context["page"].orders]

    assert numbers == expected


def test_orders_still_in_review_are_not_listed(sales, shop):
    make_order(shop, status=SalesOrder.Status.NEEDS_REVIEW, external_id="4000000007")
    assert sales.get(PROGRESS).context["page"].orders == []


def test_the_page_runs_the_same_few_queries_at_two_data_sizes(sales, shop, users):
    def queries_with(count: int, offset: int) -> int:
        for n in range(count):
            _order, work_order = order_in_production(shop, f"{4100000000 + offset + n}")
            press(first_step(work_order), users[Role.OPERATOR], "start", timezone.now())
        with CaptureQueriesContext(connection) as captured:
            assert sales.get(PROGRESS).status_code == 200
        return len(captured)

    small = queries_with(2, 0)
    big = queries_with(30, 1000)
    assert small == big
    assert big <= 15


def test_the_excel_export_has_a_row_per_line_with_typed_cells(sales, shop):
    order_in_production(shop, "4000000008")

    response = sales.get(reverse("dashboards:order-progress-export"))

    assert response.status_code == 200
    sheet = load_workbook(BytesIO(response.content)).active
    _header, first, second = list(sheet.iter_rows(values_only=True))
    assert first[0] == "TB1-4000000008" and first[6] == 1 and second[6] == 2
    assert isinstance(first[5], datetime)  # the promised date, as an Excel date
    assert first[9] == 100 and isinstance(first[12], float | int)
    assert isinstance(first[13], datetime)


PROGRESS_ROLES = {Role.SALES, Role.CUSTOMER_SERVICE, Role.PRODUCTION_MANAGER}


@pytest.mark.parametrize("url", [PROGRESS, reverse("dashboards:order-progress-export")])
@pytest.mark.parametrize("role", [*Role, None])
def test_sales_customer_service_and_the_production_manager_see_order_progress(client, users, role, url):
    client.force_login(users[role])
    assert client.get(url).status_code == (200 if role in PROGRESS_ROLES else 403)


def test_on_a_phone_the_lines_become_labelled_cards(sales, shop):
    order_in_production(shop, "4000000009")
    page = sales.get(PROGRESS).content.decode()
    assert 'name="viewport"' in page
    assert 'data-label="' in page
