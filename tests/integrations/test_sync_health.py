"""The sync health page: each shop's sync state, the run log with filters, its Excel export, test and poll buttons."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import AuditEvent
from accounts.roles import Role
from integrations import tasks
from integrations.models import SyncRun
from integrations.selectors import sync_health
from integrations.simulators import credentials
from integrations.simulators.orderbook import OrderBook
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.taobao import TaobaoSimulator
from tests.integrations.builders import make_account, make_run

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
Run = SyncRun.Status
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)


def en(response) -> str:
    return response.content.decode()


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def shops(db):
    """Two shops with a week of runs: the Taobao one mostly fine, the JD one failing lately."""
    tb = make_account("TB1", name="东莞五金旗舰店")
    jd = make_account("JD1", kind="jd", name="京东五金自营", enabled=False)
    tb.cursor = NOW - timedelta(minutes=5)
    tb.save()
    for hours, status in [(1, Run.SUCCEEDED), (2, Run.SUCCEEDED), (3, Run.PARTIAL), (4, Run.SUCCEEDED)]:
        make_run(tb, status=status, started_at=NOW - timedelta(hours=hours), fetched=10, created=4, updated=1)
    # Neither a connection test, nor a poll skipped for a running one, nor last week's failures count.
    make_run(tb, status=Run.FAILED, trigger=SyncRun.Trigger.TEST, started_at=NOW - timedelta(minutes=30))
    make_run(tb, status=Run.SKIPPED, started_at=NOW - timedelta(minutes=20))
    make_run(tb, status=Run.FAILED, started_at=NOW - timedelta(days=8))
    make_run(
        tb,
        status=Run.PARTIAL,
        started_at=NOW - timedelta(hours=3, minutes=1),
        errors=[
            {"code": "PAGE_GARBLED", "message": "unexpected TOP answer: page 3", "external_id": ""},
            {"code": "PAYLOAD_INVALID", "message": "payment missing", "external_id": "3000000123"},
        ],
    )
    make_run(
        jd,
        status=Run.FAILED,
        started_at=NOW - timedelta(hours=1),
        seconds=2,
        errors=[{"code": "JOS_19", "message": "Invalid access_token", "external_id": ""}],
    )
    return {"tb": tb, "jd": jd}


def test_sync_health_counts_a_weeks_pulls_without_tests_or_skipped_polls(shops):
    rows = {row.account.code: row for row in sync_health(now=NOW)}
    tb, jd = rows["TB1"], rows["JD1"]
    assert (tb.succeeded, tb.runs, tb.success_rate) == (3, 5, 60.0)
    assert (jd.succeeded, jd.runs, jd.success_rate) == (0, 1, 0.0)
    # The last pull is the skipped poll at 09:40; the connection test at 09:30 is shown apart.
    assert tb.last_run.status == Run.SKIPPED and tb.last_test.trigger == SyncRun.Trigger.TEST
    assert [error["code"] for error in tb.last_errors] == ["PAGE_GARBLED", "PAYLOAD_INVALID"]
    assert jd.last_errors[0]["message"] == "Invalid access_token"


def test_a_shop_without_runs_has_no_rate_rather_than_zero(db):
    make_account("SH1", kind="shopify")
    (row,) = sync_health(now=NOW)
    assert row.last_run is None and row.success_rate is None and row.last_errors == []


def test_the_page_shows_each_shops_state(english, users, shops):
    english.force_login(users[Role.IT_ADMIN])
    body = en(english.get(reverse("integrations:sync-health")))
    assert "东莞五金旗舰店" in body and "Taobao / Tmall" in body and "JD" in body
    assert timezone.localtime(shops["tb"].cursor, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") in body
    assert "Invalid access_token" in body and "3000000123" in body
    assert "Test connection" in body and "Poll now" in body
    assert "Export to Excel" in body


def test_the_page_shows_the_success_rate_with_its_counts(english, users, db):
    account = make_account("TB1")
    now = timezone.now()
    for minutes, status in [(10, Run.SUCCEEDED), (20, Run.SUCCEEDED), (30, Run.SUCCEEDED), (40, Run.FAILED)]:
        make_run(account, status=status, started_at=now - timedelta(minutes=minutes))
    english.force_login(users[Role.FINANCE])
    body = en(english.get(reverse("integrations:sync-health")))
    assert "<strong>75 %</strong> (3/4)" in body
    assert "Pull success, 7 days" in body


def test_only_those_who_may_change_shops_see_the_test_and_poll_buttons(english, users, shops):
    english.force_login(users[Role.CUSTOMER_SERVICE])
    body = en(english.get(reverse("integrations:sync-health")))
    assert "东莞五金旗舰店" in body and "Test connection" not in body and "Poll now" not in body


@pytest.mark.parametrize("runs_per_shop", [2, 30])
def test_the_sync_health_selector_reads_any_number_of_shops_and_runs_in_three_queries(
    db, django_assert_max_num_queries, runs_per_shop
):
    for index in range(runs_per_shop // 2):
        account = make_account(f"S{index}")
        for hour in range(runs_per_shop):
            make_run(account, started_at=NOW - timedelta(hours=hour), errors=[{"code": "X", "message": "m"}])
    with django_assert_max_num_queries(3):
        rows = sync_health(now=NOW)
        seen = [(row.account.name, row.last_run.status, row.success_rate, row.last_errors) for row in rows]
    assert len(seen) == runs_per_shop // 2


def test_the_sync_page_costs_the_same_queries_for_few_and_many_runs(client, users):
    client.force_login(users[Role.IT_ADMIN])

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("integrations:sync-health")).status_code == 200
        return len(queries)

    def add_shop(code: str, runs: int) -> None:
        account = make_account(code)
        for minutes in range(runs):
            make_run(account, started_at=timezone.now() - timedelta(minutes=15 * minutes), errors=[{"code": "E"}])

    add_shop("A1", 2)
    few = page_queries()
    for code in ("B1", "C1", "D1"):
        add_shop(code, 40)
    assert page_queries() == few


# --- The run log and its export -----------------------------------------------------------------------------


def runs_listed(client, **params) -> list[int]:
    response = client.get(reverse("integrations:sync-health"), params)
    assert response.status_code == 200
    return [run.pk for run in response.context["page"].object_list]


def test_the_run_log_filters_by_shop_status_and_days_in_shanghai(client, users, db):
    tb, jd = make_account("TB1"), make_account("JD1", kind="jd")
    # 23:30 in Shanghai on the 20th is 15:30 UTC: it belongs to the 20th, and 00:30 on the 21st does not.
    late = make_run(tb, started_at=datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI))
    early = make_run(tb, status=Run.FAILED, started_at=datetime(2026, 11, 21, 0, 30, tzinfo=SHANGHAI))
    other = make_run(jd, started_at=datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI))
    client.force_login(users[Role.FINANCE])
    assert runs_listed(client) == [early.pk, late.pk, other.pk]
    assert runs_listed(client, account=jd.pk) == [other.pk]
    assert runs_listed(client, status=Run.FAILED) == [early.pk]
    assert runs_listed(client, date_from="2026-11-20", date_to="2026-11-20") == [late.pk, other.pk]
    assert runs_listed(client, date_from="2026-11-21") == [early.pk]
    assert runs_listed(client, date_from="not a date", account=jd.pk) == [other.pk]  # a bad date is ignored


def open_export(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].startswith('attachment; filename="sync-runs-')
    return load_workbook(io.BytesIO(response.content)).active


def test_the_excel_export_has_typed_cells_in_shanghai_time_a_frozen_header_and_joined_errors(english, users, db):
    account = make_account("TB1", name="东莞五金旗舰店")
    started = datetime(2026, 11, 20, 23, 30, 5, tzinfo=SHANGHAI)
    make_run(
        account,
        status=Run.PARTIAL,
        started_at=started,
        seconds=12.5,
        pages=3,
        fetched=120,
        created=100,
        updated=15,
        unchanged=5,
        anomalies=7,
        http_calls=4,
        retries=1,
        errors=[
            {"code": "TOP_7", "message": "App Call Limited", "external_id": ""},
            {"code": "PAYLOAD_INVALID", "message": '=HYPERLINK("http://x")', "external_id": "3000000123"},
        ],
    )
    english.force_login(users[Role.FINANCE])
    sheet = open_export(english.get(reverse("integrations:sync-export")))
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["Started at", "Finished at", "Duration (s)", "Shop"]
    assert header[-1] == "Errors" and sheet["A1"].font.b
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 18 and sheet.column_dimensions["S"].width >= 60
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    # A real Excel date holding Shanghai's wall-clock time, not text and not UTC.
    assert row["Started at"].is_date and row["Started at"].value == datetime(2026, 11, 20, 23, 30, 5)
    assert row["Finished at"].value == datetime(2026, 11, 20, 23, 30, 17, 500000)
    assert row["Window start"].value == datetime(2026, 11, 20, 23, 5, 5)
    assert row["Duration (s)"].value == 12.5 and row["Duration (s)"].data_type == "n"
    assert [row[name].value for name in ("Pages", "Fetched", "Created", "Updated", "Unchanged")] == [3, 120, 100, 15, 5]
    assert row["Orders with new issues"].value == 7 and row["HTTP calls"].value == 4 and row["Retries"].value == 1
    assert row["Shop"].value == "东莞五金旗舰店" and row["Status"].value == "Partly failed"
    # A marketplace message is text, never a formula.
    assert row["Errors"].value == 'TOP_7: App Call Limited\nPAYLOAD_INVALID: =HYPERLINK("http://x") (3000000123)'
    assert row["Errors"].data_type == "s"


def test_the_excel_export_holds_the_filtered_runs_only(client, users, db):
    tb, jd = make_account("TB1"), make_account("JD1", kind="jd")
    for hours in range(3):
        make_run(tb, started_at=NOW - timedelta(hours=hours))
    make_run(jd, status=Run.FAILED, started_at=NOW)
    client.force_login(users[Role.IT_ADMIN])
    sheet = open_export(client.get(reverse("integrations:sync-export"), {"account": tb.pk}))
    assert sheet.max_row == 1 + 3
    sheet = open_export(client.get(reverse("integrations:sync-export"), {"status": Run.FAILED}))
    assert sheet.max_row == 2 and sheet["E2"].value == "JD1"


def test_a_run_with_hundreds_of_long_errors_still_fits_in_one_excel_cell(client, users, db):
    errors = [{"code": "PAYLOAD_INVALID", "message": "x" * 500, "external_id": str(n)} for n in range(200)]
    make_run(make_account("TB1"), errors=errors)
    client.force_login(users[Role.IT_ADMIN])
    sheet = open_export(client.get(reverse("integrations:sync-export")))
    assert 30_000 < len(sheet["S2"].value) <= 32_767


# --- Test connection and poll now ---------------------------------------------------------------------------


@pytest.fixture
def taobao():
    """A Taobao simulator; a shop set up with the wrong secret fails its signature check there."""
    now = timezone.now()
    book = OrderBook(start=now - timedelta(days=1), end=now, count=0)
    server, url = start_server(SimulatorApp([TaobaoSimulator(book, credentials.TAOBAO)]))
    yield url
    server.shutdown()


def taobao_shop(url: str, secret: str):
    return make_account(
        "TB1",
        name="东莞五金旗舰店",
        base_url=f"{url}/taobao/router/rest",
        app_key=credentials.TAOBAO["app_key"],
        credentials={"app_secret": secret, "session": credentials.TAOBAO["session"]},
    )


def test_test_connection_says_the_connection_works(english, users, taobao):
    account = taobao_shop(taobao, credentials.TAOBAO["app_secret"])
    english.force_login(users[Role.IT_ADMIN])
    response = english.post(reverse("integrations:account-test", args=[account.pk]), follow=True)
    assert "东莞五金旗舰店: the connection works." in en(response)
    assert SyncRun.objects.get(trigger=SyncRun.Trigger.TEST).status == Run.SUCCEEDED


def test_test_connection_shows_the_marketplaces_precise_error(english, users, taobao):
    account = taobao_shop(taobao, "a-wrong-secret")
    english.force_login(users[Role.IT_ADMIN])
    body = en(english.post(reverse("integrations:account-test", args=[account.pk]), follow=True))
    assert "东莞五金旗舰店: the connection failed: TOP_25" in body and "Invalid signature" in body
    # The failed test is also on the shop's card, as its last connection test and its last error.
    assert SyncRun.objects.get(trigger=SyncRun.Trigger.TEST).errors[0]["code"] == "TOP_25"


def test_test_connection_from_htmx_answers_with_the_result_alone(english, users, taobao):
    account = taobao_shop(taobao, "a-wrong-secret")
    english.force_login(users[Role.IT_ADMIN])
    response = english.post(reverse("integrations:account-test", args=[account.pk]), HTTP_HX_REQUEST="true")
    body = en(response)
    assert response.status_code == 200 and "<html" not in body
    assert 'role="alert"' in body and "TOP_25" in body


def test_poll_now_queues_a_manual_poll_once_the_request_commits(
    client, users, db, monkeypatch, django_capture_on_commit_callbacks
):
    account = make_account("TB1")
    queued = []
    monkeypatch.setattr(tasks.poll_channel, "delay", lambda *args: queued.append(args))
    client.force_login(users[Role.IT_ADMIN])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("integrations:account-poll", args=[account.pk]))
        assert queued == []  # nothing reaches the worker before the commit
    assert response.status_code == 302
    for callback in callbacks:
        callback()
    assert queued == [(account.pk, "manual")]
    poll = AuditEvent.objects.get(verb="channel_account.poll")
    assert (poll.actor, poll.object_id, poll.ip) == (users[Role.IT_ADMIN], str(account.pk), "127.0.0.1")


def test_poll_now_refuses_a_disabled_shop(english, users, db, monkeypatch, django_capture_on_commit_callbacks):
    account = make_account("TB1", enabled=False)
    monkeypatch.setattr(tasks.poll_channel, "delay", lambda *args: pytest.fail("a disabled shop was polled"))
    english.force_login(users[Role.IT_ADMIN])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        body = en(english.post(reverse("integrations:account-poll", args=[account.pk]), follow=True))
    assert callbacks == [] and "is disabled; enable it before polling." in body
