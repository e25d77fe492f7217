"""The Kingdee K/3 Cloud client against the K/3 Cloud simulator over real HTTP: login, bills, queries, faults."""

import itertools
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from integrations.channels.base import HttpTransport
from integrations.erp.k3cloud import (
    CURRENCY_CNY,
    SALE_ORDER,
    ErpError,
    K3CloudClient,
    encode_json,
    marketplace_note,
    parse_datetime,
    quote,
    sale_order_model,
)
from integrations.simulators.k3_credentials import K3CLOUD
from integrations.simulators.k3cloud import K3CloudSimulator, SeedMaterial, demo_seed_data
from integrations.simulators.server import Faults, SimulatorApp, start_server

D = Decimal
CREDS = K3CLOUD
BULK = 5000  # extra materials in group BULK, modified one second apart from BULK_FROM
BULK_FROM = datetime(2025, 2, 1)
FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
_numbers = itertools.count(3_100_000_000_001)


@dataclass
class Simulated:
    """A running K/3 Cloud simulator: its app (server fault knobs), the simulator (its own knobs) and the URL."""

    app: SimulatorApp
    sim: K3CloudSimulator
    url: str

    def client(self, *, timeout: float = 5.0, max_attempts: int = 3, sleep=None, **overrides: Any) -> K3CloudClient:
        transport = HttpTransport(timeout=timeout, max_attempts=max_attempts, sleep=sleep or (lambda seconds: None))
        arguments = {
            "server_url": self.url,
            "acct_id": CREDS["acct_id"],
            "username": CREDS["username"],
            "lcid": CREDS["lcid"],
            "password": CREDS["password"],
            **overrides,
        }
        return K3CloudClient(**arguments, transport=transport)

    def heal(self, seconds: float) -> None:
        """A transport's sleep that clears every server fault: the next attempt goes through."""
        self.app.set_faults(**asdict(Faults()))


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[SimulatorApp, K3CloudSimulator, str]]:
    """One simulator for the module, holding the demo data and 5,000 more materials."""
    seed = demo_seed_data()
    seed.materials += [
        SeedMaterial(
            f"BULK-{n:05d}", f"批量物料 {n}", f"规格 {n}", "PCS", "BULK", False, BULK_FROM + timedelta(seconds=n)
        )
        for n in range(BULK)
    ]
    sim = K3CloudSimulator(CREDS, seed_data=seed)
    app = SimulatorApp([sim])
    server, base_url = start_server(app)
    yield app, sim, f"{base_url}/k3cloud/K3Cloud/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def k3(running) -> Iterator[Simulated]:
    app, sim, url = running
    simulated = Simulated(app, sim, url)
    simulated.heal(0)
    sim.save_timeout, sim.reject_field = False, None
    yield simulated
    simulated.heal(0)
    sim.save_timeout, sim.reject_field = False, None


def new_number() -> str:
    """A marketplace order number no other test uses."""
    return str(next(_numbers))


def line(material: str, unit: str, qty: str, price: str) -> dict[str, Any]:
    return {
        "material": material,
        "unit": unit,
        "qty": D(qty),
        "tax_price": D(price),
        "delivery_date": date(2025, 3, 5),
        "tax_rate": D("13"),
    }


def order_model(number: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return sale_order_model(
        bill_date=date(2025, 3, 1),
        customer_number="CUST0001",
        org_number="100",
        currency_number=CURRENCY_CNY,
        note=marketplace_note(number),
        lines=lines or [line("FG-3001", "套", "2", "268.00")],
    )


# --- Login -----------------------------------------------------------------------------------------------------


def test_it_logs_in_with_a_password_and_names_the_user_and_organisation(k3):
    context = k3.client().test_connection()

    assert context.user_name == CREDS["username"]
    assert context.organisation == "东莞长安五金制品厂"


def test_it_logs_in_with_an_app_secret(k3):
    client = k3.client(password=None, app_id=CREDS["app_id"], app_secret=CREDS["app_secret"])

    assert client.test_connection().user_name == CREDS["username"]
    assert client.execute_bill_query("BD_MATERIAL", ["FNumber"], "FNumber='FG-3001'") == [["FG-3001"]]


def test_a_wrong_password_is_a_permanent_error_that_does_not_repeat_the_password(k3):
    client = k3.client(password="hunter2-not-the-password")

    with pytest.raises(ErpError) as caught:
        client.test_connection()

    error = caught.value
    assert (error.code, error.transient) == ("K3_LOGIN_FAILED", False)
    assert "用户名或密码错误" in error.message
    for text in (str(error), repr(error), repr(client)):
        assert "hunter2-not-the-password" not in text
        assert CREDS["password"] not in text
    assert client.stats.retries == 0


def test_a_wrong_app_secret_is_refused_permanently(k3):
    client = k3.client(password=None, app_id=CREDS["app_id"], app_secret="sim-k3cloud-app-secret-9999")

    with pytest.raises(ErpError) as caught:
        client.test_connection()

    assert (caught.value.code, caught.value.transient) == ("K3_LOGIN_FAILED", False)
    assert "sim-k3cloud-app-secret-9999" not in str(caught.value)


def test_an_unknown_chinese_user_name_is_refused_like_any_other(k3):
    with pytest.raises(ErpError) as caught:
        k3.client(username="张伟").test_connection()

    assert (caught.value.code, caught.value.transient) == ("K3_LOGIN_FAILED", False)


def test_a_wrong_data_centre_is_refused_with_a_hint(k3):
    with pytest.raises(ErpError) as caught:
        k3.client(acct_id="000000000000").test_connection()

    assert caught.value.code == "K3_LOGIN_FAILED"
    assert "data centre id" in caught.value.message


def test_the_simulator_refuses_form_calls_without_a_live_session(k3):
    save_url = f"{k3.url}{FORM}Save.common.kdsvc"
    query_url = f"{k3.url}{FORM}ExecuteBillQuery.common.kdsvc"

    for cookies in ({}, {"kdservice-sessionid": "forged"}):
        saved = requests.post(save_url, json={"parameters": [SALE_ORDER, "{}"]}, cookies=cookies, timeout=5).json()
        status = saved["Result"]["ResponseStatus"]
        assert (status["IsSuccess"], status["MsgCode"]) == (False, 1)
        assert status["Errors"][0]["Message"] == "会话信息已丢失，请重新登录"
        query = {"parameters": ['{"FormId":"BD_MATERIAL","FieldKeys":"FNumber"}']}
        queried = requests.post(query_url, json=query, cookies=cookies, timeout=5).json()
        assert queried[0][0]["Result"]["ResponseStatus"]["MsgCode"] == 1


def test_it_logs_in_again_when_the_session_expires(k3):
    client = k3.client()
    client.test_connection()
    logins = k3.sim.logins

    k3.sim.expire_sessions()
    assert client.execute_bill_query("BD_MATERIAL", ["FNumber"], "FNumber='RM-3001'") == [["RM-3001"]]
    assert k3.sim.logins == logins + 1

    k3.sim.expire_sessions()
    number = new_number()
    saved = client.save(SALE_ORDER, order_model(number))
    assert k3.sim.logins == logins + 2
    assert client.find_sale_order_by_marketplace_number(number) == saved.number


# --- Bills -----------------------------------------------------------------------------------------------------


def test_it_saves_views_submits_and_audits_a_sale_order(k3):
    client = k3.client()
    number = new_number()
    model = order_model(number, [line("FG-3001", "套", "2", "268.00"), line("FG-1001", "片", "40", "12.50")])

    saved = client.save(SALE_ORDER, model)

    assert re.fullmatch(r"XSDD\d{6}", saved.number)
    bill = client.view(SALE_ORDER, saved.number)
    assert (bill["Id"], bill["BillNo"], bill["DocumentStatus"]) == (saved.id, saved.number, "A")
    assert bill["Note"] == f"LL:{number}"
    assert bill["CustId"]["Number"] == "CUST0001"
    entries = [(e["MaterialId"]["Number"], e["Qty"], e["TaxPrice"]) for e in bill["SaleOrderEntry"]]
    assert entries == [("FG-3001", D(2), D("268")), ("FG-1001", D(40), D("12.5"))]

    with pytest.raises(ErpError) as caught:
        client.audit(SALE_ORDER, [saved.number])
    assert (caught.value.code, caught.value.transient) == ("K3_VALIDATION", False)
    assert f"单据编号为“{saved.number}”的销售订单，单据未提交，不能审核！" in caught.value.message

    assert client.submit(SALE_ORDER, [saved.number]) == [saved.number]
    assert client.view(SALE_ORDER, saved.number)["DocumentStatus"] == "B"
    assert client.audit(SALE_ORDER, [saved.number]) == [saved.number]
    assert client.view(SALE_ORDER, saved.number)["DocumentStatus"] == "C"

    rows = client.execute_bill_query(
        SALE_ORDER,
        ["FBillNo", "FDocumentStatus", "FMaterialId.FNumber", "FQty", "FTaxPrice"],
        f"FBillNo={quote(saved.number)} and FDocumentStatus='C'",
        "FSaleOrderEntry_FEntryID ASC",
    )
    assert rows == [[saved.number, "C", "FG-3001", 2, 268], [saved.number, "C", "FG-1001", 40, D("12.5")]]


def test_viewing_a_bill_that_does_not_exist_gives_none(k3):
    assert k3.client().view(SALE_ORDER, "XSDD999999") is None


def test_a_validation_error_carries_the_erps_own_message_and_field(k3):
    client = k3.client()
    number = new_number()
    lines = [line("FG-9999", "套", "1", "10"), line("FG-3001", "套", "0", "268"), line("FG-1001", "PCS", "5", "12")]

    with pytest.raises(ErpError) as caught:
        client.save(SALE_ORDER, order_model(number, lines))

    error = caught.value
    assert (error.code, error.transient) == ("K3_VALIDATION", False)
    assert "FMaterialId: 物料编码“FG-9999”不存在" in error.message
    assert "FQty: 第2行“销售数量”必须大于0" in error.message
    assert "FUnitID: 第3行销售单位“PCS”与物料“FG-1001”的基本单位之间没有换算关系" in error.message
    assert error.fields == ["FMaterialId", "FQty", "FUnitID"]
    assert client.find_sale_order_by_marketplace_number(number) is None


def test_the_reject_field_knob_fails_only_the_next_save_on_that_field(k3):
    client = k3.client()
    k3.sim.reject_field = "FCustId"

    with pytest.raises(ErpError) as caught:
        client.save(SALE_ORDER, order_model(new_number()))
    assert caught.value.fields == ["FCustId"]
    assert "客户" in caught.value.message

    assert client.save(SALE_ORDER, order_model(new_number())).number.startswith("XSDD")


def test_the_simulators_knobs_can_be_set_over_http_for_demos(k3):
    control = k3.url.replace("/K3Cloud/", "/_control")

    answer = requests.post(control, json={"reject_field": "FSaleOrgId"}, timeout=5)
    refused = requests.post(control, json={"colour": "red"}, timeout=5)

    assert answer.json()["reject_field"] == "FSaleOrgId"
    assert refused.status_code == 400
    with pytest.raises(ErpError) as caught:
        k3.client().save(SALE_ORDER, order_model(new_number()))
    assert caught.value.fields == ["FSaleOrgId"]
    assert requests.get(control, timeout=5).json()["reject_field"] is None


def test_a_save_that_times_out_leaves_a_bill_the_marketplace_number_finds(k3):
    client = k3.client(timeout=0.3)
    client.test_connection()
    number = new_number()
    k3.sim.save_timeout, k3.sim.save_timeout_seconds = True, 1.0

    with pytest.raises(ErpError) as caught:
        client.save(SALE_ORDER, order_model(number))

    assert (caught.value.code, caught.value.transient) == ("TIMEOUT", True)
    assert "may have been applied" in caught.value.message
    assert client.stats.retries == 0  # a Save that may have run is never resent blindly
    k3.sim.save_timeout = False
    bill_number = client.find_sale_order_by_marketplace_number(number)
    assert bill_number is not None and bill_number.startswith("XSDD")
    note_filter = f"FNote={quote(marketplace_note(number))}"
    assert client.execute_bill_query(SALE_ORDER, ["FBillNo"], note_filter) == [[bill_number]]


def test_the_marketplace_number_lookup_escapes_quotes_and_finds_nothing_for_an_unknown_number(k3):
    client = k3.client()
    number = f"O'Brien-{new_number()}"
    saved = client.save(SALE_ORDER, order_model(number))

    assert client.find_sale_order_by_marketplace_number(number) == saved.number
    assert client.find_sale_order_by_marketplace_number(new_number()) is None


def test_the_model_builder_writes_decimals_exactly_and_dates_as_k3_does():
    model = order_model("42", [line("FG-3001", "套", "3", "0.10")])

    text = encode_json(model)

    assert '"FQty":3,"FTaxPrice":0.10,"FEntryTaxRate":13' in text
    assert '"FDate":"2025-03-01 00:00:00"' in text
    assert '"FBillTypeID":{"FNUMBER":"XSDD01_SYS"}' in text
    assert '"FNote":"LL:42"' in text


# --- Queries ---------------------------------------------------------------------------------------------------


def test_query_all_pages_through_5000_materials_returning_each_once(k3):
    client = k3.client()

    rows = list(
        client.query_all(
            "BD_MATERIAL",
            ["FNumber", "FName", "FBaseUnitId.FNumber", "FModifyDate"],
            filter_string="FMaterialGroup.FNumber='BULK'",
            order_string="FNumber ASC",
            limit=700,
        )
    )

    numbers = [row[0] for row in rows]
    assert len(numbers) == BULK == len(set(numbers))
    assert numbers == sorted(numbers)
    assert client.stats.http_calls == 1 + 8  # the login, then 7 full pages of 700 and a short one of 100
    assert rows[1] == ["BULK-00001", "批量物料 1", "PCS", "2025-02-01T00:00:01"]
    assert parse_datetime(rows[1][3]) == datetime.fromisoformat("2025-02-01T00:00:01+08:00")


def test_query_all_fetches_a_page_only_when_the_previous_one_is_used_up(k3):
    client = k3.client()
    rows = client.query_all("BD_MATERIAL", ["FNumber"], "FMaterialGroup.FNumber='BULK'", "FNumber ASC", limit=700)

    assert next(rows) == ["BULK-00000"]
    assert client.stats.http_calls == 2


def test_it_filters_on_dates_and_combined_conditions(k3):
    client = k3.client()
    since = f"FModifyDate>='{(BULK_FROM + timedelta(seconds=4990)).strftime('%Y-%m-%d %H:%M:%S')}'"

    rows = client.execute_bill_query("BD_MATERIAL", ["FNumber"], f"FMaterialGroup.FNumber='BULK' and {since}")

    assert [row[0] for row in rows] == [f"BULK-{n:05d}" for n in range(4990, BULK)]


def test_it_reads_boms_stock_and_production_orders_under_the_demo_codes(k3):
    client = k3.client()

    bom = client.execute_bill_query(
        "ENG_BOM",
        ["FMATERIALIDCHILD.FNumber", "FNUMERATOR", "FDENOMINATOR", "FSCRAPRATE"],
        "FMATERIALID.FNumber='FG-1001'",
        "FTreeEntity_FEntryID ASC",
    )
    stock = client.execute_bill_query(
        "STK_Inventory",
        ["FMaterialId.FNumber", "FBaseQty"],
        "FStockId.FNumber='K3-CK04' and FBaseQty>0",
        "FMaterialId.FNumber ASC",
    )
    orders = client.execute_bill_query(
        "PRD_MO", ["FBillNo", "FMaterialId.FNumber", "FQty", "FPlanStartDate"], "FDocumentStatus='C'", "FBillNo ASC"
    )

    assert bom[0] == ["SF-4001", 2, 1, D("0.5")]
    assert bom[-1] == ["PP-4003", 1, 2, 0]  # one box for a pair of leaves
    assert len(bom) == 5
    assert ["FG-3001", 2390] in stock
    assert "FG-1002" not in [row[0] for row in stock]  # out of stock
    assert [row[0] for row in orders] == ["MO000001", "MO000002", "MO000003"]
    assert orders[0][1:3] == ["FG-3001", 200]
    assert parse_datetime(orders[0][3]).tzinfo is not None


def test_a_filter_or_field_the_simulator_cannot_read_is_a_permanent_error(k3):
    client = k3.client()

    with pytest.raises(ErpError) as unknown_field:
        client.execute_bill_query("BD_MATERIAL", ["FNumber", "FColour"])
    with pytest.raises(ErpError) as unsupported:
        client.execute_bill_query("BD_MATERIAL", ["FNumber"], "FNumber like 'FG%'")

    assert unknown_field.value.message == "元数据中标识为FColour的字段不存在"
    assert not unknown_field.value.transient
    assert "不受支持" in unsupported.value.message
    assert not unsupported.value.transient


# --- Faults ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [{"down": True}, {"error_rate": 1.0}, {"throttle_rate": 1.0}, {"garbage_rate": 1.0}], ids=str
)
def test_it_retries_a_read_the_server_failed(k3, fault):
    client = k3.client(sleep=k3.heal)
    client.test_connection()
    k3.app.set_faults(**fault)

    assert client.execute_bill_query("BD_MATERIAL", ["FNumber"], "FNumber='PP-3001'") == [["PP-3001"]]
    assert client.stats.retries == 1


def test_it_resends_a_save_the_server_refused_with_503_and_makes_one_bill(k3):
    client = k3.client(sleep=k3.heal)
    client.test_connection()
    number = new_number()
    k3.sim.down = True

    saved = client.save(SALE_ORDER, order_model(number))

    assert client.stats.retries == 1
    assert client.find_sale_order_by_marketplace_number(number) == saved.number


def test_a_server_that_stays_down_is_a_transient_error(k3):
    client = k3.client(max_attempts=2)
    client.test_connection()
    k3.sim.down = True

    with pytest.raises(ErpError) as caught:
        client.view(SALE_ORDER, "XSDD000001")

    assert (caught.value.code, caught.value.transient) == ("HTTP_503", True)
    assert client.stats.retries == 1


def test_a_garbled_answer_to_a_save_is_transient_and_not_resent(k3):
    client = k3.client()
    client.test_connection()
    k3.app.set_faults(garbage_rate=1.0)

    with pytest.raises(ErpError) as caught:
        client.save(SALE_ORDER, order_model(new_number()))

    assert (caught.value.code, caught.value.transient) == ("K3_GARBLED", True)
    assert client.stats.retries == 0
