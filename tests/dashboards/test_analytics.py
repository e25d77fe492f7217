"""Machine load, downtime Pareto and OEE: figures checked against numbers worked out by hand, the page, its
Excel exports, the API, who may see them and a constant number of queries."""

import io
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook

from accounts.roles import Role
from dashboards import analytics
from production.models import WorkOrder
from production.models.execution import DowntimeReason
from tests.dashboards.analytics_builders import at, downtime, operation, report, work_center, workshop

pytestmark = pytest.mark.django_db
WEEK = analytics.AnalyticsRange(start=date(2026, 11, 23), end=date(2026, 11, 29))
NOW = at(25, 12)  # Wednesday noon


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def factory(users):
    """Work centre A (8 h a day), B (4 h) in workshop JG, C (8 h) in workshop ZP, with a week's plan, stops and
    reports. Every figure the tests check is worked out in their comments."""
    operator = users[Role.OPERATOR]
    jg, zp = workshop("JG", "机加工车间"), workshop("ZP", "装配车间")
    a = work_center("A-CNC", "8", jg)
    b = work_center("B-PRESS", "4", jg)
    c = work_center("C-ASM", "8", zp)
    # A on Monday: 08–12 (4 h), 14–16 of a 14:00→Tue 10:00 job (2 h, then 2 h on Tuesday), 10–13 overlapping (3 h).
    op1 = operation(a, at(23, 8), at(23, 12), std="0.5")
    op2 = operation(a, at(23, 14), at(24, 10), std="1.2")
    operation(a, at(23, 10), at(23, 13))
    # B: 08–12 on Wednesday and on Thursday (4 h each, exactly its capacity); a cancelled order's plan is ignored.
    op4 = operation(b, at(25, 8), at(25, 12), std="1")
    operation(b, at(26, 8), at(26, 12))
    operation(b, at(27, 8), at(27, 12), status=WorkOrder.Status.CANCELLED)
    operation(c, at(24, 8), at(24, 16))
    # Stops: A 09:00–10:30 Mon (90 min, in hours), A 15:00–17:00 Mon (120 min, 60 in hours), B 11:00–11:30 Tue,
    # B from 11:00 Wed still open (60 min by noon), A overnight Sun 23:00 → Mon 00:30 (30 min in the range).
    downtime(a, DowntimeReason.MOULD_DAMAGED, at(23, 9), at(23, 10, 30), operator)
    downtime(a, DowntimeReason.MACHINE_FAULT, at(23, 15), at(23, 17), operator)
    downtime(b, DowntimeReason.MOULD_DAMAGED, at(24, 11), at(24, 11, 30), operator)
    downtime(b, DowntimeReason.MATERIAL_SHORTAGE, at(25, 11), None, operator)
    downtime(a, DowntimeReason.CHANGEOVER, at(22, 23), at(23, 0, 30), operator)
    downtime(c, DowntimeReason.POWER, at(20, 9), at(20, 10), operator)  # the week before: not counted
    # Reports: A 400 good + 20 scrap at 0.5 min and 100 good at 1.2 min; B 300 good at 1 min.
    report(op1, at(23, 11), operator, good="400", scrap="20")
    report(op2, at(24, 9), operator, good="100")
    report(op4, at(25, 10), operator, good="300")
    # A trial run's output does not count towards performance or quality.
    trial = operation(a, None, None, std="1", kind=WorkOrder.Kind.TRIAL)
    report(trial, at(24, 9, 30), operator, good="50", scrap="50")
    return {"a": a, "b": b, "c": c, "jg": jg, "zp": zp}


def by_code(rows):
    return {row.code: row for row in rows}


def test_planned_hours_per_day_count_only_the_working_hours_of_each_day(factory):
    load = analytics.machine_load(period=WEEK)
    rows = by_code(load.rows)
    a_hours = [cell.planned_hours for cell in rows["A-CNC"].cells]
    # Monday 4 + 2 + 3 = 9 h; Tuesday the 2 h left of the overnight job; the night between is not working time.
    assert a_hours == [9, 2, 0, 0, 0, 0, 0]
    assert [cell.planned_hours for cell in rows["B-PRESS"].cells] == [0, 0, 4, 4, 0, 0, 0]
    assert rows["A-CNC"].cells[0].load_pct == 112.5 and rows["A-CNC"].cells[1].load_pct == 25.0


def test_a_day_over_capacity_is_marked_and_exactly_full_is_not(factory):
    rows = by_code(analytics.machine_load(period=WEEK).rows)
    assert [cell.over_capacity for cell in rows["A-CNC"].cells][:2] == [True, False]
    assert rows["B-PRESS"].cells[2].load_pct == 100.0 and not rows["B-PRESS"].cells[2].over_capacity


def test_the_bottleneck_is_the_highest_load_over_the_range(factory):
    load = analytics.machine_load(period=WEEK)
    rows = by_code(load.rows)
    # A: 11 h of 56 = 19.6 %; B: 8 h of 28 = 28.6 %; C: 8 of 56 = 14.3 %. B is the bottleneck over the week
    # although A is the one over capacity on Monday.
    assert (rows["A-CNC"].load_pct, rows["B-PRESS"].load_pct, rows["C-ASM"].load_pct) == (19.6, 28.6, 14.3)
    assert load.bottleneck.code == "B-PRESS"
    assert [row.code for row in load.rows if row.bottleneck] == ["B-PRESS"]


def test_the_workshop_filter_keeps_only_its_work_centres(factory):
    period = analytics.AnalyticsRange(WEEK.start, WEEK.end, workshop_id=factory["zp"].pk)
    load = analytics.machine_load(period=period)
    assert [row.code for row in load.rows] == ["C-ASM"]
    assert load.bottleneck.code == "C-ASM"


def test_the_pareto_sorts_reasons_by_minutes_with_counts_and_cumulative_share(factory):
    rows = analytics.downtime_pareto(period=WEEK, now=NOW)
    # Mould 90 + 30 = 120 min in 2 stops; machine fault 120 in 1 (ties go to the reason stopping more often);
    # material 60 (open, up to noon); changeover 30 (the part after midnight). Total 330 min.
    assert [(r.reason, r.minutes, r.count) for r in rows] == [
        ("mould_damaged", 120, 2),
        ("machine_fault", 120, 1),
        ("material_shortage", 60, 1),
        ("changeover", 30, 1),
    ]
    assert [r.share_pct for r in rows] == [36.4, 36.4, 18.2, 9.1]
    assert [r.cumulative_pct for r in rows] == [36.4, 72.7, 90.9, 100.0]


def test_availability_is_planned_time_less_downtime_inside_working_hours(factory):
    rows = by_code(analytics.oee(period=WEEK, now=NOW))
    a, b = rows["A-CNC"], rows["B-PRESS"]
    # A: Mon 480 + Tue 480 + Wed 08:00–12:00 240 = 1200 min planned; down 90 + 60 (15–16) = 150; 1050 / 1200.
    assert (a.planned_minutes, a.downtime_minutes, a.run_minutes) == (1200, 150, 1050)
    assert a.availability == pytest.approx(0.875) and a.availability_pct == 87.5
    # B: 3 × 240 = 720; down 30 + 60 = 90; 630 / 720.
    assert (b.planned_minutes, b.downtime_minutes) == (720, 90) and b.availability_pct == 87.5


def test_performance_is_standard_minutes_of_good_and_scrap_over_run_time(factory):
    rows = by_code(analytics.oee(period=WEEK, now=NOW))
    # A: 0.5 × (400 + 20) + 1.2 × 100 = 330 standard minutes in 1050 run minutes; the trial run is left out.
    assert rows["A-CNC"].earned_minutes == pytest.approx(330)
    assert rows["A-CNC"].performance == pytest.approx(330 / 1050) and rows["A-CNC"].performance_pct == 31.4
    # B: 1 × 300 in 630.
    assert rows["B-PRESS"].performance_pct == 47.6


def test_quality_is_good_over_good_and_scrap(factory):
    rows = by_code(analytics.oee(period=WEEK, now=NOW))
    assert rows["A-CNC"].quality == pytest.approx(500 / 520) and rows["A-CNC"].quality_pct == 96.2
    assert rows["B-PRESS"].quality_pct == 100.0


def test_oee_is_the_product_of_the_three(factory):
    rows = by_code(analytics.oee(period=WEEK, now=NOW))
    assert rows["A-CNC"].oee == pytest.approx(0.875 * 330 / 1050 * 500 / 520)
    assert rows["A-CNC"].oee_pct == 26.4 and rows["B-PRESS"].oee_pct == 41.7


def test_a_work_centre_without_reports_has_no_quality_and_no_oee(factory):
    row = by_code(analytics.oee(period=WEEK, now=NOW))["C-ASM"]
    assert row.availability_pct == 100.0 and row.performance_pct == 0.0
    assert row.quality is None and row.oee is None


def test_future_days_add_no_planned_time(factory):
    future = analytics.AnalyticsRange(date(2026, 11, 26), date(2026, 11, 29))
    assert {row.planned_minutes for row in analytics.oee(period=future, now=NOW)} == {0}
    assert {row.availability for row in analytics.oee(period=future, now=NOW)} == {None}


# --- The page ---------------------------------------------------------------------------------------------


def load_url(**params) -> str:
    # Monday and Tuesday: wholly in the past whenever the suite runs, so the page's own clock changes nothing.
    query = {"date_from": "2026-11-23", "date_to": "2026-11-24", **params}
    return reverse("analytics:load") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_the_page_shows_load_bottleneck_pareto_oee_and_every_definition(client, users, factory):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    response = client.get(load_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Bottleneck: A-CNC" in body
    assert 'class="num load-cell over"' in body and "113 %" in body
    # Monday–Tuesday: stops of 120 (mould), 120 (machine) and 30 (changeover) minutes.
    assert 'data-reason="mould_damaged"' in body and "88.9 %" in body
    # A: 960 planned, 150 down → 84.4 %; 330 / 810 performance; 500 / 520 quality → OEE 33.1 %. B: 450 / 480.
    assert "84.4 %" in body and "33.1 %" in body and "93.8 %" in body
    for definition in analytics.DEFINITIONS.values():
        assert str(definition).replace("'", "&#x27;") in body
    assert "<svg" in body and "<script" not in body.split("</header>", 1)[1].split("</main>")[0]


def test_the_page_defaults_to_the_current_week(client, users, factory):
    client.force_login(users[Role.TEAM_LEADER])
    response = client.get(reverse("analytics:load"))
    assert response.status_code == 200
    result = response.context["result"]
    assert len(result.load.days) == 7 and result.load.days[0].weekday() == 0


def test_a_reversed_or_too_long_range_is_refused_with_a_message(client, users, factory):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    reversed_range = client.get(load_url(date_from="2026-11-29", date_to="2026-11-23"))
    assert (
        reversed_range.status_code == 400
        and "The end date is before the start date." in reversed_range.content.decode()
    )
    too_long = client.get(load_url(date_from="2026-01-01", date_to="2026-11-23"))
    assert too_long.status_code == 400 and "Choose at most 62 days." in too_long.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.PRODUCTION_MANAGER, 200),
        (Role.TEAM_LEADER, 200),
        (Role.IT_ADMIN, 200),
        (Role.OPERATOR, 403),
        (Role.SALES, 403),
        (Role.FINANCE, 403),
        (Role.CUSTOMER_SERVICE, 403),
        (Role.WAREHOUSE_KEEPER, 403),
        (None, 403),
    ],
)
def test_who_may_see_machine_load(client, users, role, status):
    client.force_login(users[role])
    assert client.get(reverse("analytics:load")).status_code == status
    assert client.get(reverse("analytics:load-export", args=["oee"])).status_code == status
    api = client.get("/api/v1/machine-load/")
    assert api.status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("analytics:load"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert client.get("/api/v1/oee/").status_code == 403


def test_the_page_runs_the_same_queries_whatever_the_data_size(client, users, django_assert_max_num_queries):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    operator = users[Role.OPERATOR]
    for size in (1, 6):
        shop = workshop(f"W{size}")
        for n in range(size * 3):
            center = work_center(f"WC-{size}-{n}", "8", shop)
            for day in range(23, 23 + size):
                op = operation(center, at(day, 8), at(day, 12))
                report(op, at(day, 9), operator, good="5", scrap="1")
                downtime(center, DowntimeReason.OTHER, at(day, 13), at(day, 14), operator)
        # Session, user, permissions, workshops, work centres, operations, downtime, reports, the nav's role check.
        with django_assert_max_num_queries(12):
            response = client.get(load_url(workshop=f"W{size}"))
        assert response.status_code == 200 and len(response.context["result"].load.rows) == size * 3


# --- Excel -------------------------------------------------------------------------------------------------


def sheet_of(response):
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith("attachment;")
    return load_workbook(io.BytesIO(response.content)).worksheets[0]


def test_the_load_table_exports_one_typed_row_per_work_centre_and_day(client, users, factory):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    sheet = sheet_of(client.get(reverse("analytics:load-export", args=["load"]) + "?" + load_url().split("?")[1]))
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == (
        "Date", "Workshop", "Work centre", "Name", "Capacity (h)", "Planned (h)", "Load", "Over capacity"
    )  # fmt: skip
    assert len(rows) == 1 + 3 * 2
    monday_a = next(row for row in rows[1:] if row[2] == "A-CNC")
    assert monday_a[0].date() == date(2026, 11, 23) and monday_a[4:8] == (8, 9, 1.125, True)
    assert sheet["G2"].number_format == "0.0%" and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["D"].width == 22


def test_the_oee_and_pareto_tables_export_with_their_figures(client, users, factory):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.TEAM_LEADER])
    query = "?" + load_url().split("?")[1]
    oee = list(sheet_of(client.get(reverse("analytics:load-export", args=["oee"]) + query)).iter_rows(values_only=True))
    a = next(row for row in oee if row[1] == "A-CNC")
    assert a[3:7] == (960, 150, 810, 330) and a[9] == pytest.approx(0.84375)
    assert a[12] == pytest.approx(0.84375 * 330 / 810 * 500 / 520)
    pareto = list(
        sheet_of(client.get(reverse("analytics:load-export", args=["pareto"]) + query)).iter_rows(values_only=True)
    )
    assert pareto[0] == ("Reason", "Minutes", "Stops", "Share", "Cumulative")
    assert pareto[1][1:3] == (120, 2) and pareto[-1][4] == 1.0


def test_an_unknown_table_is_not_found(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    assert client.get(reverse("analytics:load-export", args=["salaries"])).status_code == 404


# --- API ---------------------------------------------------------------------------------------------------


def test_the_api_gives_load_oee_and_pareto_for_a_range_and_workshop(client, users, factory):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    query = {"date_from": "2026-11-23", "date_to": "2026-11-24", "workshop": "JG"}
    load = client.get("/api/v1/machine-load/", query).json()
    assert [row["code"] for row in load["work_centers"]] == ["A-CNC", "B-PRESS"]
    a = load["work_centers"][0]
    assert a["days"][0] == {
        "day": "2026-11-23", "planned_hours": 9.0, "capacity_hours": 8.0, "load_pct": 112.5, "over_capacity": True
    }  # fmt: skip
    # Over Monday–Tuesday A (11 h of 16) is the bottleneck; B has nothing planned.
    assert load["work_centers"][0]["bottleneck"] is True and load["definition"]
    pareto = client.get("/api/v1/downtime-pareto/", query).json()
    assert pareto[0]["reason"] == "mould_damaged" and pareto[0]["minutes"] == 120.0
    oee = {row["code"]: row for row in client.get("/api/v1/oee/", query).json()}
    assert set(oee) == {"A-CNC", "B-PRESS"}
    assert oee["A-CNC"]["availability_pct"] == 84.4 and oee["A-CNC"]["oee_pct"] == 33.1


def test_the_api_refuses_a_bad_range_with_the_field_named(client, users):
    client.force_login(users[Role.IT_ADMIN])
    response = client.get("/api/v1/oee/", {"date_from": "2026-11-29", "date_to": "2026-11-01"})
    assert response.status_code == 400 and "date_to" in response.json()["fields"]
    unknown = client.get("/api/v1/oee/", {"workshop": "NOPE"})
    assert unknown.status_code == 400 and "workshop" in unknown.json()["fields"]


def test_dates_on_the_week_boundary_belong_to_their_own_day(users):
    center = work_center("D-LATE", "24")
    # A 24-hour work centre works 08:00 to 08:00 the next morning: Sunday night's hours belong to Sunday.
    operation(center, at(29, 20), at(30, 2))
    load = analytics.machine_load(period=WEEK)
    assert [cell.planned_hours for cell in load.rows[0].cells][-1] == 6
    assert WEEK.end_at - WEEK.start_at == timedelta(days=7)


def test_the_home_page_and_navigation_lead_to_the_analytics_pages_of_ones_role(client, users):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.PRODUCTION_MANAGER])
    body = client.get(reverse("home")).content.decode()
    assert (
        body.count(f'href="{reverse("analytics:load")}"') == 2
        and body.count(f'href="{reverse("analytics:kpis")}"') == 2
    )
    client.force_login(users[Role.FINANCE])
    body = client.get(reverse("home")).content.decode()
    assert reverse("analytics:kpis") in body and reverse("analytics:load") not in body
    client.force_login(users[Role.OPERATOR])
    body = client.get(reverse("home")).content.decode()
    assert "/analytics/" not in body
