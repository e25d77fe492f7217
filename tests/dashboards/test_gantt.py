"""The live Gantt: bars per operation with plan and actual, late and at-risk marks, filters, zoom, paging, the 204
answer to a poll while nothing changed, the drill-down, the Excel export, permissions and query counts."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.roles import Role
from dashboards.gantt import (
    FACTORY_TZ,
    GanttFilters,
    gantt_rows,
    gantt_window,
    operation_outlook,
    reads,
    work_order_detail,
)
from production.floor import downtime_start
from production.models import WorkOrder, WorkOrderOperation
from tests.conftest import make_user
from tests.dashboards.gantt_builders import factory, first_step, planned_order, press

pytestmark = pytest.mark.django_db
GANTT = reverse("dashboards:gantt")


@pytest.fixture
def manager(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    return client


@pytest.fixture
def operator(users):
    return users[Role.OPERATOR]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def bars_of(response) -> dict[str, object]:
    return {bar.code: bar for row in response.context["chart"].rows for bar in row.bars}


def test_each_operation_is_a_bar_with_its_plan_and_its_actual_run(manager, operator):
    now = timezone.now()
    work_order = planned_order("WO-G-000001", now - hours(1))
    step = first_step(work_order)
    press(step, operator, "start", now - hours(0.5))

    response = manager.get(GANTT)

    assert response.status_code == 200
    page = response.content.decode()
    codes = [op.code for op in work_order.operations.order_by("sequence")]
    for code in codes:
        assert f'data-op="{code}"' in page
    bars = bars_of(response)
    assert bars[step.code].status == "running"
    assert bars[step.code].planned is not None and bars[step.code].actual is not None
    assert bars[codes[1]].actual is None  # not started: a plan only
    assert reverse("dashboards:work-order", args=[work_order.number]) in page
    assert 'class="g-now"' in page


def test_a_poll_gets_204_while_nothing_changed_and_the_new_chart_after_a_report(manager, operator):
    now = timezone.now()
    work_order = planned_order("WO-G-000002", now - hours(1))
    first = manager.get(GANTT)
    fingerprint = first.context["fingerprint"]

    unchanged = manager.get(GANTT, {"fp": fingerprint}, headers={"HX-Request": "true"})
    assert unchanged.status_code == 204

    press(first_step(work_order), operator, "start", timezone.now())
    changed = manager.get(GANTT, {"fp": fingerprint}, headers={"HX-Request": "true"})

    assert changed.status_code == 200
    assert changed.context["fingerprint"] != fingerprint
    assert "<html" not in changed.content.decode()  # only the chart, swapped in place
    assert bars_of(changed)[first_step(work_order).code].status == "running"


def test_ending_a_downtime_changes_the_fingerprint(manager, operator):
    factory()
    downtime_start(work_center_code="CY-01", reason="machine_fault", operator=operator, client_uuid=_uuid())
    before = manager.get(GANTT).context["fingerprint"]
    from production.floor import downtime_end

    downtime_end(work_center_code="CY-01", operator=operator, client_uuid=_uuid())

    assert manager.get(GANTT).context["fingerprint"] != before


def _uuid():
    import uuid

    return uuid.uuid4()


def _op_row(**fields) -> dict:
    now = fields.pop("now")
    row = {
        "status": "pending",
        "work_order__qty": Decimal(100),
        "good_qty": Decimal(0),
        "scrap_qty": Decimal(0),
        "rework_qty": Decimal(0),
        "labour_minutes": Decimal(0),
        "running_since": None,
        "std_minutes_per_unit": Decimal("1.2"),  # 100 units = 2 h
        "setup_minutes": Decimal(0),
        "planned_start": now + hours(1),
        "planned_end": now + hours(3),
        "actual_start": None,
        "actual_end": None,
        "work_order__due_date": (now + timedelta(days=5)).date(),
        "work_order__planned_end": now + hours(3),
    }
    row.update(fields)
    return row


def test_an_unfinished_operation_past_its_planned_end_is_late():
    now = timezone.now()
    outlook = operation_outlook(_op_row(now=now, planned_start=now - hours(3), planned_end=now - hours(1)), now)
    assert outlook.late and not outlook.at_risk


def test_a_running_operation_slower_than_planned_is_at_risk_and_one_on_pace_is_not():
    now = timezone.now()
    # Planned 2 h for 100; after 1 h of running only 20 done: 4 h more at this rate, past the planned end.
    slow = _op_row(
        now=now,
        status="running",
        planned_start=now - hours(1),
        planned_end=now + hours(1),
        actual_start=now - hours(1),
        running_since=now - hours(1),
        good_qty=Decimal(20),
    )
    on_pace = {**slow, "good_qty": Decimal(60)}

    slow_outlook = operation_outlook(slow, now)
    assert slow_outlook.at_risk and not slow_outlook.late
    assert slow_outlook.projected_end == now + hours(4)
    assert not operation_outlook(on_pace, now).at_risk


def test_an_operation_whose_work_order_is_planned_past_its_due_date_is_at_risk():
    now = timezone.now()
    row = _op_row(
        now=now, work_order__due_date=(now - timedelta(days=1)).date(), work_order__planned_end=now + hours(3)
    )
    assert operation_outlook(row, now).at_risk


def test_a_done_operation_is_neither_late_nor_at_risk():
    now = timezone.now()
    row = _op_row(
        now=now, status="done", planned_end=now - hours(5), actual_start=now - hours(6), actual_end=now - hours(4)
    )
    outlook = operation_outlook(row, now)
    assert not outlook.late and not outlook.at_risk


def test_the_page_marks_a_late_work_order(manager):
    now = timezone.now()
    late = planned_order("WO-G-000003", now - hours(8), hours=2)  # all three steps should be done by now
    planned_order("WO-G-000004", now + hours(1), hours=2)

    response = manager.get(GANTT)

    rows = {row.key: row for row in response.context["chart"].rows}
    assert rows[late.number].late
    assert not rows["WO-G-000004"].late and not rows["WO-G-000004"].at_risk
    assert 'data-row="WO-G-000003"' in response.content.decode()


def test_work_centre_rows_carry_their_operations_and_downtime(manager, operator):
    now = timezone.now()
    planned_order("WO-G-000005", now - hours(1))
    downtime_start(work_center_code="CY-02", reason="mould_damaged", operator=operator, client_uuid=_uuid())

    response = manager.get(GANTT, {"group": "work_center"})

    rows = {row.key: row for row in response.context["chart"].rows}
    assert set(rows) == {"CY-01", "CY-02", "JG-01"}
    assert [bar.work_order for bar in rows["CY-01"].bars] == ["WO-G-000005"]
    assert [stop.reason for stop in rows["CY-02"].downtimes] == ["mould_damaged"]
    assert rows["CY-01"].downtimes == []
    assert 'data-downtime="mould_damaged"' in response.content.decode()


def test_it_filters_by_workshop_category_and_status(manager):
    now = timezone.now()
    planned_order("WO-G-000006", now, category="合页")
    planned_order("WO-G-000007", now, category="拉手")
    done = planned_order("WO-G-000008", now, category="合页")
    WorkOrder.objects.filter(pk=done.pk).update(status=WorkOrder.Status.COMPLETED)

    def numbers(**params):
        return [row.key for row in manager.get(GANTT, params).context["chart"].rows]

    assert sorted(numbers()) == ["WO-G-000006", "WO-G-000007"]
    assert numbers(category="拉手") == ["WO-G-000007"]
    assert sorted(numbers(status="all")) == ["WO-G-000006", "WO-G-000007", "WO-G-000008"]
    assert numbers(status="completed") == ["WO-G-000008"]
    machining = manager.get(GANTT, {"workshop": "JG"}).context["chart"].rows
    assert {bar.work_center for row in machining for bar in row.bars} == {"JG-01"}


def test_a_team_leader_sees_their_team_by_default_and_may_widen_it(client):
    now = timezone.now()
    planned_order("WO-G-000009", now)
    team_a, _team_b = factory()["teams"]
    leader = make_user(Role.TEAM_LEADER, username="leader.a", team=team_a)
    client.force_login(leader)

    mine = client.get(GANTT).context["chart"]
    everyone = client.get(GANTT, {"team": "all"}).context["chart"]

    assert mine.filters.team == team_a.pk
    assert {bar.work_center for row in mine.rows for bar in row.bars} == {"CY-01", "CY-02"}
    assert {bar.work_center for row in everyone.rows for bar in row.bars} == {"CY-01", "CY-02", "JG-01"}


def test_zoom_sets_a_day_a_monday_based_week_or_a_month():
    wednesday = date(2026, 11, 25)
    day = gantt_window(zoom="day", anchor=wednesday)
    week = gantt_window(zoom="week", anchor=wednesday)
    month = gantt_window(zoom="month", anchor=wednesday)
    ranged = gantt_window(zoom="week", anchor=wednesday, start=date(2026, 11, 1), end=date(2026, 11, 3))

    assert (day.start, day.end) == (_local(2026, 11, 25), _local(2026, 11, 26))
    assert (week.start, week.end) == (_local(2026, 11, 23), _local(2026, 11, 30))
    assert (month.start, month.end) == (_local(2026, 11, 1), _local(2026, 12, 1))
    assert (ranged.start, ranged.end) == (_local(2026, 11, 1), _local(2026, 11, 4))


def _local(year, month, day) -> datetime:
    return datetime(year, month, day, tzinfo=FACTORY_TZ)


def test_operations_outside_the_window_are_not_on_the_chart():
    now = timezone.now()
    planned_order("WO-G-000010", now + timedelta(days=40))
    week = gantt_window(zoom="week", anchor=timezone.localdate())
    assert gantt_rows(window=week, filters=GanttFilters()).rows == []


def test_it_pages_fifty_work_orders_at_a_time(manager):
    start = timezone.now()
    for n in range(55):
        planned_order(f"WO-G-{n + 100:06d}", start + timedelta(minutes=n))

    first = manager.get(GANTT).context["chart"]
    second = manager.get(GANTT, {"page": 2}).context["chart"]

    assert (first.count, first.num_pages, len(first.rows), len(second.rows)) == (55, 2, 50, 5)
    assert first.rows[0].key == "WO-G-000100" and second.rows[-1].key == "WO-G-000154"


@pytest.mark.parametrize("group", ["work_order", "work_center"])
def test_the_page_runs_the_same_few_queries_at_two_data_sizes(manager, operator, group):
    def queries_with(count: int, offset: int) -> int:
        now = timezone.now()
        for n in range(count):
            work_order = planned_order(f"WO-Q-{offset + n:06d}", now - hours(1) + timedelta(minutes=n))
            if n % 2 == 0:
                press(first_step(work_order), operator, "start", now - hours(0.5))
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(GANTT, {"group": group}).status_code == 200
        return len(captured)

    small = queries_with(2, 0)
    big = queries_with(40, 1000)
    assert small == big
    assert big <= 15


def test_the_drill_down_shows_operations_events_and_downtime(manager, operator):
    now = timezone.now()
    work_order = planned_order("WO-G-000011", now - hours(2))
    step = first_step(work_order)
    press(step, operator, "start", now - hours(1.5))
    downtime_start(
        work_center_code="CY-01", reason="machine_fault", operator=operator, client_uuid=_uuid(), now=now - hours(1)
    )
    press(step, operator, "report", now - hours(0.5), good_qty="30")

    with CaptureQueriesContext(connection) as captured:
        response = manager.get(reverse("dashboards:work-order", args=[work_order.number]))

    assert response.status_code == 200
    detail = response.context["detail"]
    assert [bar.sequence for bar in detail.bars] == [10, 20, 30]
    assert [(event.action, event.good_qty) for event in detail.events] == [("start", 0), ("report", 30)]
    assert [stop["reason"] for stop in detail.downtimes] == ["machine_fault"]
    assert detail.bars[0].progress == Decimal("30.0")
    assert len(captured) <= 15


def test_an_unknown_work_order_is_404(manager):
    assert manager.get(reverse("dashboards:work-order", args=["WO-NOPE"])).status_code == 404


def test_the_excel_export_has_every_operation_with_typed_cells(manager, operator):
    now = timezone.now()
    work_order = planned_order("WO-G-000012", now - hours(1))
    press(first_step(work_order), operator, "start", now - hours(0.5))
    for n in range(55):  # more than a page: the export is not paged
        planned_order(f"WO-G-{n + 200:06d}", now + timedelta(minutes=n))

    response = manager.get(reverse("dashboards:gantt-export"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 56 * 3
    first = next(row for row in rows[1:] if row[0] == "WO-G-000012" and row[1] == 10)
    assert isinstance(first[5], datetime) and isinstance(first[7], datetime)  # planned and actual start
    assert first[9] == 100 and isinstance(first[12], float | int)
    assert sheet.column_dimensions["A"].width == 18
    assert sheet.freeze_panes == "A2"


PAGES = [
    reverse("dashboards:gantt"),
    reverse("dashboards:gantt-export"),
    reverse("dashboards:work-order", args=["WO-G-000013"]),
]
GANTT_ROLES = {Role.PRODUCTION_MANAGER, Role.TEAM_LEADER, Role.IT_ADMIN}


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("role", [*Role, None])
def test_only_managers_team_leaders_and_it_open_the_gantt_pages(client, users, role, url):
    planned_order("WO-G-000013", timezone.now())
    client.force_login(users[role])
    expected = 200 if role in GANTT_ROLES else 403
    assert client.get(url).status_code == expected


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_dashboard_reads_go_to_the_replica_when_one_is_configured(settings):
    assert reads(WorkOrderOperation).db == "default"
    settings.DATABASES = {**settings.DATABASES, "replica": {**settings.DATABASES["default"]}}
    assert reads(WorkOrderOperation).db == "replica"
    assert reads(WorkOrder).filter(number="x").db == "replica"


def test_the_nav_links_the_gantt_for_those_who_may_see_it(client, users):
    client.force_login(users[Role.TEAM_LEADER])
    assert GANTT in client.get("/").content.decode()
    for role in (Role.OPERATOR, Role.SALES):
        client.force_login(users[role])
        assert GANTT not in client.get("/", follow=True).content.decode()


def test_the_drill_down_of_a_work_order_unknown_to_the_replica_helper_is_none():
    assert work_order_detail("WO-NONE") is None


def test_text_from_master_data_is_escaped_in_the_bars(manager):
    from production.models import Operation

    work_order = planned_order("WO-G-000014", timezone.now())
    Operation.objects.filter(pk=first_step(work_order).operation_id).update(name='<img src=x onerror="alert(1)">')

    page = manager.get(GANTT).content.decode()

    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_the_chart_polls_itself_every_five_seconds_with_its_fingerprint(manager):
    planned_order("WO-G-000015", timezone.now())
    response = manager.get(GANTT, {"zoom": "day"})
    page = response.content.decode()
    assert 'hx-trigger="every 5s"' in page
    assert f"fp={response.context['fingerprint']}" in page and "zoom=day" in page
