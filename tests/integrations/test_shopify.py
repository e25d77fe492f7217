"""The Shopify Admin GraphQL client, webhook helpers and simulator, over real HTTP."""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from integrations.channels.base import ChannelError, HttpTransport, NormalisedOrder
from integrations.channels.shopify import ShopifyClient, normalise_webhook, verify_webhook, webhook_signature
from integrations.simulators.credentials import SHOPIFY
from integrations.simulators.orderbook import SHANGHAI, OrderBook, SimOrder
from integrations.simulators.server import Faults, SimulatorApp, start_server
from integrations.simulators.shopify import ShopifySimulator, render_node, webhook_request

START = datetime(2025, 3, 1, tzinfo=SHANGHAI)
END = START + timedelta(days=1)
CENT = Decimal("0.01")


class FakeClock:
    """The simulator's bucket clock, moved on by the client's sleeps, so throttling costs no real time."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Shop:
    app: SimulatorApp
    sim: ShopifySimulator
    book: OrderBook
    base_url: str
    clock: FakeClock
    transports: list[HttpTransport] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/shopify/admin/api/2025-01/graphql.json"

    def client(self, **credential_changes: str) -> ShopifyClient:
        transport = HttpTransport(sleep=self.clock.sleep, timeout=5)
        self.transports.append(transport)
        return ShopifyClient(
            base_url=f"{self.base_url}/shopify",
            app_key=SHOPIFY["shop"],
            credentials={**SHOPIFY, **credential_changes},
            transport=transport,
        )

    def post(self, query: str, variables: dict | None = None, token: str = SHOPIFY["access_token"]):
        return requests.post(
            self.endpoint,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token},
            timeout=5,
        )


@pytest.fixture
def shop_factory():
    servers = []

    def build(count: int = 120, currency: str = "USD", start=START, end=END, **sim_options) -> Shop:
        clock = FakeClock()
        faults = Faults()
        book = OrderBook(start=start, end=end, count=count, currency=currency)
        sim = ShopifySimulator(book, SHOPIFY, faults=faults, clock=clock, **sim_options)
        app = SimulatorApp([sim], faults)
        server, base_url = start_server(app)
        servers.append(server)
        return Shop(app, sim, book, base_url, clock)

    yield build
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch_all(client: ShopifyClient, start=START, end=END, page_size: int = 50):
    pages = list(client.fetch_window(start, end, page_size=page_size))
    return pages, [order for page in pages for order in page.orders]


def test_it_fetches_every_order_of_the_window_exactly_once_across_pages(shop_factory):
    shop = shop_factory(count=230)
    client = shop.client()

    pages, orders = fetch_all(client, page_size=50)

    ids = [order.external_id for order in orders]
    assert len(pages) == 5
    assert len(ids) == len(set(ids)) == 230
    assert ids == [str(order.order_id) for order in shop.book.window(START, END)]
    assert all(not page.errors for page in pages)


def test_it_fetches_only_the_orders_updated_inside_the_window(shop_factory):
    shop = shop_factory(count=240)
    window_start, window_end = START + timedelta(hours=6), START + timedelta(hours=12)

    _, orders = fetch_all(shop.client(), window_start, window_end, page_size=25)

    expected = [str(order.order_id) for order in shop.book.window(window_start, window_end)]
    assert len(expected) == 60
    assert [order.external_id for order in orders] == expected


def test_it_asks_at_most_250_orders_a_page_whatever_page_size_it_is_given(shop_factory):
    shop = shop_factory(count=600)

    pages, orders = fetch_all(shop.client(), page_size=1000)

    assert [len(page.orders) for page in pages] == [250, 250, 100]
    assert len({order.external_id for order in orders}) == 600


def test_the_simulator_rejects_first_above_250_with_shopifys_error(shop_factory):
    shop = shop_factory(count=10)

    response = shop.post("{ orders(first: 251) { edges { node { id } } } }")

    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == "first cannot exceed 250"
    assert "data" not in body


def test_the_simulators_cursors_are_opaque_base64_and_resume_after_the_last_order(shop_factory):
    shop = shop_factory(count=10)
    query = (
        "query($after: String) { orders(first: 4, after: $after, sortKey: UPDATED_AT) "
        "{ edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )

    first = shop.post(query).json()["data"]["orders"]
    second = shop.post(query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["orders"]

    base64.b64decode(first["pageInfo"]["endCursor"], validate=True)
    ids = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert len(ids) == len(set(ids)) == 8
    assert shop.post(query, {"after": "not-a-cursor"}).json()["errors"][0]["message"].startswith("Invalid cursor")


def test_it_refuses_a_bad_token_as_a_permanent_shopify_auth_error_that_does_not_show_the_token(shop_factory):
    shop = shop_factory(count=10)
    client = shop.client(access_token="shpat_wrong_token_0000000000000099")

    with pytest.raises(ChannelError) as caught:
        fetch_all(client)

    error = caught.value
    assert error.code == "SHOPIFY_AUTH"
    assert error.transient is False
    assert "shpat_wrong_token" not in str(error.as_record())
    assert SHOPIFY["shop"] in error.message
    assert shop.transports[0].stats.http_calls == 1


def test_the_simulator_answers_a_bad_token_with_shopifys_401_body(shop_factory):
    shop = shop_factory(count=1)

    response = shop.post("{ shop { name } }", token="shpat_nope")

    assert response.status_code == 401
    assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_it_reports_an_unsupported_api_version_as_a_permanent_error(shop_factory):
    shop = shop_factory(count=1)

    with pytest.raises(ChannelError) as caught:
        fetch_all(shop.client(api_version="2019-04"))

    assert caught.value.code == "HTTP_404"
    assert caught.value.transient is False


def test_it_waits_out_an_empty_cost_bucket_and_counts_the_retry(shop_factory):
    shop = shop_factory(count=120)
    shop.sim.bucket.available = 0  # another app of the same shop spent the bucket

    _, orders = fetch_all(shop.client(), page_size=50)

    stats = shop.transports[0].stats
    assert len(orders) == 120
    assert stats.retries == 1
    # requested 2 + 3 × 50 = 152 points at 50 points/s, plus the client's cushion
    assert shop.clock.sleeps[0] == pytest.approx(152 / 50, abs=0.15)


def test_it_reads_a_throttled_answer_sent_with_http_429_the_same_way(shop_factory):
    shop = shop_factory(count=30, throttle_status=429)
    shop.sim.bucket.available = 100

    _, orders = fetch_all(shop.client(), page_size=50)

    assert len(orders) == 30
    assert shop.transports[0].stats.retries == 1
    assert shop.clock.sleeps[0] == pytest.approx((152 - 100) / 50, abs=0.15)


def test_it_sleeps_before_a_page_the_bucket_cannot_afford_instead_of_being_throttled(shop_factory):
    shop = shop_factory(count=1000)

    _, orders = fetch_all(shop.client(), page_size=100)

    assert len(orders) == 1000
    assert shop.transports[0].stats.retries == 0
    assert shop.clock.sleeps  # the bucket (1000 points) cannot pay for ten pages of 302 without waiting


def test_it_retries_injected_throttling_and_completes_the_window(shop_factory):
    shop = shop_factory(count=200)
    shop.app.set_faults(throttle_rate=0.4)

    _, orders = fetch_all(shop.client(), page_size=20)

    assert len({order.external_id for order in orders}) == 200
    assert shop.transports[0].stats.retries > 0
    assert min(shop.clock.sleeps) >= 0.5


def test_it_retries_server_errors_and_completes_the_window(shop_factory):
    shop = shop_factory(count=200)
    shop.app.set_faults(error_rate=0.3)

    _, orders = fetch_all(shop.client(), page_size=20)

    assert len({order.external_id for order in orders}) == 200
    assert shop.transports[0].stats.retries > 0


def test_it_raises_on_a_page_that_stays_garbled_since_cursor_pages_cannot_be_skipped(shop_factory):
    shop = shop_factory(count=20)
    shop.app.set_faults(garbage_rate=1.0)

    with pytest.raises(ChannelError) as caught:
        fetch_all(shop.client())

    assert caught.value.code == "PAGE_GARBLED"
    assert shop.transports[0].stats.http_calls == 5


def test_it_drops_an_order_repeated_on_the_next_page(shop_factory):
    shop = shop_factory(count=100)
    shop.app.set_faults(duplicate_across_pages=True)

    _, orders = fetch_all(shop.client(), page_size=30)

    ids = [order.external_id for order in orders]
    assert len(ids) == len(set(ids)) == 100


def test_the_simulator_repeats_the_last_order_of_a_page_when_asked(shop_factory):
    shop = shop_factory(count=10)
    shop.app.set_faults(duplicate_across_pages=True)
    query = "query($after: String) { orders(first: 3, after: $after) { edges { node { id } } pageInfo { endCursor } } }"

    first = shop.post(query).json()["data"]["orders"]
    second = shop.post(query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["orders"]

    assert second["edges"][0]["node"]["id"] == first["edges"][-1]["node"]["id"]


def test_it_serves_an_order_changed_while_the_window_is_paged_once_in_its_new_version(shop_factory):
    now = datetime.now(SHANGHAI)
    shop = shop_factory(count=90, start=now - timedelta(days=1), end=now - timedelta(hours=1))
    shop.app.set_faults(modify_between_pages=True)

    _, orders = fetch_all(shop.client(), now - timedelta(days=1), now + timedelta(hours=1), page_size=20)

    ids = [order.external_id for order in orders]
    assert len(ids) == len(set(ids)) == 90
    moved = {str(order_id) for order_id in shop.book.stored}
    assert moved
    served_last = {order.external_id for order in orders[-len(moved) :]}
    assert served_last == moved


def test_it_normalises_usd_orders_with_decimal_money_and_their_lines(shop_factory):
    shop = shop_factory(count=40)
    client = shop.client()
    _, raw_orders = fetch_all(client)

    for raw in raw_orders:
        order = client.normalise(raw.payload)
        sim = shop.book.get(int(raw.external_id))
        assert order.external_id == str(sim.order_id)
        assert order.external_number.startswith("#")
        assert order.external_status == "paid"
        assert (order.cancelled, order.refunded) == (False, False)
        assert order.currency == "USD"
        assert order.buyer == sim.buyer_nick
        assert order.receiver_name == sim.receiver_name
        assert order.receiver_country == "US"
        assert order.receiver_city == sim.city
        assert order.receiver_address == sim.address
        assert order.receiver_zip == sim.zip
        assert order.ordered_at == sim.created.replace(microsecond=0)
        assert order.updated_at == sim.modified.replace(microsecond=0)
        assert order.paid_at == order.ordered_at
        for amount in (order.goods_amount, order.discount_amount, order.shipping_amount, order.paid_amount):
            assert isinstance(amount, Decimal)
        assert order.goods_amount == sim.goods_total
        assert order.shipping_amount == sim.shipping
        assert order.paid_amount == sim.paid
        assert [
            (line.external_line_id, line.external_sku, line.qty, line.unit_price, line.discount) for line in order.lines
        ] == [
            (str(line["line_id"]), line["sku"], Decimal(line["qty"]), line["price"], line["discount"])
            for line in sim.lines
        ]
        all_discounts = order.discount_amount + sum((line.discount for line in order.lines), Decimal(0))
        assert (order.goods_amount - all_discounts + order.shipping_amount).quantize(CENT) == order.paid_amount


def test_it_keeps_the_totals_identity_for_orders_with_order_level_discounts(shop_factory):
    shop = shop_factory(count=80, currency="CNY")
    client = shop.client()
    _, raw_orders = fetch_all(client)

    orders = [client.normalise(raw.payload) for raw in raw_orders]

    assert any(order.discount_amount > 0 for order in orders)
    for order in orders:
        sim = shop.book.get(int(order.external_id))
        assert order.discount_amount == sim.discount  # the line discounts stay on the lines
        all_discounts = order.discount_amount + sum((line.discount for line in order.lines), Decimal(0))
        assert (order.goods_amount - all_discounts + order.shipping_amount).quantize(CENT) == order.paid_amount


def test_it_puts_tax_charged_on_top_into_shipping_so_the_totals_still_add_up(shop_factory):
    shop = shop_factory(count=0)
    order = shop.book.generated(0)
    node = render_node(replace(order, order_id=9001, modified=START + timedelta(hours=1)))
    node["totalTaxSet"] = {"shopMoney": {"amount": "7.25", "currencyCode": "USD"}}
    node["totalPriceSet"] = {"shopMoney": {"amount": str(order.paid + Decimal("7.25")), "currencyCode": "USD"}}
    shop.book.put(replace(order, order_id=9001, modified=START + timedelta(hours=1), raw=node))
    client = shop.client()

    _, raw_orders = fetch_all(client)
    normalised = client.normalise(raw_orders[0].payload)

    assert normalised.shipping_amount == order.shipping + Decimal("7.25")
    assert normalised.paid_amount == order.paid + Decimal("7.25")
    included = client.normalise(
        {**raw_orders[0].payload, "taxesIncluded": True, "totalPriceSet": node["totalPriceSet"]}
    )
    assert included.shipping_amount == order.shipping


def test_it_maps_cancelled_and_refunded_orders_to_their_flags(shop_factory):
    shop = shop_factory(count=3)
    ids = list(shop.book.iter_ids())
    shop.book.touch(ids[0], when=START + timedelta(hours=20), status="cancelled")
    shop.book.touch(ids[1], when=START + timedelta(hours=21), status="refunded")
    shop.book.touch(ids[2], when=START + timedelta(hours=22), status="shipped")
    client = shop.client()

    _, raw_orders = fetch_all(client)
    by_id = {raw.external_id: client.normalise(raw.payload) for raw in raw_orders}

    cancelled, refunded, shipped = (by_id[str(order_id)] for order_id in ids)
    assert (cancelled.external_status, cancelled.cancelled, cancelled.refunded, cancelled.paid_at) == (
        "voided",
        True,
        False,
        None,
    )
    assert (refunded.external_status, refunded.cancelled, refunded.refunded) == ("refunded", False, True)
    assert (shipped.external_status, shipped.cancelled, shipped.refunded) == ("paid", False, False)


def test_the_graphql_and_webhook_readers_agree_on_the_same_order(shop_factory):
    shop = shop_factory(count=30, currency="CNY")
    ids = list(shop.book.iter_ids())
    shop.book.touch(ids[0], when=START + timedelta(hours=23), status="cancelled")
    shop.book.touch(ids[1], when=START + timedelta(hours=23, minutes=1), status="refunded")
    client = shop.client()
    _, raw_orders = fetch_all(client)
    secret = SHOPIFY["webhook_secret"]

    for raw in raw_orders:
        body, headers = webhook_request(shop.book.get(int(raw.external_id)), "orders/updated", secret)
        assert verify_webhook(body, headers["X-Shopify-Hmac-Sha256"], secret)
        from_webhook = normalise_webhook(json.loads(body))
        assert isinstance(from_webhook, NormalisedOrder)
        assert from_webhook == client.normalise(raw.payload)


def test_the_webhook_request_carries_shopifys_headers(shop_factory):
    shop = shop_factory(count=1)

    body, headers = webhook_request(shop.book.generated(0), "orders/paid", "s3cret")

    assert headers["X-Shopify-Topic"] == "orders/paid"
    assert headers["X-Shopify-Shop-Domain"] == SHOPIFY["shop"]
    assert headers["X-Shopify-Webhook-Id"]
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected


def test_webhook_signature_is_base64_hmac_sha256_of_the_raw_body():
    body = b'{"id":450789469,"name":"#1001"}'

    by_hand = base64.b64encode(hmac.new(b"hush", body, hashlib.sha256).digest()).decode()

    assert webhook_signature(body, "hush") == by_hand == "Y3S0OcgdRab3yE7clVq/m9rzY5a6y13OKkjMFe0FjeI="


def test_verify_webhook_rejects_a_tampered_body_a_wrong_secret_and_a_missing_header():
    body = b'{"id":450789469,"total_price":"10.00"}'
    header = webhook_signature(body, "hush")

    assert verify_webhook(body, header, "hush")
    assert not verify_webhook(body.replace(b"10.00", b"1.00"), header, "hush")
    assert not verify_webhook(body, header, "other")
    assert not verify_webhook(body, "", "hush")
    assert not verify_webhook(body, "不是签名", "hush")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"totalPriceSet": None}, "totalPriceSet"),
        ({"totalPriceSet": {"shopMoney": {"amount": "twelve", "currencyCode": "USD"}}}, "twelve"),
        ({"lineItems": "many"}, "lineItems"),
        ({"createdAt": "2025-03-01T10:00:00"}, "offset"),
        ({"lineItems": {"pageInfo": {"hasNextPage": True}, "edges": []}}, "more than 100"),
    ],
)
def test_it_reports_an_unreadable_order_as_payload_invalid_with_its_id(shop_factory, change, reason):
    shop = shop_factory(count=1)
    client = shop.client()
    _, raw_orders = fetch_all(client)
    payload = {**raw_orders[0].payload, **change}
    payload = {key: value for key, value in payload.items() if value is not None or key not in change}

    with pytest.raises(ChannelError) as caught:
        client.normalise(payload)

    assert caught.value.code == "PAYLOAD_INVALID"
    assert caught.value.transient is False
    assert caught.value.external_id == raw_orders[0].external_id
    assert reason.lower() in caught.value.message.lower()


def test_it_reports_a_broken_order_served_by_the_shop_as_payload_invalid(shop_factory):
    shop = shop_factory(count=0)
    broken = {"id": "gid://shopify/Order/77", "legacyResourceId": "77", "name": "#77", "lineItems": {"edges": []}}
    shop.book.put(replace(shop.book.generated(0), order_id=77, modified=START + timedelta(hours=2), raw=broken))
    client = shop.client()

    _, raw_orders = fetch_all(client)
    with pytest.raises(ChannelError) as caught:
        client.normalise(raw_orders[0].payload)

    assert (caught.value.code, caught.value.external_id) == ("PAYLOAD_INVALID", "77")
    with pytest.raises(ChannelError) as not_an_object:
        client.normalise(["not", "an", "order"])
    assert not_an_object.value.code == "PAYLOAD_INVALID"
    with pytest.raises(ChannelError) as rest:
        normalise_webhook({"id": 5, "total_price": "1.00"})
    assert (rest.value.code, rest.value.external_id) == ("PAYLOAD_INVALID", "5")


def test_it_reads_a_negative_quantity_without_raising(shop_factory):
    shop = shop_factory(count=1)
    client = shop.client()
    _, raw_orders = fetch_all(client)
    payload = json.loads(json.dumps(raw_orders[0].payload))
    payload["lineItems"]["edges"][0]["node"]["quantity"] = -2

    order = client.normalise(payload)

    assert order.lines[0].qty == Decimal(-2)


def test_it_tests_the_connection_with_the_shops_name(shop_factory):
    shop = shop_factory(count=1)

    assert shop.client().test_connection()["domain"] == SHOPIFY["shop"]
    with pytest.raises(ChannelError) as caught:
        shop.client(access_token="shpat_bad").test_connection()
    assert caught.value.code == "SHOPIFY_AUTH"


def test_generated_orders_are_sim_orders_in_usd():
    book = OrderBook(start=START, end=END, count=2, currency="USD")

    assert isinstance(book.generated(0), SimOrder)
    assert render_node(book.generated(0))["currencyCode"] == "USD"
