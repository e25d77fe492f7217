"""The dashboards' read API: Gantt rows and order progress, with the pages' permissions and query counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from orders.models import SalesOrder
from production.models import Item
from tests.dashboards.gantt_builders import first_step, planned_order, press
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db
GANTT = "/api/v1/dashboards/gantt/"
PROGRESS = "/api/v1/dashboards/order-progress/"


def test_the_gantt_rows_carry_each_operation_with_plan_actual_and_flags(client, users):
    now = timezone.now()
    work_order = planned_order("WO-A-000001", now - timedelta(hours=1))
    press(first_step(work_order), users[Role.OPERATOR], "start", now - timedelta(minutes=30))
    client.force_login(users[Role.PRODUCTION_MANAGER])

    body = client.get(GANTT, {"zoom": "day"}).json()

    assert body["zoom"] == "day" and body["count"] == 1 and body["fingerprint"]
    [row] = body["rows"]
    assert row["key"] == "WO-A-000001" and row["late"] is False
    first = row["operations"][0]
    assert first["status"] == "running" and first["actual_start"] is not None
    assert set(first) >= {"planned_start", "planned_end", "progress", "projected_end", "late", "at_risk"}


def test_work_centre_rows_on_the_api_include_downtime(client, users):
    planned_order("WO-A-000002", timezone.now())
    client.force_login(users[Role.IT_ADMIN])
    body = client.get(GANTT, {"group": "work_center", "workshop": "CY"}).json()
    assert [row["key"] for row in body["rows"]] == ["CY-01", "CY-02"]
    assert all("downtimes" in row for row in body["rows"])


def test_order_progress_on_the_api(client, users):
    hinge = Item.objects.create(code="FG-API", name="合页", kind=Item.Kind.FINISHED)
    order = make_order(
        make_account("TB1"),
        lines=[("SKU-API", 100, "15.00")],
        items={"SKU-API": hinge},
        status=SalesOrder.Status.IN_PRODUCTION,
        promised_date=timezone.localdate() + timedelta(days=5),
    )
    planned_order("WO-A-000003", timezone.now(), order_line=order.lines.get())
    client.force_login(users[Role.CUSTOMER_SERVICE])

    body = client.get(PROGRESS, {"q": "SKU-API"}).json()

    assert body["count"] == 1
    [shown] = body["orders"]
    assert shown["number"] == order.number and shown["risk"] == "on_track"
    assert shown["lines"][0]["current_operation"] == "下料"


@pytest.mark.parametrize("role", [*Role, None])
def test_the_api_keeps_the_pages_permissions(client, users, role):
    client.force_login(users[role])
    gantt = client.get(GANTT).status_code
    progress = client.get(PROGRESS).status_code
    assert gantt == (200 if role in {Role.PRODUCTION_MANAGER, Role.TEAM_LEADER, Role.IT_ADMIN} else 403)
    assert progress == (200 if role in {Role.SALES, Role.CUSTOMER_SERVICE, Role.PRODUCTION_MANAGER} else 403)


def test_anonymous_callers_are_refused(client):
    assert client.get(GANTT).status_code == 403
    assert client.get(PROGRESS).status_code == 403


def test_the_gantt_api_runs_the_same_queries_at_two_sizes(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])

    def queries_with(count: int, offset: int) -> int:
        for n in range(count):
            planned_order(f"WO-A-{offset + n:06d}", timezone.now() + timedelta(minutes=n))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(GANTT).status_code == 200
        return len(captured)

    assert queries_with(2, 100) == queries_with(30, 200) <= 15


def test_the_order_progress_api_runs_the_same_queries_at_two_sizes(client, users, django_assert_max_num_queries):
    client.force_login(users[Role.SALES])
    shop = make_account("TB1")
    hinge = Item.objects.create(code="FG-API", name="合页", kind=Item.Kind.FINISHED)

    def queries_with(count: int, offset: int) -> int:
        for n in range(count):
            order = make_order(
                shop,
                lines=[("SKU-API", 10, "15.00")],
                items={"SKU-API": hinge},
                status=SalesOrder.Status.IN_PRODUCTION,
                external_id=str(5_000_000 + offset + n),
            )
            planned_order(f"WO-A-{offset + n:06d}", timezone.now(), order_line=order.lines.get())
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PROGRESS).status_code == 200
        return len(captured)

    assert queries_with(2, 300) == queries_with(30, 400)
    with django_assert_max_num_queries(15):
        client.get(PROGRESS)
