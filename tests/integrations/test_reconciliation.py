"""Reconciliation: ERP sales outbound against WMS shipments per item-day, the deviation rate, uploads and exports."""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.roles import Role
from integrations import tasks
from integrations.channels.base import HttpTransport
from integrations.erp.k3cloud import marketplace_note, sale_order_model
from integrations.erp.master_data import erp_pull
from integrations.erp.outbox import erp_client
from integrations.models import ErpConnection, ErpOutboundLine, SyncRun, WmsShipmentLine
from integrations.reconciliation import deviation_rate_by_period, item_days
from integrations.simulators.k3_credentials import K3CLOUD
from integrations.simulators.k3cloud import K3CloudSimulator
from integrations.simulators.server import SimulatorApp, start_server
from production.models import Item
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY1, DAY2 = date(2026, 11, 2), date(2026, 11, 3)  # a Monday and the Tuesday after


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # the test cache is this suite's own Redis database


@pytest.fixture
def items(db):
    return {
        code: Item.objects.create(code=code, name=f"物料 {code}", kind=Item.Kind.FINISHED, unit="PCS")
        for code in ("FG-1001", "FG-3001", "FG-2001")
    }


@pytest.fixture
def connection(db):
    erp = ErpConnection(name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1", username="u")
    erp.save()
    return erp


def erp_line(connection, item: Item, day: date, qty: str, entry: str, **fields) -> ErpOutboundLine:
    return ErpOutboundLine.objects.create(
        erp_connection=connection, entry_id=entry, bill_number=f"XSCKD{entry}", bill_date=day, item=item,
        qty=Decimal(qty), **fields,
    )  # fmt: skip


def wms_line(item: Item, day: date, qty: str, line_id: str, **fields) -> WmsShipmentLine:
    return WmsShipmentLine.objects.create(
        line_id=line_id, shipped_at=datetime(day.year, day.month, day.day, 15, tzinfo=SHANGHAI), ship_date=day,
        item=item, qty=Decimal(qty), **fields,
    )  # fmt: skip


@pytest.fixture
def two_days(items, connection):
    """Day 1: FG-1001 ERP 100 / WMS 90, FG-3001 ERP 50 / WMS 60 (two WMS lines); day 2: WMS 5 of FG-1001 only."""
    erp_line(connection, items["FG-1001"], DAY1, "100", "1")
    erp_line(connection, items["FG-3001"], DAY1, "20", "2")
    erp_line(connection, items["FG-3001"], DAY1, "30", "3")
    wms_line(items["FG-1001"], DAY1, "90", "W1")
    wms_line(items["FG-3001"], DAY1, "60", "W2")
    wms_line(items["FG-1001"], DAY2, "5", "W3")


# --- The figures ---------------------------------------------------------------------------------------------


def test_item_days_sum_each_side_and_show_the_difference(two_days):
    rows = [(r.day, r.item_code, r.erp_qty, r.wms_qty, r.difference) for r in item_days(start=DAY1, end=DAY2)]
    assert rows == [
        (DAY1, "FG-1001", Decimal(100), Decimal(90), Decimal(10)),
        (DAY1, "FG-3001", Decimal(50), Decimal(60), Decimal(-10)),
        (DAY2, "FG-1001", Decimal(0), Decimal(5), Decimal(-5)),
    ]


def test_the_deviation_rate_sums_absolute_differences_over_erp_quantity_per_period(two_days):
    days = deviation_rate_by_period(DAY1, date(2026, 11, 4), "day")
    assert [
        (d["period_start"], d["erp_qty"], d["wms_qty"], d["abs_difference"], d["deviation_rate"]) for d in days
    ] == [
        # +10 and −10 do not cancel out: 20 of 150.
        (DAY1, Decimal(150), Decimal(150), Decimal(20), Decimal("0.133333")),
        (DAY2, Decimal(0), Decimal(5), Decimal(5), None),  # nothing in the ERP: no rate
        (date(2026, 11, 4), Decimal(0), Decimal(0), Decimal(0), None),
    ]
    [week] = deviation_rate_by_period(DAY1, DAY2, "week")
    assert (week["period_start"], week["abs_difference"], week["deviation_rate"]) == (DAY1, 25, Decimal("0.166667"))
    [month] = deviation_rate_by_period(DAY1, DAY2, "month")
    assert month["period_start"] == date(2026, 11, 1) and month["deviation_rate"] == Decimal("0.166667")


def test_the_page_shows_the_rate_its_definition_and_the_item_days_behind_it(client, users, two_days):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.FINANCE])
    body = client.get(reverse("integrations:reconciliation"), {"date_from": DAY1, "date_to": DAY2}).content.decode()
    assert "16.67 %" in body and "Σ |ERP outbound qty − WMS shipped qty| ÷ Σ ERP outbound qty" in body
    assert "13.33 %" in body  # day 1 in the trend
    drill = reverse("integrations:reconciliation-item-day")
    assert f"{drill}?day=2026-11-02&amp;item=FG-3001" in body
    detail = client.get(drill, {"day": "2026-11-02", "item": "FG-3001"}).content.decode()
    assert "XSCKD2" in detail and "XSCKD3" in detail and "W2" in detail and "-10" in detail


@pytest.mark.parametrize(
    "role, status",
    [(Role.FINANCE, 200), (Role.IT_ADMIN, 200), (Role.WAREHOUSE_KEEPER, 200), (Role.PRODUCTION_MANAGER, 200),
     (Role.SALES, 403), (Role.OPERATOR, 403), (None, 403)],
)  # fmt: skip
def test_who_reads_the_reconciliation(client, users, role, status):
    client.force_login(users[role])
    assert client.get(reverse("integrations:reconciliation")).status_code == status
    assert client.get("/api/v1/reconciliation/").status_code == status


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("integrations:reconciliation"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_excel_export_has_typed_columns_and_widths(client, users, two_days):
    client.force_login(users[Role.FINANCE])
    response = client.get(
        reverse("integrations:reconciliation-export"), {"date_from": DAY1, "date_to": DAY2, "period": "week"}
    )
    workbook = load_workbook(io.BytesIO(response.content))
    days, trend = workbook.worksheets
    assert [cell.value for cell in days[2]][:2] == [datetime(2026, 11, 2), "FG-1001"]
    assert days["D2"].value == 100 and days["F3"].value == -10 and days.column_dimensions["C"].width == 36
    assert days["A2"].number_format == "yyyy-mm-dd"
    assert trend["E2"].value == pytest.approx(0.166667) and trend["E2"].number_format == "0.00%"


# --- The API -------------------------------------------------------------------------------------------------


def test_the_api_lists_item_days_filtered_and_periods(client, users, two_days):
    client.force_login(users[Role.WAREHOUSE_KEEPER])
    body = client.get("/api/v1/reconciliation/", {"date_from": DAY1, "date_to": DAY2, "differs": "true"}).json()
    assert [(r["day"], r["item"], r["difference"]) for r in body["results"]] == [
        ("2026-11-02", "FG-1001", "10.0000"),
        ("2026-11-02", "FG-3001", "-10.0000"),
        ("2026-11-03", "FG-1001", "-5.0000"),
    ]
    only = client.get("/api/v1/reconciliation/", {"date_from": DAY1, "date_to": DAY2, "item": "FG-3001"}).json()
    assert only["count"] == 1
    periods = client.get("/api/v1/reconciliation/periods/", {"date_from": DAY1, "date_to": DAY2, "period": "week"})
    assert periods.json() == [
        {"period_start": "2026-11-02", "erp_qty": "150.0000", "wms_qty": "155.0000", "abs_difference": "25.0000",
         "deviation_rate": "0.166667"}
    ]  # fmt: skip
    assert client.get("/api/v1/reconciliation/periods/", {"period": "year"}).status_code == 400


def post_lines(client, lines):
    return client.post("/api/v1/wms-shipments/", {"lines": lines}, content_type="application/json")


def test_wms_shipments_are_recorded_once_per_line_id_and_a_correction_updates(client, users, items):
    client.force_login(users[Role.WAREHOUSE_KEEPER])
    lines = [
        {"line_id": "SH-1", "shipped_at": "2026-11-02T15:30:00+08:00", "item": "FG-1001", "qty": "12"},
        {"line_id": "SH-2", "shipped_at": "2026-11-02 23:30", "item": "FG-3001", "qty": 3, "order_number": "TB1-9"},
    ]
    assert post_lines(client, lines).json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert post_lines(client, lines).json() == {"created": 0, "updated": 0, "unchanged": 2}
    lines[0]["qty"] = "11"
    assert post_lines(client, lines).json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert WmsShipmentLine.objects.get(line_id="SH-1").qty == 11
    # 23:30 in Shanghai is that day in Shanghai, whatever the server's clock.
    assert WmsShipmentLine.objects.get(line_id="SH-2").ship_date == DAY1


def test_invalid_wms_lines_are_all_reported_and_nothing_is_written(client, users, items):
    client.force_login(users[Role.FINANCE])
    response = post_lines(
        client,
        [
            {"line_id": "SH-1", "shipped_at": "2026-11-02T15:30:00+08:00", "item": "FG-1001", "qty": "12"},
            {"line_id": "SH-2", "shipped_at": "2026-11-02", "item": "NOPE-1", "qty": "1"},
            {"line_id": "SH-3", "shipped_at": "2026-11-02", "item": "FG-1001", "qty": "-4"},
            {"line_id": "SH-4", "shipped_at": "2026-02-30", "item": "FG-1001", "qty": "1"},
        ],
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid_rows"
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(2, "item"), (3, "qty"), (4, "shipped_at")]
    assert not WmsShipmentLine.objects.exists()


def test_only_finance_it_and_warehouse_keepers_send_wms_shipments(client, users, items):
    line = [{"line_id": "SH-1", "shipped_at": "2026-11-02", "item": "FG-1001", "qty": "1"}]
    client.force_login(users[Role.PRODUCTION_MANAGER])
    assert post_lines(client, line).status_code == 403
    client.force_login(users[Role.IT_ADMIN])
    assert post_lines(client, line).status_code == 201


# --- Upload --------------------------------------------------------------------------------------------------


def xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_csv_upload_records_the_shipments(client, users, items):
    client.force_login(users[Role.WAREHOUSE_KEEPER])
    text = "发货行号,发货时间,物料编码,数量\nSH-1,2026-11-02 10:00,FG-1001,7\nSH-2,2026/11/02,FG-2001,3.5\n"
    upload = SimpleUploadedFile("wms.csv", text.encode("utf-8-sig"), content_type="text/csv")
    response = client.post(reverse("integrations:reconciliation-upload"), {"file": upload})
    assert response.status_code == 302
    assert dict(WmsShipmentLine.objects.values_list("line_id", "qty")) == {"SH-1": 7, "SH-2": Decimal("3.5")}
    assert set(WmsShipmentLine.objects.values_list("source", flat=True)) == {"upload"}


def test_a_bad_excel_upload_gives_a_row_report_and_writes_nothing(client, users, items):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.FINANCE])
    data = xlsx([["line_id", "shipped_at", "item", "qty"], ["SH-1", datetime(2026, 11, 2, 9), "FG-1001", 5],
                 ["SH-2", "yesterday", "FG-1001", 5], ["SH-3", datetime(2026, 11, 2), "FG-1001", "many"]])  # fmt: skip
    upload = SimpleUploadedFile("wms.xlsx", data, content_type=XLSX_TYPE)
    response = client.post(reverse("integrations:reconciliation-upload"), {"file": upload})
    body = response.content.decode()
    assert response.status_code == 400 and 'class="grid upload-errors"' in body
    assert '<td class="num">3</td><td>shipped_at</td><td>yesterday</td>' in body
    assert '<td class="num">4</td><td>qty</td><td>many</td>' in body
    assert not WmsShipmentLine.objects.exists()


def test_an_upload_of_the_wrong_kind_is_refused(client, users, items):
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.FINANCE])
    upload = SimpleUploadedFile("wms.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = client.post(reverse("integrations:reconciliation-upload"), {"file": upload})
    assert (
        response.status_code == 400
        and "Upload an Excel workbook (.xlsx) or a CSV file (.csv)." in response.content.decode()
    )
    client.force_login(users[Role.PRODUCTION_MANAGER])
    upload = SimpleUploadedFile("wms.csv", b"line_id", content_type="text/csv")
    assert client.post(reverse("integrations:reconciliation-upload"), {"file": upload}).status_code == 403


# --- ERP sales outbound over HTTP ----------------------------------------------------------------------------


@pytest.fixture
def k3(items):
    simulator = K3CloudSimulator(K3CLOUD)
    server, url = start_server(SimulatorApp([simulator]))
    erp = ErpConnection(
        name="K3", server_url=f"{url}/k3cloud/K3Cloud/", acct_id=K3CLOUD["acct_id"], username=K3CLOUD["username"]
    )
    erp.set_credentials({"password": K3CLOUD["password"]})
    erp.save()
    yield simulator, erp
    server.shutdown()


def pull_outbound(erp) -> SyncRun:
    run = erp_pull(kind=SyncRun.Kind.ERP_OUTBOUND, connection=erp, transport=HttpTransport(sleep=lambda s: None))
    run.refresh_from_db()
    return run


def test_the_erp_ships_a_pushed_order_and_its_outbound_is_pulled_once(k3):
    sim, erp = k3
    model = sale_order_model(
        bill_date=DAY1, customer_number="CUST0001", org_number="100", currency_number="PRE001",
        note=marketplace_note("TB-1"),
        lines=[{"material": "FG-1001", "unit": "片", "qty": 4, "tax_price": "9.90", "tax_rate": 13,
                "delivery_date": DAY1}],
    )  # fmt: skip
    erp_client(erp, HttpTransport(sleep=lambda s: None)).save("SAL_SaleOrder", model)
    run = pull_outbound(erp)
    assert (run.status, run.fetched, run.created) == ("succeeded", 1, 1)
    line = ErpOutboundLine.objects.get()
    assert (line.item.code, line.qty, line.customer_number, line.sale_order_number) == (
        "FG-1001", 4, "CUST0001", "XSDD000001",
    )  # fmt: skip
    assert line.bill_date == timezone.localdate()
    number = line.bill_number
    sim.change_outbound_qty(number, "FG-1001", Decimal(3))
    again = pull_outbound(erp)
    assert (again.created, again.updated) == (0, 1)
    assert ErpOutboundLine.objects.get().qty == 3


def test_an_outbound_line_of_an_unknown_material_is_a_row_error(k3):
    sim, erp = k3
    sim.add_outbound(customer="CUST0002", lines=[("FG-2001", Decimal(2)), ("XX-404", Decimal(1))], day=DAY1)
    run = pull_outbound(erp)
    assert run.status == "partial" and [e["code"] for e in run.errors] == ["ITEM_UNKNOWN"]
    assert list(ErpOutboundLine.objects.values_list("item__code", "qty")) == [("FG-2001", 2)]


# --- Today's shipments ---------------------------------------------------------------------------------------


def test_todays_shipments_come_from_the_cache_until_the_beat_task_refreshes_them(client, users, items, connection):
    shop = make_account("TB1", name="东莞五金旗舰店", erp_customer_number="CUST0001")
    order = make_order(shop, status="confirmed")
    order.erp_number = "XSDD000009"
    order.save(update_fields=["erp_number"])
    today = timezone.localdate()
    erp_line(connection, items["FG-1001"], today, "8", "1", customer_number="CUST0001", sale_order_number="XSDD000009")
    client.force_login(users[Role.SALES])
    first = client.get("/api/v1/shipments/today/").json()
    assert [(r["customer"], r["channel"], r["item_code"], r["erp_qty"], r["wms_qty"]) for r in first["rows"]] == [
        ("CUST0001", "东莞五金旗舰店", "FG-1001", "8.0000", "0.0000")
    ]
    wms_line(items["FG-1001"], today, "8", "W1", order_number=order.number)
    assert client.get("/api/v1/shipments/today/").json() == first  # served from the cache
    tasks.refresh_today_shipments()
    rows = client.get("/api/v1/shipments/today/").json()["rows"]
    assert [(r["channel"], r["erp_qty"], r["wms_qty"]) for r in rows] == [("东莞五金旗舰店", "8.0000", "8.0000")]
    page = client.get(reverse("integrations:today-shipments")).content.decode()
    assert "东莞五金旗舰店" in page and "FG-1001" in page
    client.force_login(users[Role.OPERATOR])
    assert client.get(reverse("integrations:today-shipments")).status_code == 403


def test_the_reconciliation_page_and_api_cost_the_same_queries_for_few_and_many_item_days(
    client, users, items, connection
):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    client.force_login(users[Role.FINANCE])
    params = {"date_from": DAY1, "date_to": date(2026, 11, 30), "period": "week"}

    def queries() -> tuple[int, int]:
        counted = []
        for url in (reverse("integrations:reconciliation"), "/api/v1/reconciliation/"):
            with CaptureQueriesContext(db) as captured:
                assert client.get(url, params).status_code == 200
            counted.append(len(captured))
        return tuple(counted)

    erp_line(connection, items["FG-1001"], DAY1, "1", "first")
    few = queries()
    for n in range(20):
        day = date(2026, 11, 3 + n)
        erp_line(connection, items["FG-3001"], day, "5", f"e{n}")
        wms_line(items["FG-2001"], day, "4", f"w{n}")
    assert queries() == few


def test_the_home_page_offers_each_role_its_entry_points(client, users):
    reconciliation, today = reverse("integrations:reconciliation"), reverse("integrations:today-shipments")
    outbox = reverse("integrations:erp-outbox")
    client.force_login(users[Role.FINANCE])
    body = client.get("/").content.decode()
    assert f'href="{reconciliation}"' in body and f'href="{today}"' in body and f'href="{outbox}"' not in body
    client.force_login(users[Role.SALES])
    body = client.get("/").content.decode()
    assert f'href="{reconciliation}"' not in body and f'href="{today}"' in body
    client.force_login(users[Role.IT_ADMIN])
    assert f'href="{outbox}"' in client.get("/").content.decode()
