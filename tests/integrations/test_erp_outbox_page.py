"""IT's ERP outbox page: entries with state, attempts and the ERP's last error; filter by state; retry."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from orders.models import ErpPush, SalesOrder
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db


def push(account, status=ErpPush.Status.DEAD, **fields) -> ErpPush:
    order = make_order(account, status=SalesOrder.Status.CONFIRMED)
    return ErpPush.objects.create(order=order, status=status, **fields)


@pytest.fixture
def outbox():
    shop = make_account("TB1")
    dead = push(shop, attempts=10, last_error="物料编码“FG-9999”不存在", last_error_code="K3_VALIDATION")
    done = push(shop, status=ErpPush.Status.DONE, attempts=1)
    return dead, done


def test_it_sees_each_entry_with_the_erps_error_and_filters_by_state(client, users, outbox):
    dead, done = outbox
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.IT_ADMIN])
    body = client.get(reverse("integrations:erp-outbox")).content.decode()
    assert f'data-order="{dead.order.number}"' in body and f'data-order="{done.order.number}"' in body
    assert "物料编码“FG-9999”不存在" in body and "K3_VALIDATION" in body
    only_dead = client.get(reverse("integrations:erp-outbox"), {"status": "dead"}).content.decode()
    assert dead.order.number in only_dead and done.order.number not in only_dead
    assert only_dead.count(">Retry</button>") == 1


def test_retry_puts_a_dead_push_back_in_the_queue(client, users, outbox):
    dead, _done = outbox
    client.force_login(users[Role.IT_ADMIN])
    response = client.post(
        reverse("integrations:erp-outbox-retry", args=[dead.pk]), {"next": "/intake/erp/outbox/?status=dead"}
    )
    assert response.status_code == 302 and response["Location"] == "/intake/erp/outbox/?status=dead"
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (ErpPush.Status.PENDING, 0)
    assert SalesOrder.objects.get(pk=dead.order_id).erp_state == "retrying"


def test_customer_service_reads_the_outbox_but_cannot_retry(client, users, outbox):
    dead, _done = outbox
    client.force_login(users[Role.CUSTOMER_SERVICE])
    body = client.get(reverse("integrations:erp-outbox")).content.decode()
    assert dead.order.number in body and ">Retry</button>" not in body and "重试</button>" not in body
    assert client.post(reverse("integrations:erp-outbox-retry", args=[dead.pk])).status_code == 403
    client.force_login(users[Role.SALES])
    assert client.get(reverse("integrations:erp-outbox")).status_code == 403


def test_the_outbox_page_costs_the_same_queries_for_few_and_many_entries(client, users):
    client.force_login(users[Role.IT_ADMIN])
    shop = make_account("TB1")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("integrations:erp-outbox")).status_code == 200
        return len(captured)

    push(shop)
    few = queries()
    for _ in range(30):
        push(shop, last_error="超时", last_error_code="TIMEOUT")
    assert queries() == few
