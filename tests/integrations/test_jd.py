"""The JD (JOS) client against the JD simulator over real HTTP: signing, paging, refusals, retries, reading."""

import copy
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from integrations.channels.base import ChannelError, HttpTransport, Page
from integrations.channels.jd import JdClient, business_json, format_time, sign_params
from integrations.simulators import credentials
from integrations.simulators.jd import JdSimulator
from integrations.simulators.orderbook import SHANGHAI, OrderBook, SimOrder
from integrations.simulators.server import Faults, SimRequest, SimResponse, SimulatorApp, start_server

D = Decimal
CREDS = credentials.JD


class Simulated:
    """A running JD simulator: its app (for fault knobs), its book and its gateway URL."""

    def __init__(self, app: SimulatorApp, book: OrderBook, base_url: str):
        self.app = app
        self.book = book
        self.url = f"{base_url}/jd/routerjson"

    def client(self, *, max_attempts: int = 5, **credential_overrides: str) -> JdClient:
        secrets = {"app_secret": CREDS["app_secret"], "access_token": CREDS["access_token"], **credential_overrides}
        transport = HttpTransport(sleep=lambda seconds: None, max_attempts=max_attempts)
        return JdClient(base_url=self.url, app_key=CREDS["app_key"], credentials=secrets, transport=transport)


@pytest.fixture(scope="module")
def running():
    """One JD simulator for the module (stopping a server costs half a second); `simulate` resets it per test."""
    faults = Faults()  # shared with the handler so set_faults reaches the page-level knobs
    handler = JdSimulator(OrderBook(start=datetime.now(SHANGHAI), end=datetime.now(SHANGHAI)), CREDS, faults=faults)
    app = SimulatorApp([handler], faults=faults)
    server, base_url = start_server(app)
    yield app, handler, base_url
    server.shutdown()
    server.server_close()


@pytest.fixture
def simulate(running):
    """A JD simulator over a fresh book of `count` orders modified in the hour that ended two hours ago."""
    app, handler, base_url = running
    servers = []

    def start(count: int = 0, simulator: type[JdSimulator] | None = None) -> Simulated:
        end = datetime.now(SHANGHAI).replace(microsecond=0) - timedelta(hours=2)
        book = OrderBook(start=end - timedelta(hours=1), end=end, count=count)
        if simulator is None:
            app.set_faults(**asdict(Faults()))
            handler.book = book
            return Simulated(app, book, base_url)
        faults = Faults()
        own_app = SimulatorApp([simulator(book, CREDS, faults=faults)], faults=faults)
        server, own_url = start_server(own_app)
        servers.append(server)
        return Simulated(own_app, book, own_url)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(client: JdClient, start: datetime, end: datetime, page_size: int = 50) -> list[Page]:
    return list(client.fetch_window(start, end, page_size=page_size))


def order_ids(pages: list[Page]) -> list[str]:
    return [order.external_id for page in pages for order in page.orders]


def stored_order(order_id: int, modified: datetime, **changes) -> SimOrder:
    fields = {
        "order_id": order_id,
        "created": modified - timedelta(minutes=30),
        "modified": modified,
        "status": "paid",
        "buyer_nick": "jd_buyer01",
        "receiver_name": "张伟",
        "phone": "13800138000",
        "province": "广东省",
        "city": "东莞市",
        "district": "长安镇",
        "address": "振兴路88号3栋201",
        "zip": "523850",
        "note": "请尽快发货",
        "currency": "CNY",
        "lines": [
            {
                "line_id": 1,
                "sku": "FG-1002",
                "title": "304不锈钢合页 4寸",
                "qty": 10,
                "price": D("12.80"),
                "discount": D("6.40"),
            },
            {
                "line_id": 2,
                "sku": "FG-3001",
                "title": "执手门锁 拉丝银",
                "qty": 1,
                "price": D("168.00"),
                "discount": D("0"),
            },
        ],
        "shipping": D("8.00"),
        "discount": D("5.00"),
    }
    fields.update(changes)
    return SimOrder(**fields)


def offline_client() -> JdClient:
    """A client for reading payloads only; normalise makes no HTTP call."""
    return JdClient(base_url="http://127.0.0.1:9/jd/routerjson", app_key=CREDS["app_key"], credentials=CREDS)


def valid_payload() -> dict:
    """An orderInfo shaped like JD's 2022 sample (ids and money as strings, the line id a number)."""
    return {
        "orderId": "249786309732",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "pin": "jd_ituyy715jh7pssw",
        "orderRemark": "",
        "venderRemark": "",
        "orderTotalPrice": "1.00",
        "freightPrice": "0.00",
        "sellerDiscount": "0.00",
        "orderPayment": "1.00",
        "orderStartTime": "2022-07-16 16:37:38",
        "paymentConfirmTime": "2022-07-16 16:38:32",
        "modified": "2022-07-16 16:38:32",
        "returnOrder": "0",
        "consigneeInfo": {
            "fullname": "李娜",
            "mobile": "",
            "telephone": "020-12345678",
            "province": "广东",
            "city": "广州市",
            "county": "海珠区",
            "fullAddress": "广东广州市海珠区赤岗街道1号",
        },
        "itemInfoList": [
            {
                "id": 228886533499,
                "skuId": "10054887745652",
                "outerSkuId": "testjd4206151136003",
                "skuName": "宝宝沐浴搓澡手套",
                "jdPrice": "1.00",
                "itemTotal": "1",
            }
        ],
    }


# -- signing --------------------------------------------------------------------------------------------------


def test_it_signs_like_the_jd_sdk():
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": "KEY",
        "access_token": "tok",
        "timestamp": "2026-03-01 10:00:00",
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
        "360buy_param_json": '{"order_state":"WAIT_SELLER_STOCK_OUT","page":"1","remark":"京东"}',
        "sign": "ignored",
    }
    # Computed by hand: md5 of "test-secret" + "360buy_param_json{...京东...}access_tokentokapp_keyKEY
    # formatjsonmethodjingdong.pop.order.searchsign_methodmd5timestamp2026-03-01 10:00:00v2.0" + "test-secret"
    # (keys in ASCII order, digits before letters, UTF-8), upper-case hex.
    assert sign_params(params, "test-secret") == "0AB085AF0BB361F6AD1CC077580BF455"


def test_it_sends_business_params_as_one_compact_json_string_with_sorted_keys():
    assert (
        business_json({"page": "1", "dateType": "0", "remark": "京东"}) == '{"dateType":"0","page":"1","remark":"京东"}'
    )


def test_it_formats_times_in_gmt_plus_8():
    moment = datetime.fromisoformat("2026-03-01T02:00:00+00:00")
    assert format_time(moment) == "2026-03-01 10:00:00"


# -- paging ---------------------------------------------------------------------------------------------------


def test_it_fetches_every_order_of_a_window_exactly_once_across_pages(simulate):
    sim = simulate(count=23)
    client = sim.client()
    pages = fetch(client, sim.book.start, sim.book.end, page_size=5)
    assert len(pages) == 5
    assert order_ids(pages) == [str(sim.book.id_base + index) for index in range(23)]
    assert not any(page.errors for page in pages)
    assert client.transport.stats.http_calls == 5
    modified = [order.payload["modified"] for page in pages for order in page.orders]
    assert modified == sorted(modified)
    for order in (client.normalise(raw.payload) for page in pages for raw in page.orders):
        assert order.paid_amount == order.goods_amount - order.discount_amount + order.shipping_amount
        assert order.goods_amount == sum(line.unit_price * line.qty for line in order.lines)


def test_it_keeps_pages_to_fifty_orders_even_when_asked_for_more(simulate):
    sim = simulate(count=120)
    client = sim.client()
    pages = fetch(client, sim.book.start, sim.book.end, page_size=100)
    assert [len(page.orders) for page in pages] == [50, 50, 20]
    assert len(set(order_ids(pages))) == 120


def test_it_yields_nothing_for_an_empty_window(simulate):
    sim = simulate(count=0)
    pages = fetch(sim.client(), sim.book.start, sim.book.end)
    assert order_ids(pages) == []


def test_it_reads_every_order_once_when_orders_change_during_paging(simulate):
    sim = simulate(count=12)
    sim.app.set_faults(modify_between_pages=True)
    before = datetime.now(SHANGHAI).replace(microsecond=0)
    # The window reaches past now, so a changed order moves to its end instead of out of it.
    pages = fetch(sim.client(), sim.book.start, before + timedelta(hours=1), page_size=4)
    counts = Counter(order_ids(pages))
    assert set(counts) == {str(sim.book.id_base + index) for index in range(12)}
    assert set(counts.values()) == {1}
    moved = [o for page in pages for o in page.orders if o.payload["modified"] >= format_time(before)]
    assert moved, "the knob should have changed orders while paging"


def test_it_skips_an_order_repeated_on_the_next_page(simulate):
    sim = simulate(count=10)
    sim.app.set_faults(duplicate_across_pages=True)
    pages = fetch(sim.client(), sim.book.start, sim.book.end, page_size=4)
    assert order_ids(pages) == [str(sim.book.id_base + index) for index in range(10)]


# -- refusals -------------------------------------------------------------------------------------------------


def test_it_refuses_a_wrong_secret_permanently_without_revealing_it(simulate):
    sim = simulate(count=3)
    client = sim.client(app_secret="not-the-secret-42")
    with pytest.raises(ChannelError) as caught:
        fetch(client, sim.book.start, sim.book.end)
    error = caught.value
    assert error.code == "JD_12"
    assert not error.transient
    assert "Invalid Signature" in error.message
    for secret in ("not-the-secret-42", CREDS["app_secret"]):
        assert secret not in str(error)
        assert secret not in repr(client)
    assert client.transport.stats.retries == 0


def test_it_reports_an_invalid_token_as_jd_19(simulate):
    sim = simulate(count=3)
    client = sim.client(access_token="expired-token")
    with pytest.raises(ChannelError) as caught:
        fetch(client, sim.book.start, sim.book.end)
    assert caught.value.code == "JD_19"
    assert not caught.value.transient
    assert "access_token" in caught.value.message


def test_it_is_refused_a_window_longer_than_a_month(simulate):
    sim = simulate(count=3)
    client = sim.client()
    with pytest.raises(ChannelError) as caught:
        fetch(client, sim.book.end - timedelta(days=40), sim.book.end)
    assert caught.value.code.startswith("JD_API")
    assert "one month" in caught.value.message
    assert not caught.value.transient


# -- faults ---------------------------------------------------------------------------------------------------


def test_it_retries_server_errors_and_still_gets_the_whole_window(simulate):
    sim = simulate(count=30)
    sim.app.set_faults(error_rate=0.5)
    client = sim.client(max_attempts=12)
    pages = fetch(client, sim.book.start, sim.book.end, page_size=5)
    assert client.transport.stats.retries > 0
    assert order_ids(pages) == [str(sim.book.id_base + index) for index in range(30)]


def test_it_retries_throttling_and_still_gets_the_whole_window(simulate):
    sim = simulate(count=30)
    sim.app.set_faults(throttle_rate=0.5)
    client = sim.client(max_attempts=12)
    pages = fetch(client, sim.book.start, sim.book.end, page_size=5)
    assert client.transport.stats.retries > 0
    assert order_ids(pages) == [str(sim.book.id_base + index) for index in range(30)]


def test_it_treats_the_throttling_answer_as_transient(simulate):
    sim = simulate(count=3)
    sim.app.set_faults(throttle_rate=1.0)
    client = sim.client(max_attempts=2)
    with pytest.raises(ChannelError) as caught:
        fetch(client, sim.book.start, sim.book.end)
    assert caught.value.transient
    assert client.transport.stats.retries == 1


class GarblesPageTwo(JdSimulator):
    """The JD simulator, except that page 2 always comes back cut off (a broken proxy)."""

    def handle(self, request: SimRequest) -> SimResponse:
        if '"page":"2"' in request.form.get("360buy_param_json", ""):
            return SimResponse(200, b'{"jingdong_pop_order_search_responce":{"searchorder', {})
        return super().handle(request)


def test_it_reports_a_garbled_page_as_a_page_error_and_reads_the_rest(simulate):
    sim = simulate(count=12, simulator=GarblesPageTwo)
    client = sim.client(max_attempts=3)
    pages = fetch(client, sim.book.start, sim.book.end, page_size=5)
    assert len(pages) == 3
    assert pages[1].orders == []
    assert [error.code for error in pages[1].errors] == ["PAGE_GARBLED"]
    assert pages[1].errors[0].transient
    expected = [str(sim.book.id_base + index) for index in (*range(5), *range(10, 12))]
    assert order_ids(pages) == expected
    assert client.transport.stats.retries == 2


def test_it_raises_when_the_first_page_stays_garbled(simulate):
    sim = simulate(count=3)
    sim.app.set_faults(garbage_rate=1.0)
    with pytest.raises(ChannelError) as caught:
        fetch(sim.client(max_attempts=2), sim.book.start, sim.book.end)
    assert caught.value.code == "PAGE_GARBLED"


# -- reading --------------------------------------------------------------------------------------------------


def test_it_normalises_money_lines_receiver_and_times(simulate):
    sim = simulate()
    modified = sim.book.start + timedelta(minutes=10)
    sim.book.put(stored_order(9001, modified))
    client = sim.client()
    [page] = fetch(client, sim.book.start, sim.book.end)
    [raw] = page.orders
    assert raw.payload["orderTotalPrice"] == "296.00"  # JOS money is a 2-decimal string
    order = client.normalise(raw.payload)
    assert (order.external_id, order.external_number, order.external_status) == (
        "9001",
        "9001",
        "WAIT_SELLER_STOCK_OUT",
    )
    assert order.goods_amount == D("296.00")
    assert order.discount_amount == D("11.40")  # order-level 5.00 + line 6.40: JD reports them together
    assert order.shipping_amount == D("8.00")
    assert order.paid_amount == D("292.60")
    assert all(isinstance(value, Decimal) for value in (order.goods_amount, order.paid_amount))
    assert (order.currency, order.receiver_country) == ("CNY", "CN")
    assert (order.buyer, order.buyer_note) == ("jd_buyer01", "请尽快发货")
    assert (order.receiver_name, order.receiver_phone) == ("张伟", "13800138000")
    assert (order.receiver_province, order.receiver_city, order.receiver_district) == ("广东省", "东莞市", "长安镇")
    assert order.receiver_address == "振兴路88号3栋201"
    assert order.updated_at == modified
    assert order.ordered_at == modified - timedelta(minutes=30)
    assert order.updated_at.tzinfo is not None and order.updated_at.utcoffset() == timedelta(hours=8)
    assert not order.cancelled and not order.refunded
    lines = [
        (line.external_line_id, line.external_sku, line.qty, line.unit_price, line.discount) for line in order.lines
    ]
    assert lines == [("1", "FG-1002", D(10), D("12.80"), D(0)), ("2", "FG-3001", D(1), D("168.00"), D(0))]
    assert order.lines[0].title == "304不锈钢合页 4寸"


def test_it_maps_shipped_cancelled_and_refunded_and_never_sees_unpaid(simulate):
    sim = simulate()
    for offset, (order_id, status) in enumerate(
        [(1, "shipped"), (2, "cancelled"), (3, "refunded"), (4, "unpaid"), (5, "paid")]
    ):
        sim.book.put(stored_order(order_id, sim.book.start + timedelta(minutes=offset), status=status))
    client = sim.client()
    orders = {
        raw.external_id: client.normalise(raw.payload)
        for page in fetch(client, sim.book.start, sim.book.end)
        for raw in page.orders
    }
    assert {key: (o.external_status, o.cancelled, o.refunded) for key, o in orders.items()} == {
        "1": ("WAIT_GOODS_RECEIVE_CONFIRM", False, False),
        "2": ("TRADE_CANCELED", True, False),
        "3": ("TRADE_CANCELED", True, True),
        "5": ("WAIT_SELLER_STOCK_OUT", False, False),
    }


def test_it_reads_jd_sample_shapes():
    order = offline_client().normalise(valid_payload())
    assert order.lines[0].external_line_id == "228886533499"  # a JSON number in JD's sample
    assert order.lines[0].external_sku == "testjd4206151136003"
    assert order.receiver_phone == "020-12345678"  # telephone when mobile is blank
    assert order.receiver_address == "赤岗街道1号"
    assert order.paid_at == datetime(2022, 7, 16, 16, 38, 32, tzinfo=SHANGHAI)


def test_it_falls_back_to_the_jd_sku_id_when_the_merchant_sku_is_blank():
    payload = valid_payload()
    del payload["itemInfoList"][0]["id"]
    payload["itemInfoList"][0]["outerSkuId"] = ""
    line = offline_client().normalise(payload).lines[0]
    assert (line.external_line_id, line.external_sku) == ("10054887745652", "10054887745652")


def _without_order_id(payload):
    del payload["orderId"]


def _comma_money(payload):
    payload["orderPayment"] = "12,80"


def _items_not_a_list(payload):
    payload["itemInfoList"] = "testjd4206151136003"


def _fractional_qty(payload):
    payload["itemInfoList"][0]["itemTotal"] = "1.5"


def _word_price(payload):
    payload["itemInfoList"][0]["jdPrice"] = "一元"


@pytest.mark.parametrize(
    ("spoil", "reason", "external_id"),
    [
        (_without_order_id, "orderId is missing", ""),
        (_comma_money, "orderPayment is not a number: '12,80'", "249786309732"),
        (_items_not_a_list, "itemInfoList is not a list", "249786309732"),
        (_fractional_qty, "itemInfoList[1].itemTotal is not an integer: '1.5'", "249786309732"),
        (_word_price, "itemInfoList[1].jdPrice is not a number", "249786309732"),
    ],
)
def test_it_rejects_an_unreadable_payload_with_the_reason(spoil, reason, external_id):
    payload = copy.deepcopy(valid_payload())
    spoil(payload)
    with pytest.raises(ChannelError) as caught:
        offline_client().normalise(payload)
    assert caught.value.code == "PAYLOAD_INVALID"
    assert reason in caught.value.message
    assert caught.value.external_id == external_id
    assert not caught.value.transient


def test_it_rejects_an_unreadable_order_served_verbatim(simulate):
    sim = simulate()
    raw = valid_payload()
    raw["orderTotalPrice"] = "N/A"
    order = stored_order(249786309732, sim.book.start + timedelta(minutes=1))
    order.raw = raw
    sim.book.put(order)
    client = sim.client()
    [page] = fetch(client, sim.book.start, sim.book.end)
    assert page.orders[0].payload == raw
    with pytest.raises(ChannelError) as caught:
        client.normalise(page.orders[0].payload)
    assert caught.value.code == "PAYLOAD_INVALID"
    assert caught.value.message == "orderTotalPrice is not a number: 'N/A'"
    assert caught.value.external_id == "249786309732"


def test_it_leaves_a_negative_quantity_for_validation_to_judge():
    payload = valid_payload()
    payload["itemInfoList"][0]["itemTotal"] = "-2"
    assert offline_client().normalise(payload).lines[0].qty == D(-2)


def test_it_round_trips_chinese_and_emoji(simulate):
    sim = simulate()
    lines = [
        {"line_id": 1, "sku": "FG-笑😀", "title": "合页 🚪 4寸「拉丝」", "qty": 2, "price": D("9.90"), "discount": D(0)}
    ]
    sim.book.put(
        stored_order(
            77,
            sim.book.start + timedelta(minutes=5),
            receiver_name="欧阳🌸娜",
            note="周末送货🚚，谢谢！",
            address="科技园路８号😀",
            lines=lines,
            buyer_nick="买家_🐼",
        )
    )
    client = sim.client()
    [page] = fetch(client, sim.book.start, sim.book.end)
    order = client.normalise(page.orders[0].payload)
    assert (order.receiver_name, order.buyer_note, order.buyer) == ("欧阳🌸娜", "周末送货🚚，谢谢！", "买家_🐼")
    assert order.receiver_address == "科技园路８号😀"
    assert (order.lines[0].external_sku, order.lines[0].title) == ("FG-笑😀", "合页 🚪 4寸「拉丝」")


# -- connection test ------------------------------------------------------------------------------------------


def test_it_passes_the_connection_test_with_good_credentials(simulate):
    sim = simulate(count=3)
    client = sim.client()
    assert client.test_connection() is None
    assert client.transport.stats.http_calls == 1


def test_it_fails_the_connection_test_with_a_bad_token(simulate):
    with pytest.raises(ChannelError) as caught:
        simulate().client(access_token="nope").test_connection()
    assert caught.value.code == "JD_19"


def test_it_refuses_to_build_a_client_without_a_secret():
    with pytest.raises(ChannelError) as caught:
        JdClient(base_url="http://127.0.0.1:9/jd/routerjson", app_key="k", credentials={"access_token": "t"})
    assert caught.value.code == "CREDENTIALS_MISSING"


# -- the simulator's own checks ---------------------------------------------------------------------------------


def post_raw(url: str, business: dict, *, timestamp: datetime | None = None, **overrides: str) -> dict:
    """One hand-signed JOS call, for checking the simulator refuses what JOS refuses."""
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": CREDS["app_key"],
        "access_token": CREDS["access_token"],
        "timestamp": format_time(timestamp or datetime.now(SHANGHAI)),
        "v": "2.0",
        "format": "json",
        "sign_method": "md5",
        "360buy_param_json": business_json(business),
        **overrides,
    }
    params["sign"] = sign_params(params, CREDS["app_secret"])
    return requests.post(url, data=params, timeout=5).json()


def search_params(sim: Simulated, **changes: str) -> dict:
    params = {
        "start_date": format_time(sim.book.start),
        "end_date": format_time(sim.book.end),
        "optional_fields": "orderId,modified",
        "page": "1",
        "page_size": "10",
        "dateType": "0",
    }
    params.update(changes)
    return params


def test_the_simulator_serves_only_the_fields_asked_for(simulate):
    sim = simulate(count=2)
    answer = post_raw(sim.url, search_params(sim))
    orders = answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"]
    assert [sorted(order) for order in orders] == [["modified", "orderId"]] * 2


def test_the_simulator_rejects_a_stale_timestamp(simulate):
    sim = simulate(count=2)
    answer = post_raw(sim.url, search_params(sim), timestamp=datetime.now(SHANGHAI) - timedelta(minutes=7))
    assert answer["error_response"]["code"] == "8"


def test_the_simulator_rejects_a_signature_over_different_json(simulate):
    sim = simulate(count=2)
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": CREDS["app_key"],
        "access_token": CREDS["access_token"],
        "timestamp": format_time(datetime.now(SHANGHAI)),
        "v": "2.0",
        "360buy_param_json": business_json(search_params(sim)),
    }
    params["sign"] = sign_params(params, CREDS["app_secret"])
    params["360buy_param_json"] = params["360buy_param_json"].replace(",", ", ")  # same data, other bytes
    answer = requests.post(sim.url, data=params, timeout=5).json()
    assert answer["error_response"]["code"] == "12"


@pytest.mark.parametrize(
    "changes",
    [{"optional_fields": ""}, {"page_size": "51"}, {"start_date": "2026-13-01 00:00:00"}],
)
def test_the_simulator_rejects_bad_search_params(simulate, changes):
    sim = simulate(count=2)
    answer = post_raw(sim.url, search_params(sim, **changes))
    api_result = answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["apiResult"]
    assert api_result["success"] is False


def test_the_simulator_rejects_another_method(simulate):
    sim = simulate(count=2)
    answer = post_raw(sim.url, search_params(sim), method="jingdong.pop.order.get")
    assert answer["error_response"]["code"] == "15"


def test_the_simulator_answers_a_get_like_a_post(simulate):
    sim = simulate(count=2)
    params = {
        "method": "jingdong.pop.order.search",
        "app_key": CREDS["app_key"],
        "access_token": CREDS["access_token"],
        "timestamp": format_time(datetime.now(SHANGHAI)),
        "v": "2.0",
        "360buy_param_json": business_json(search_params(sim)),
    }
    params["sign"] = sign_params(params, CREDS["app_secret"])
    answer = requests.get(sim.url, params=params, timeout=5).json()
    assert answer["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderTotal"] == 2
