"""KPI trends per week and month, each checked against numbers worked out by hand; the page with its charts
and definitions, the Excel export, the API, who may see them and a constant number of queries."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook

from accounts.roles import Role
from dashboards import analytics, svg
from integrations.models import ErpConnection, ErpOutboundLine, SyncRun, WmsShipmentLine
from orders.models import ErpPush, OrderIssue
from production.models import WorkOrder, WorkOrderOperation
from tests.dashboards.analytics_builders import at, operation, work_center
from tests.integrations.builders import make_account, make_order, make_run

pytestmark = pytest.mark.django_db
NOW = at(25, 12)  # Wednesday 25 November 2026, noon; this week began on Monday the 23rd
THIS_WEEK, LAST_WEEK = date(2026, 11, 23), date(2026, 11, 16)
NOVEMBER = date(2026, 11, 1)
Done = WorkOrderOperation.Status.DONE


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def point(kpis, code: str, period: str, start: date) -> analytics.KpiPoint:
    kpi = next(k for k in kpis if k.code == code)
    return next(p for p in kpi.points(period) if p.period_start == start)


def pushed(order, moment) -> None:
    ErpPush.objects.create(order=order, status=ErpPush.Status.DONE, pushed_at=moment)


@pytest.fixture
def orders(db):
    shop = make_account("TB1")
    # Received Monday 10:00, in the ERP at 12:00 (2 h); Tuesday 09:00 → 15:00 (6 h), with two issues;
    # last Friday 10:00 → 11:00 (1 h); one this week still waiting for the ERP, with an issue since resolved.
    monday = make_order(shop, received_at=at(23, 10), status="confirmed", issues=[])
    tuesday = make_order(
        shop,
        received_at=at(24, 9),
        status="confirmed",
        issues=[(OrderIssue.Code.BUYER_NOTE, {"note": "周五前发"}), (OrderIssue.Code.PHONE_INVALID, {})],
    )
    friday = make_order(shop, received_at=at(20, 10), status="confirmed", issues=[])
    waiting = make_order(shop, received_at=at(24, 16), status="confirmed", issues=[(OrderIssue.Code.BUYER_NOTE, {})])
    OrderIssue.objects.filter(order=waiting).update(resolved_at=at(24, 17))
    pushed(monday, at(23, 12))
    pushed(tuesday, at(24, 15))
    pushed(friday, at(20, 11))
    ErpPush.objects.create(order=waiting)
    return shop


def test_order_processing_time_averages_hours_from_receipt_to_the_erp(orders):
    kpis = analytics.kpis(now=NOW)
    assert point(kpis, "order_processing_hours", "week", THIS_WEEK).value == 4.0  # (2 + 6) / 2
    assert point(kpis, "order_processing_hours", "week", LAST_WEEK).value == 1.0
    assert point(kpis, "order_processing_hours", "month", NOVEMBER).value == 3.0  # (2 + 6 + 1) / 3


def test_error_order_rate_counts_each_order_with_any_issue_once(orders):
    kpis = analytics.kpis(now=NOW)
    this_week = point(kpis, "error_order_rate", "week", THIS_WEEK)
    # Three orders this week; the one with two issues and the one whose issue was resolved count once each.
    assert (this_week.numerator, this_week.denominator, this_week.value) == (2, 3, 66.67)
    assert point(kpis, "error_order_rate", "week", LAST_WEEK).value == 0.0
    assert point(kpis, "error_order_rate", "month", NOVEMBER).value == 50.0


def test_a_period_without_data_has_no_value_rather_than_zero(orders):
    kpis = analytics.kpis(now=NOW)
    earlier = point(kpis, "order_processing_hours", "week", THIS_WEEK - timedelta(weeks=3))
    assert earlier.value is None and earlier.denominator == 0
    assert [p.period_start for p in next(k for k in kpis if k.code == "error_order_rate").monthly][-2:] == [
        date(2026, 10, 1),
        NOVEMBER,
    ]


@pytest.fixture
def operations(db):
    center = work_center("K-01")
    kw = {"actual_start": at(16, 8), "op_status": Done}
    # Planned to end this week by now: on time (Mon), late (Tue 13:00 for 12:00), not done (Tue 16:00).
    operation(center, at(23, 8), at(23, 12), actual_end=at(23, 11), labour_minutes=50, good_qty=100, **kw)
    operation(center, at(24, 8), at(24, 12), actual_end=at(24, 13), labour_minutes=30, good_qty=20, **kw)
    operation(center, at(24, 13), at(24, 16))
    # Not counted: planned to end tomorrow; a cancelled work order's.
    operation(center, at(26, 8), at(26, 12))
    operation(center, at(23, 8), at(23, 9), status=WorkOrder.Status.CANCELLED)
    # Last week: on time, 10 labour minutes for 10 good.
    operation(center, at(18, 8), at(18, 12), actual_end=at(18, 12), labour_minutes=10, good_qty=10, **kw)
    # A trial run's labour is left out of labour per unit.
    operation(
        center, at(23, 8), at(23, 9), kind=WorkOrder.Kind.TRIAL, actual_end=at(23, 9),
        labour_minutes=500, good_qty=1, **kw,
    )  # fmt: skip
    return center


def test_plan_achievement_counts_operations_done_by_their_planned_end(operations):
    kpis = analytics.kpis(now=NOW)
    this_week = point(kpis, "plan_achievement_rate", "week", THIS_WEEK)
    # This week: Monday's (on time), Tuesday's late one, Tuesday's unfinished one and the trial run (on time).
    assert (this_week.numerator, this_week.denominator) == (2, 4) and this_week.value == 50.0
    assert point(kpis, "plan_achievement_rate", "week", LAST_WEEK).value == 100.0
    assert point(kpis, "plan_achievement_rate", "month", NOVEMBER).value == 60.0  # 3 of 5


def test_labour_minutes_per_unit_leaves_trial_runs_out(operations):
    kpis = analytics.kpis(now=NOW)
    assert point(kpis, "labour_minutes_per_unit", "week", THIS_WEEK).value == pytest.approx(0.67)  # 80 / 120
    assert point(kpis, "labour_minutes_per_unit", "week", LAST_WEEK).value == 1.0
    assert point(kpis, "labour_minutes_per_unit", "month", NOVEMBER).value == pytest.approx(0.69)  # 90 / 130


def test_sync_success_rate_counts_pulls_but_not_tests_or_skipped_polls(db):
    shop = make_account("JD1", kind="jd")
    for hour, status in [(9, "succeeded"), (10, "succeeded"), (11, "succeeded"), (12, "failed"), (13, "partial")]:
        make_run(shop, status=status, started_at=at(23, hour))
    make_run(shop, status="failed", trigger=SyncRun.Trigger.TEST, started_at=at(23, 14))
    make_run(shop, status="skipped", started_at=at(23, 15))
    make_run(shop, status="succeeded", started_at=at(17, 9))
    kpis = analytics.kpis(now=NOW)
    assert point(kpis, "sync_success_rate", "week", THIS_WEEK).value == 60.0
    assert point(kpis, "sync_success_rate", "week", LAST_WEEK).value == 100.0
    assert point(kpis, "sync_success_rate", "month", NOVEMBER).value == pytest.approx(66.67)


def test_erp_vs_wms_deviation_rate_adds_absolute_differences_over_erp_quantity(db, make_item):
    erp = ErpConnection.objects.create(
        name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="A1", username="loopline"
    )
    hinge, bolt = make_item("FG-HINGE"), make_item("FG-BOLT")
    lines = [
        # Monday: hinge ERP 100 / WMS 90 (10), bolt ERP 50 / WMS 60 (10 the other way: they do not cancel).
        (hinge, date(2026, 11, 23), "100", "90"),
        (bolt, date(2026, 11, 23), "50", "60"),
        # Tuesday: hinge 50 / 50. Last Wednesday: bolt 200 / 180.
        (hinge, date(2026, 11, 24), "50", "50"),
        (bolt, date(2026, 11, 18), "200", "180"),
    ]
    for n, (item, day, erp_qty, wms_qty) in enumerate(lines):
        ErpOutboundLine.objects.create(
            erp_connection=erp, entry_id=f"E{n}", bill_number=f"XSCKD{n}", bill_date=day, item=item, qty=erp_qty
        )
        WmsShipmentLine.objects.create(
            line_id=f"W{n}", shipped_at=at(day.day, 15), ship_date=day, item=item, qty=wms_qty
        )
    kpis = analytics.kpis(now=NOW)
    this_week = point(kpis, "erp_wms_deviation_rate", "week", THIS_WEEK)
    assert (this_week.numerator, this_week.denominator, this_week.value) == (20, 200, 10.0)  # 20 / 200
    assert point(kpis, "erp_wms_deviation_rate", "week", LAST_WEEK).value == 10.0  # 20 / 200
    assert point(kpis, "erp_wms_deviation_rate", "month", NOVEMBER).value == 10.0  # 40 / 400
    assert point(kpis, "erp_wms_deviation_rate", "week", THIS_WEEK - timedelta(weeks=2)).value is None


def test_weeks_start_on_monday_in_shanghai_and_months_on_the_first():
    weeks, months = analytics.kpi_periods(date(2026, 1, 7), weeks=3, months=3)
    assert weeks == [date(2025, 12, 22), date(2025, 12, 29), date(2026, 1, 5)]
    assert months == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)]


def test_a_sunday_night_order_belongs_to_its_week_in_shanghai(db):
    # 23:30 on Sunday the 22nd in Shanghai is 15:30 UTC: still last week, whatever the server's clock zone.
    order = make_order(make_account("TB9"), received_at=at(22, 23, 30), issues=[])
    pushed(order, at(22, 23, 45))
    kpis = analytics.kpis(now=NOW)
    assert point(kpis, "order_processing_hours", "week", LAST_WEEK).value == 0.25
    assert point(kpis, "order_processing_hours", "week", THIS_WEEK).value is None


# --- The page, export and API ----------------------------------------------------------------------------


def test_the_page_draws_a_chart_per_kpi_with_its_definition(client, users, orders):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.FINANCE])
    body = client.get(reverse("analytics:kpis")).content.decode()
    assert body.count('<svg class="chart trend"') == len(analytics.KPI_DEFINITIONS)
    for _code, name, _unit, definition, _better in analytics.KPI_DEFINITIONS:
        assert str(name) in body and f'title="{definition!s}"'.replace("'", "&#x27;") in body
    assert "Per week" in body and "<script" not in body.split("</header>", 1)[1]
    monthly = client.get(reverse("analytics:kpis"), {"period": "month"})
    assert monthly.context["period"] == "month" and len(monthly.context["charts"][0]["points"]) == 12


def test_the_page_is_in_chinese_by_default(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    body = client.get(reverse("analytics:kpis")).content.decode()
    assert "订单处理时长" in body and "计划达成率" in body and "按周" in body


def test_the_export_has_a_typed_row_per_kpi_and_period(client, users, orders):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.IT_ADMIN])
    response = client.get(reverse("analytics:kpis-export"))
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("KPI", "Unit", "Period", "Period start", "Value")
    assert len(rows) == 1 + len(analytics.KPI_DEFINITIONS) * (analytics.KPI_WEEKS + analytics.KPI_MONTHS)
    assert sheet["D2"].number_format == "yyyy-mm-dd" and sheet.freeze_panes == "A2"


def test_the_api_gives_each_kpi_per_week_or_month(client, users, orders):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    weekly = client.get("/api/v1/kpis/").json()
    assert [kpi["code"] for kpi in weekly] == [code for code, *_ in analytics.KPI_DEFINITIONS]
    assert all(kpi["period"] == "week" and len(kpi["points"]) == 12 for kpi in weekly)
    monthly = client.get("/api/v1/kpis/", {"period": "month"}).json()
    assert monthly[0]["points"][-1]["period_start"].endswith("-01")
    assert client.get("/api/v1/kpis/", {"period": "year"}).status_code == 400


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.PRODUCTION_MANAGER, 200),
        (Role.FINANCE, 200),
        (Role.IT_ADMIN, 200),
        (Role.TEAM_LEADER, 403),
        (Role.SALES, 403),
        (Role.OPERATOR, 403),
        (None, 403),
    ],
)
def test_who_may_see_the_kpis(client, users, role, status):
    client.force_login(users[role])
    assert client.get(reverse("analytics:kpis")).status_code == status
    assert client.get(reverse("analytics:kpis-export")).status_code == status
    assert client.get("/api/v1/kpis/").status_code == status


def test_the_page_runs_the_same_queries_whatever_the_data_size_and_reads_the_cache_after(
    client, users, django_assert_max_num_queries, django_assert_num_queries
):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    shop = make_account("TB1")
    center = work_center("K-01")
    for size in (1, 8):
        cache.clear()
        for n in range(size * 5):
            order = make_order(shop, received_at=at(23, 9) - timedelta(days=n), issues=[])
            pushed(order, at(23, 10) - timedelta(days=n))
            make_run(shop, started_at=at(23, 9) - timedelta(days=n))
            operation(center, at(23, 8), at(23, 9), op_status=Done, actual_end=at(23, 9), good_qty=Decimal(5))
        with django_assert_max_num_queries(15):
            assert client.get(reverse("analytics:kpis")).status_code == 200
    # Within the minute the figures come from the cache: only the session, user and permission queries remain.
    with django_assert_max_num_queries(6):
        assert client.get(reverse("analytics:kpis")).status_code == 200


def test_the_trend_chart_has_a_tooltip_per_point_breaks_at_gaps_and_escapes_labels():
    chart = svg.trend_chart([("w1", 10.0), ("w2", None), ("w3", 30.0), ("<b>", 20.0)], unit="%", title="A & B")
    assert chart.count("<circle") == 3 and "<title>w3: 30 %</title>" in chart
    # The missing week splits the line in two instead of dropping to zero.
    assert chart.count("<polyline") == 2
    assert "&lt;b&gt;" in chart and "<b>" not in chart and 'aria-label="A &amp; B"' in chart
