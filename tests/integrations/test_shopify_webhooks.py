"""Shopify order webhooks: verified by HMAC, fed through the pipeline at once, never duplicating the poll."""

from datetime import timedelta

import pytest
from django.urls import reverse

from integrations.channels.base import HttpTransport
from integrations.models import ChannelAccount, SyncRun
from integrations.services import channel_account_save, poll_account
from integrations.simulators import credentials
from integrations.simulators.orderbook import SHANGHAI, OrderBook
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.shopify import ShopifySimulator, webhook_request
from orders.models import SalesOrder
from tests.integrations.intake_fixtures import WINDOW_START, make_catalogue_items

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = credentials.SHOPIFY["webhook_secret"]


@pytest.fixture
def store():
    book = OrderBook(start=WINDOW_START, end=WINDOW_START + timedelta(hours=1), count=5, seed=9, currency="USD")
    server, url = start_server(SimulatorApp([ShopifySimulator(book, credentials.SHOPIFY)]))
    make_catalogue_items()
    account = channel_account_save(
        account=ChannelAccount(
            kind="shopify", name="Loopline Hardware", code="SH1", base_url=f"{url}/shopify",
            app_key=credentials.SHOPIFY["shop"], backfill_from=WINDOW_START, default_currency="USD",
        ),
        credentials={k: credentials.SHOPIFY[k] for k in ("access_token", "api_version", "webhook_secret")},
        by=None,
    )  # fmt: skip
    yield book, account
    server.shutdown()


def post(client, account, body: bytes, headers: dict[str, str]):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(
        reverse("shopify-webhook", args=[account.code]), data=body, content_type="application/json", **extra
    )


def test_a_signed_webhook_creates_the_order_at_once(client, store):
    book, account = store
    order = book.generated(0)
    body, headers = webhook_request(order, "orders/create", SECRET)
    response = post(client, account, body, headers)
    assert response.status_code == 200, response.content
    stored = SalesOrder.objects.get(external_id=str(order.order_id))
    assert stored.currency == "USD"
    assert SyncRun.objects.get(trigger=SyncRun.Trigger.WEBHOOK).created == 1


def test_a_bad_signature_is_refused_and_writes_nothing(client, store):
    book, account = store
    body, headers = webhook_request(book.generated(1), "orders/create", "wrong-secret")
    response = post(client, account, body, headers)
    assert response.status_code == 401
    assert not SalesOrder.objects.exists()


def test_a_tampered_body_is_refused(client, store):
    book, account = store
    body, headers = webhook_request(book.generated(1), "orders/create", SECRET)
    response = post(client, account, body.replace(b"}", b', "total_price": "0.01"}', 1), headers)
    assert response.status_code == 401


def test_a_repeated_webhook_and_the_next_poll_do_not_duplicate_the_order(client, store):
    book, account = store
    order = book.generated(2)
    body, headers = webhook_request(order, "orders/create", SECRET)
    post(client, account, body, headers)
    post(client, account, body, headers)
    run = poll_account(
        account_id=account.pk, transport=HttpTransport(sleep=lambda s: None), now=WINDOW_START + timedelta(hours=1)
    )
    assert run.status == SyncRun.Status.SUCCEEDED
    assert SalesOrder.objects.filter(external_id=str(order.order_id)).count() == 1
    assert SalesOrder.objects.count() == 5


def test_a_cancellation_webhook_after_confirmation_raises_an_issue(client, store):
    book, account = store
    order = book.generated(3)
    post(client, account, *webhook_request(order, "orders/create", SECRET))
    stored = SalesOrder.objects.get(external_id=str(order.order_id))
    if stored.status != SalesOrder.Status.CONFIRMED:
        pytest.skip("the generated order needs review; covered by the intake tests")
    book.touch(order.order_id, status="cancelled", when=WINDOW_START.astimezone(SHANGHAI) + timedelta(hours=2))
    post(client, account, *webhook_request(book.get(order.order_id), "orders/cancelled", SECRET))
    stored.refresh_from_db()
    assert stored.status == SalesOrder.Status.CONFIRMED
    assert stored.issues.filter(code="CHANGED_AFTER_CONFIRMATION").exists()


def test_an_unknown_shop_and_a_non_order_body_get_clear_errors(client, store):
    _book, account = store
    assert client.post("/webhooks/shopify/NOPE/", data=b"{}", content_type="application/json").status_code == 404
    body = b'{"hello": 1}'
    from integrations.channels.shopify import webhook_signature

    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": webhook_signature(body, SECRET)}
    assert post(client, account, body, headers).status_code == 400
