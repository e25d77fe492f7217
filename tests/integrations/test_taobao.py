"""The Taobao TOP client against the TOP simulator, over real HTTP: signing, paging, errors and reading trades."""

import hashlib
import hmac
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from integrations.channels.base import ChannelError, HttpTransport
from integrations.channels.taobao import API_VERSION, TaobaoClient, api_window, format_time, sign_params
from integrations.simulators import credentials
from integrations.simulators.orderbook import SHANGHAI, OrderBook, SimOrder
from integrations.simulators.server import FaultInjector, Faults, SimulatorApp, start_server
from integrations.simulators.taobao import TaobaoSimulator

D = Decimal
TAOBAO = credentials.TAOBAO
NOW = datetime.now(SHANGHAI).replace(microsecond=0)


@pytest.fixture
def serve():
    """Start a TOP simulator over a book; returns (app, gateway URL). Servers stop after the test."""
    servers = []

    def start(book: OrderBook, faults: Faults | None = None) -> tuple[SimulatorApp, str]:
        faults = faults or Faults()
        app = SimulatorApp([TaobaoSimulator(book, TAOBAO, faults)], faults)
        server, base_url = start_server(app)
        servers.append(server)
        return app, f"{base_url}/taobao/router/rest"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def make_client(url: str, transport: HttpTransport | None = None, **overrides: str) -> TaobaoClient:
    secrets = {"app_secret": TAOBAO["app_secret"], "session": TAOBAO["session"], **overrides}
    app_key = secrets.pop("app_key", TAOBAO["app_key"])
    return TaobaoClient(
        base_url=url, app_key=app_key, credentials=secrets, transport=transport or HttpTransport(sleep=lambda s: None)
    )


def past_book(count: int = 57) -> OrderBook:
    """`count` trades spread over half an hour that ended two and a half hours ago."""
    return OrderBook(start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2, minutes=30), count=count, seed=5)


def fetch_all(client: TaobaoClient, start: datetime, end: datetime, page_size: int = 10) -> list[Any]:
    return list(client.fetch_window(start, end, page_size=page_size))


def tids(pages: list[Any]) -> list[str]:
    return [raw.external_id for page in pages for raw in page.orders]


def signed_call(url: str, **params: str) -> dict[str, Any]:
    """A hand-made TOP call, to reach the simulator's checks the client never trips."""
    system = {
        "method": "taobao.trades.sold.increment.get",
        "app_key": TAOBAO["app_key"],
        "session": TAOBAO["session"],
        "timestamp": format_time(datetime.now(SHANGHAI)),
        "v": API_VERSION,
        "format": "json",
        "sign_method": "hmac-sha256",
    }
    merged = {**system, **params}
    merged["sign"] = sign_params(merged, TAOBAO["app_secret"], merged["sign_method"])
    return requests.post(url, data=merged, timeout=5).json()


def stored_order(order_id: int, modified: datetime, status: str = "paid", **changes: Any) -> SimOrder:
    order = SimOrder(
        order_id=order_id,
        created=modified - timedelta(minutes=30),
        modified=modified,
        status=status,
        buyer_nick="tb小明🐱",
        receiver_name="欧阳娜娜",
        phone="13912345678",
        province="广东省",
        city="东莞市",
        district="长安镇",
        address="振兴路12号3栋501 🏭",
        zip="523850",
        note="请尽快发货🚚，谢谢！",
        currency="CNY",
        lines=[
            {
                "line_id": order_id * 10 + 1,
                "sku": "FG-1002",
                "title": "304不锈钢合页 4寸 2.5厚 拉丝",
                "qty": 10,
                "price": D("12.80"),
                "discount": D("6.40"),
            },
            {
                "line_id": order_id * 10 + 2,
                "sku": "FG-3001",
                "title": "执手门锁 拉丝银 室内门 🔒",
                "qty": 1,
                "price": D("168.00"),
                "discount": D("0.00"),
            },
        ],
        shipping=D("12.00"),
        discount=D("5.00"),
    )
    for name, value in changes.items():
        setattr(order, name, value)
    return order


def book_with(*orders: SimOrder) -> OrderBook:
    book = OrderBook(start=NOW - timedelta(days=1), end=NOW, count=0)
    for order in orders:
        book.put(order)
    return book


SAMPLE_TRADE = {
    "tid": 2_345_678_901_234,
    "status": "WAIT_SELLER_SEND_GOODS",
    "created": "2024-05-01 10:00:00",
    "modified": "2024-05-01 10:05:00",
    "pay_time": "2024-05-01 10:01:00",
    "buyer_nick": "tb12345678",
    "receiver_name": "王芳",
    "receiver_phone": "0769-88888888",
    "total_fee": "25.60",
    "post_fee": "8.00",
    "discount_fee": "0.00",
    "payment": "33.60",
    "orders": {"order": [{"oid": 23456789012341, "outer_iid": "FG-1002", "title": "合页", "num": 2, "price": "12.80"}]},
}


# -- signing ------------------------------------------------------------------------------------------------

SIGN_PARAMS = {
    "method": "taobao.trades.sold.increment.get",
    "app_key": "12345678",
    "session": "test-session",
    "timestamp": "2024-05-01 12:00:00",
    "v": "2.0",
    "format": "json",
    "fields": "tid,orders",
    "buyer_nick": "",  # empty params take no part in the signature
    "sign": "ignored",
}
# Sorted by key in ASCII order, key and value glued, no separators, `sign` and empty values left out.
SIGN_TEXT = (
    "app_key12345678fieldstid,ordersformatjsonmethodtaobao.trades.sold.increment.get"
    "sessiontest-sessiontimestamp2024-05-01 12:00:00v2.0"
)
SIGN_SECRET = "helloworld"


def test_it_signs_md5_as_md5_of_secret_text_secret_in_upper_hex():
    expected = hashlib.md5((SIGN_SECRET + SIGN_TEXT + SIGN_SECRET).encode(), usedforsecurity=False).hexdigest().upper()
    assert sign_params(SIGN_PARAMS, SIGN_SECRET, "md5") == expected
    assert len(expected) == 32


def test_it_signs_hmac_as_hmac_md5_keyed_by_the_secret_without_wrapping():
    expected = hmac.new(SIGN_SECRET.encode(), SIGN_TEXT.encode(), hashlib.md5).hexdigest().upper()
    assert sign_params(SIGN_PARAMS, SIGN_SECRET, "hmac") == expected


def test_it_signs_hmac_sha256_as_hmac_sha256_keyed_by_the_secret():
    expected = hmac.new(SIGN_SECRET.encode(), SIGN_TEXT.encode(), hashlib.sha256).hexdigest().upper()
    assert sign_params(SIGN_PARAMS, SIGN_SECRET, "hmac-sha256") == expected
    assert len(expected) == 64


def test_it_signs_chinese_values_as_utf8():
    params = {"buyer_nick": "小明", "v": "2.0"}
    expected = hmac.new(b"s", "buyer_nick小明v2.0".encode(), hashlib.sha256).hexdigest().upper()
    assert sign_params(params, "s", "hmac-sha256") == expected


@pytest.mark.parametrize("method", ["md5", "hmac", "hmac-sha256"])
def test_it_is_accepted_by_the_gateway_with_each_sign_method(serve, method):
    book = past_book(count=5)
    _, url = serve(book)
    pages = fetch_all(make_client(url, sign_method=method), book.start, book.end)
    assert sorted(tids(pages)) == sorted(str(tid) for tid in book.iter_ids())


def test_it_refuses_an_unknown_sign_method_before_calling():
    with pytest.raises(ChannelError) as caught:
        make_client("http://127.0.0.1:9/", sign_method="sha1")
    assert caught.value.code == "CREDENTIALS_INVALID"


# -- paging -------------------------------------------------------------------------------------------------


def test_it_reads_all_trades_of_a_window_exactly_once_paging_from_the_last_page_back(serve):
    book = past_book(count=57)
    app, url = serve(book)
    pages = fetch_all(make_client(url), book.start, book.end, page_size=10)
    got = tids(pages)
    assert len(got) == 57
    assert set(got) == {str(tid) for tid in book.iter_ids()}
    assert len(pages) == 6
    # Newest first on the server, so the last page (read first) holds the oldest trades.
    first_page = [raw.payload["modified"] for raw in pages[0].orders]
    last_page = [raw.payload["modified"] for raw in pages[-1].orders]
    assert max(first_page) < min(last_page)
    assert app.log.count == 7  # page 1 to learn the total, then pages 6..1


def test_it_makes_one_call_when_the_window_fits_one_page(serve):
    book = past_book(count=8)
    app, url = serve(book)
    pages = fetch_all(make_client(url), book.start, book.end, page_size=10)
    assert len(tids(pages)) == 8
    assert app.log.count == 1


def test_it_yields_nothing_for_an_empty_window(serve):
    book = past_book(count=5)
    _, url = serve(book)
    pages = fetch_all(make_client(url), NOW - timedelta(minutes=10), NOW)
    assert tids(pages) == []


def test_it_skips_a_trade_repeated_at_the_top_of_the_next_page(serve):
    book = past_book(count=57)
    _, url = serve(book, Faults(duplicate_across_pages=True))
    got = tids(fetch_all(make_client(url), book.start, book.end, page_size=10))
    assert sorted(got) == sorted(str(tid) for tid in book.iter_ids())


def test_it_misses_no_trade_that_changes_while_it_pages(serve):
    # Trades on pages not read yet jump to the top while we page; reading backwards keeps them in reach.
    now = datetime.now(SHANGHAI).replace(microsecond=0)  # changed trades move to the real now: cover it
    book = OrderBook(start=now - timedelta(minutes=20), end=now - timedelta(minutes=1), count=45, seed=9)
    _, url = serve(book, Faults(modify_between_pages=True))
    got = tids(fetch_all(make_client(url), book.start, now + timedelta(minutes=10), page_size=10))
    assert book.stored, "the fault knob should have changed some trades"
    # iter_ids() lists changed trades twice (generated and stored), hence the set.
    assert sorted(got) == sorted({str(tid) for tid in book.iter_ids()})


def test_it_reads_a_trade_modified_on_the_boundary_second_in_one_window_only(serve):
    boundary = NOW - timedelta(hours=1)
    before = stored_order(9001, boundary - timedelta(milliseconds=400))
    on = stored_order(9002, boundary)
    after = stored_order(9003, boundary + timedelta(milliseconds=600))
    _, url = serve(book_with(before, on, after))
    client = make_client(url)
    first = tids(fetch_all(client, boundary - timedelta(minutes=30), boundary))
    second = tids(fetch_all(client, boundary, boundary + timedelta(minutes=30)))
    assert first == ["9001"]
    assert sorted(second) == ["9002", "9003"]


def test_it_asks_for_whole_inclusive_seconds_that_partition_adjacent_windows():
    a = datetime(2024, 5, 1, 12, 0, 0, tzinfo=SHANGHAI)
    b = a + timedelta(minutes=30)
    assert api_window(a, b) == (a, b - timedelta(seconds=1))
    assert api_window(b, b + timedelta(minutes=30))[0] == b
    assert api_window(a + timedelta(milliseconds=100), a + timedelta(milliseconds=300)) is None
    assert api_window(a, a + timedelta(milliseconds=300)) == (a, a)


# -- gateway refusals ---------------------------------------------------------------------------------------


def test_a_wrong_secret_is_a_permanent_top_25_that_does_not_show_the_secret(serve):
    book = past_book(count=5)
    _, url = serve(book)
    transport = HttpTransport(sleep=lambda s: None)
    wrong_secret = "not-the-secret-4242"
    with pytest.raises(ChannelError) as caught:
        fetch_all(make_client(url, transport, app_secret=wrong_secret), book.start, book.end)
    error = caught.value
    assert error.code == "TOP_25"
    assert not error.transient
    assert "Invalid signature" in error.message
    assert wrong_secret not in error.message
    assert TAOBAO["session"] not in error.message
    assert transport.stats.retries == 0


def test_a_wrong_session_is_a_permanent_top_27_with_the_reason(serve):
    book = past_book(count=5)
    _, url = serve(book)
    with pytest.raises(ChannelError) as caught:
        fetch_all(make_client(url, session="6201expired"), book.start, book.end)
    assert caught.value.code == "TOP_27"
    assert not caught.value.transient
    assert "invalid-sessionkey" in caught.value.message
    assert "SessionKey非法" in caught.value.message


def test_a_wrong_app_key_is_a_permanent_top_29(serve):
    book = past_book(count=5)
    _, url = serve(book)
    with pytest.raises(ChannelError) as caught:
        fetch_all(make_client(url, app_key="99999999"), book.start, book.end)
    assert caught.value.code == "TOP_29"


def test_the_gateway_refuses_a_window_over_one_day(serve):
    book = past_book(count=5)
    _, url = serve(book)
    client = make_client(url)
    with pytest.raises(ChannelError) as caught:
        fetch_all(client, NOW - timedelta(days=3), NOW - timedelta(days=1))
    assert caught.value.code == "TOP_41"
    assert "one day" in caught.value.message
    assert len(tids(fetch_all(client, NOW - timedelta(days=1), NOW))) == 5  # a day exactly is allowed


def test_the_gateway_refuses_a_timestamp_more_than_ten_minutes_off_and_accepts_epoch_millis(serve):
    _, url = serve(past_book(count=1))
    window = {
        "fields": "tid",
        "start_modified": format_time(NOW - timedelta(hours=1)),
        "end_modified": format_time(NOW),
    }
    stale = format_time(datetime.now(SHANGHAI) - timedelta(minutes=11))
    assert signed_call(url, timestamp=stale, **window)["error_response"]["code"] == 31
    millis = str(int(datetime.now(SHANGHAI).timestamp() * 1000))
    assert "trades_sold_increment_get_response" in signed_call(url, timestamp=millis, **window)


def test_the_gateway_checks_method_arguments_and_page_size(serve):
    _, url = serve(past_book(count=1))
    window = {"start_modified": format_time(NOW - timedelta(hours=1)), "end_modified": format_time(NOW)}
    assert signed_call(url, method="taobao.trades.sold.nothing", fields="tid", **window)["error_response"]["code"] == 22
    missing = signed_call(url, **window)["error_response"]
    assert (missing["code"], missing["msg"]) == (40, "Missing required arguments:fields")
    assert signed_call(url, fields="tid", page_size="101", **window)["error_response"]["code"] == 41
    assert signed_call(url, fields="tid", v="3.0", **window)["error_response"]["code"] == 34


def test_the_gateway_answers_has_next_instead_of_total_when_asked(serve):
    book = past_book(count=5)
    _, url = serve(book)
    window = {"start_modified": format_time(book.start), "end_modified": format_time(book.end)}
    body = signed_call(url, fields="tid", page_size="2", use_has_next="true", **window)
    answer = body["trades_sold_increment_get_response"]
    assert answer["has_next"] is True
    assert "total_results" not in answer
    assert [set(trade) for trade in answer["trades"]["trade"]] == [{"tid"}, {"tid"}]


def test_the_gateway_serves_one_full_trade_by_tid(serve):
    _, url = serve(book_with(stored_order(9100, NOW - timedelta(hours=1))))
    body = signed_call(url, method="taobao.trade.fullinfo.get", fields="tid,payment,orders", tid="9100")
    trade = body["trade_fullinfo_get_response"]["trade"]
    assert trade["tid"] == 9100
    assert trade["payment"] == "296.60"
    missing = signed_call(url, method="taobao.trade.fullinfo.get", fields="tid", tid="1")["error_response"]
    assert (missing["code"], missing["sub_code"]) == (15, "isv.trade-not-exist")


def test_test_connection_passes_with_good_credentials_and_names_the_refusal_otherwise(serve):
    _, url = serve(past_book(count=1))
    make_client(url).test_connection()
    with pytest.raises(ChannelError) as caught:
        make_client(url, app_secret="wrong").test_connection()
    assert caught.value.code == "TOP_25"


# -- transient failures -------------------------------------------------------------------------------------


def test_it_waits_out_a_throttle_ban_and_retries(serve):
    book = past_book(count=57)
    _, url = serve(book, Faults(throttle_rate=0.3, seed=3))
    sleeps: list[float] = []
    transport = HttpTransport(sleep=sleeps.append)
    got = tids(fetch_all(make_client(url, transport), book.start, book.end))
    assert sorted(got) == sorted(str(tid) for tid in book.iter_ids())
    assert transport.stats.retries > 0
    assert set(sleeps) == {2.0}  # "This ban will last for 1 more seconds", plus one


def test_it_retries_server_errors(serve):
    book = past_book(count=57)
    _, url = serve(book, Faults(error_rate=0.3, seed=4))
    transport = HttpTransport(sleep=lambda s: None)
    got = tids(fetch_all(make_client(url, transport), book.start, book.end))
    assert sorted(got) == sorted(str(tid) for tid in book.iter_ids())
    assert transport.stats.retries > 0


def test_it_retries_a_garbled_page(serve):
    book = past_book(count=57)
    _, url = serve(book, Faults(garbage_rate=0.3, seed=6))
    transport = HttpTransport(sleep=lambda s: None)
    pages = fetch_all(make_client(url, transport), book.start, book.end)
    assert sorted(tids(pages)) == sorted(str(tid) for tid in book.iter_ids())
    assert not any(page.errors for page in pages)
    assert transport.stats.retries > 0


def _seed_garbling_one_page(rate: float, calls: int) -> tuple[int, int]:
    """A seed whose first call is clean and exactly one later call is garbled, and that call's index."""
    for seed in range(1000):
        injector = FaultInjector(Faults(garbage_rate=rate, seed=seed))
        draws = [injector.draw() for _ in range(calls)]
        garbled = [index for index, draw in enumerate(draws) if draw == "garbage"]
        if draws[0] is None and len(garbled) == 1:
            return seed, garbled[0]
    raise AssertionError("no seed found")


def test_a_page_still_garbled_after_retries_is_an_error_of_that_page_and_the_others_arrive(serve):
    book = past_book(count=57)  # 6 pages of 10: calls are page 1, then pages 6, 5, 4, 3, 2, 1
    seed, bad_call = _seed_garbling_one_page(0.2, calls=7)
    bad_page = 7 - bad_call
    _, url = serve(book, Faults(garbage_rate=0.2, seed=seed))
    transport = HttpTransport(max_attempts=1, sleep=lambda s: None)
    pages = fetch_all(make_client(url, transport), book.start, book.end, page_size=10)

    assert len(pages) == 6
    errors = [error for page in pages for error in page.errors]
    assert [error.code for error in errors] == ["PAGE_GARBLED"]
    assert f"page {bad_page}" in errors[0].message
    newest_first = [str(tid) for tid in reversed(list(book.iter_ids()))]
    lost = newest_first[(bad_page - 1) * 10 : bad_page * 10]
    assert sorted(tids(pages)) == sorted(set(newest_first) - set(lost))


# -- reading trades -----------------------------------------------------------------------------------------


def fetch_one(serve, order: SimOrder) -> dict[str, Any]:
    _, url = serve(book_with(order))
    pages = fetch_all(make_client(url), order.modified - timedelta(minutes=1), order.modified + timedelta(minutes=1))
    [raw] = [raw for page in pages for raw in page.orders]
    return raw.payload


def test_the_simulator_renders_trades_with_tops_field_shapes(serve):
    trade = fetch_one(serve, stored_order(9200, NOW - timedelta(hours=1)))
    assert trade["tid"] == 9200
    assert (trade["total_fee"], trade["discount_fee"], trade["post_fee"], trade["payment"]) == (
        "296.00",
        "5.00",
        "12.00",
        "296.60",
    )
    assert trade["modified"] == format_time(NOW - timedelta(hours=1))
    line = trade["orders"]["order"][0]
    assert (line["oid"], line["num"], line["price"], line["total_fee"], line["discount_fee"]) == (
        92001,
        10,
        "12.80",
        "121.60",
        "6.40",
    )
    assert line["outer_sku_id"] == "FG-1002"


def test_it_normalises_a_rendered_trade_into_decimals_lines_and_times(serve):
    modified = NOW - timedelta(hours=1)
    order = make_client("http://x").normalise(fetch_one(serve, stored_order(9300, modified)))
    assert (order.external_id, order.external_number, order.external_status) == (
        "9300",
        "9300",
        "WAIT_SELLER_SEND_GOODS",
    )
    assert (order.goods_amount, order.discount_amount, order.shipping_amount, order.paid_amount) == (
        D("296.00"),
        D("5.00"),
        D("12.00"),
        D("296.60"),
    )
    assert (order.currency, order.receiver_country, order.receiver_phone) == ("CNY", "CN", "13912345678")
    assert (order.receiver_province, order.receiver_city, order.receiver_district, order.receiver_zip) == (
        "广东省",
        "东莞市",
        "长安镇",
        "523850",
    )
    assert order.updated_at == modified
    assert order.ordered_at == modified - timedelta(minutes=30)
    assert order.paid_at == modified - timedelta(minutes=29)
    assert order.updated_at.tzinfo == SHANGHAI
    first, second = order.lines
    assert (first.external_line_id, first.external_sku, first.qty, first.unit_price, first.discount) == (
        "93001",
        "FG-1002",
        D(10),
        D("12.80"),
        D("6.40"),
    )
    assert (second.external_sku, second.qty, second.unit_price, second.discount) == ("FG-3001", D(1), D("168.00"), D(0))
    assert not order.cancelled and not order.refunded


@pytest.mark.parametrize(
    ("status", "external", "cancelled", "refunded"),
    [
        ("paid", "WAIT_SELLER_SEND_GOODS", False, False),
        ("shipped", "WAIT_BUYER_CONFIRM_GOODS", False, False),
        ("cancelled", "TRADE_CLOSED_BY_TAOBAO", True, False),
        ("refunded", "TRADE_CLOSED", False, True),
        ("unpaid", "WAIT_BUYER_PAY", False, False),
    ],
)
def test_it_reads_each_trade_status(serve, status, external, cancelled, refunded):
    payload = fetch_one(serve, stored_order(9400, NOW - timedelta(hours=1), status=status))
    order = make_client("http://x").normalise(payload)
    assert (order.external_status, order.cancelled, order.refunded) == (external, cancelled, refunded)
    assert (order.paid_at is None) == (status in ("unpaid", "cancelled"))


def test_a_successful_line_refund_marks_the_trade_refunded():
    trade = {**SAMPLE_TRADE, "orders": {"order": [{**SAMPLE_TRADE["orders"]["order"][0], "refund_status": "SUCCESS"}]}}
    assert make_client("http://x").normalise(trade).refunded


def test_chinese_text_and_emoji_survive_the_round_trip(serve):
    payload = fetch_one(serve, stored_order(9500, NOW - timedelta(hours=1)))
    order = make_client("http://x").normalise(payload)
    assert order.buyer == "tb小明🐱"
    assert order.buyer_note == "请尽快发货🚚，谢谢！"
    assert order.receiver_name == "欧阳娜娜"
    assert order.receiver_address == "振兴路12号3栋501 🏭"
    assert order.lines[1].title == "执手门锁 拉丝银 室内门 🔒"


def test_it_falls_back_to_outer_iid_and_the_landline(serve):
    order = make_client("http://x").normalise(SAMPLE_TRADE)
    assert order.lines[0].external_sku == "FG-1002"
    assert order.receiver_phone == "0769-88888888"
    assert order.lines[0].discount == D(0)


def test_it_keeps_a_negative_quantity_for_validation_to_flag():
    trade = {**SAMPLE_TRADE, "orders": {"order": [{**SAMPLE_TRADE["orders"]["order"][0], "num": -2}]}}
    assert make_client("http://x").normalise(trade).lines[0].qty == D(-2)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tid": None}, "tid is missing"),
        ({"payment": "33.6O"}, "payment is not a number: '33.6O'"),
        ({"post_fee": {"amount": 8}}, "post_fee is not a number"),
        ({"orders": {"order": "FG-1002"}}, "orders.order is not a list"),
        ({"orders": {"order": [{"oid": 1, "num": "2.5", "price": "1.00"}]}}, "orders.order[1].num is not an integer"),
        ({"orders": {"order": [{"oid": 1, "num": 2, "price": "abc"}]}}, "orders.order[1].price is not a number"),
        ({"modified": "yesterday"}, "modified is not a time"),
    ],
)
def test_it_names_what_cannot_be_read_in_a_malformed_trade(change, reason):
    with pytest.raises(ChannelError) as caught:
        make_client("http://x").normalise({**SAMPLE_TRADE, **change})
    assert caught.value.code == "PAYLOAD_INVALID"
    assert reason in caught.value.message
    assert caught.value.external_id == ("" if change.get("tid", 0) is None else "2345678901234")


def test_a_verbatim_raw_trade_is_served_as_is_and_read_or_refused(serve):
    raw = {**SAMPLE_TRADE, "tid": 9600, "modified": format_time(NOW - timedelta(hours=1)), "payment": "n/a"}
    order = stored_order(9600, NOW - timedelta(hours=1), raw=raw)
    payload = fetch_one(serve, order)
    assert payload == raw
    with pytest.raises(ChannelError) as caught:
        make_client("http://x").normalise(payload)
    assert (caught.value.code, caught.value.external_id) == ("PAYLOAD_INVALID", "9600")
