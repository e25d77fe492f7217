"""Confirmed orders reach Kingdee K/3 Cloud exactly once, over real HTTP against the simulator."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from integrations.channels.base import HttpTransport
from integrations.erp.outbox import MAX_ATTEMPTS, drain_erp_outbox, erp_push_retry
from integrations.models import ErpConnection
from integrations.simulators.k3_credentials import K3CLOUD
from integrations.simulators.k3cloud import K3CloudSimulator
from integrations.simulators.server import SimulatorApp, start_server
from orders.models import ErpPush, SalesOrder
from orders.services import order_confirm
from production.models import Item
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def erp():
    simulator = K3CloudSimulator(K3CLOUD)
    app = SimulatorApp([simulator])
    server, url = start_server(app)
    connection = ErpConnection(
        name="金蝶云星空", server_url=f"{url}/k3cloud/K3Cloud/", acct_id=K3CLOUD["acct_id"],
        username=K3CLOUD["username"], currency_numbers={"CNY": "PRE001", "USD": "PRE007"},
    )  # fmt: skip
    connection.set_credentials({"password": K3CLOUD["password"]})
    connection.save()
    yield app, simulator
    server.shutdown()


def fast(timeout: float = 5.0) -> HttpTransport:
    return HttpTransport(sleep=lambda seconds: None, max_attempts=2, timeout=timeout)


def confirmed_orders(count: int, sku: str = "FG-1002") -> list[SalesOrder]:
    hinge, _ = Item.objects.get_or_create(code=sku, defaults={"name": "不锈钢合页", "kind": "finished", "unit": "片"})
    account = make_account(code="TB1", erp_customer_number="CUST0001")
    orders = []
    for _ in range(count):
        order = make_order(
            account, lines=[(sku, 2, "12.80")], items={sku: hinge}, status=SalesOrder.Status.NEEDS_REVIEW
        )
        orders.append(order_confirm(order=order, by=None))
    return orders


def erp_bills(simulator: K3CloudSimulator) -> list[str]:
    from integrations.erp.outbox import active_connection, erp_client

    client = erp_client(active_connection(), fast())
    return [row[0] for row in client.execute_bill_query("SAL_SaleOrder", ["FNote"], order_string="FID ASC")]


def test_confirming_an_order_queues_it_and_the_drain_brings_back_the_erp_bill_number(erp):
    _app, simulator = erp
    (order,) = confirmed_orders(1)
    assert order.erp_push.status == ErpPush.Status.PENDING
    result = drain_erp_outbox(transport=fast())
    assert result.pushed == 1
    order.refresh_from_db()
    assert order.erp_number.startswith("XSDD") and order.erp_state == "saved"
    assert erp_bills(simulator) == [f"LL:{order.number}"]


def test_an_erp_down_for_an_hour_loses_nothing_and_then_pushes_each_order_once(erp):
    app, simulator = erp
    app.set_faults(down=True)
    orders = confirmed_orders(5)
    now = timezone.now()
    for minute in range(0, 60, 10):
        drain_erp_outbox(transport=fast(), now=now + timedelta(minutes=minute))
    assert all(push.status == ErpPush.Status.PENDING for push in ErpPush.objects.all())
    app.set_faults(down=False)
    later = now + timedelta(hours=2)
    for _ in range(3):
        drain_erp_outbox(transport=fast(), now=later)
    assert ErpPush.objects.filter(status=ErpPush.Status.DONE).count() == 5
    assert sorted(erp_bills(simulator)) == sorted(f"LL:{order.number}" for order in orders)


def test_a_save_that_succeeded_but_timed_out_is_not_saved_again(erp):
    _app, simulator = erp
    (order,) = confirmed_orders(1)
    simulator.save_timeout, simulator.save_timeout_seconds = True, 1.5
    first = drain_erp_outbox(transport=fast(timeout=0.5))
    assert first.deferred == 1
    simulator.save_timeout = False
    drain_erp_outbox(transport=fast(), now=timezone.now() + timedelta(hours=1))
    order.refresh_from_db()
    assert order.erp_state == "saved" and order.erp_number
    assert erp_bills(simulator) == [f"LL:{order.number}"]


def test_an_erp_validation_error_shows_the_erps_message_and_the_order_can_be_fixed_and_pushed_again(erp, users):
    _app, simulator = erp
    (order,) = confirmed_orders(1, sku="FG-9999")  # a material the ERP does not know
    result = drain_erp_outbox(transport=fast())
    assert result.dead == 1
    push = ErpPush.objects.get(order=order)
    assert push.status == ErpPush.Status.DEAD
    assert "FG-9999" in push.last_error
    order.refresh_from_db()
    assert order.erp_state == "failed"
    # IT maps the line to the right item, then retries the push.
    right = Item.objects.create(code="FG-1002", name="不锈钢合页", kind="finished", unit="片")
    order.lines.update(item=right)
    erp_push_retry(push=push, by=users[Role.IT_ADMIN])
    assert drain_erp_outbox(transport=fast()).pushed == 1
    assert AuditEvent.objects.filter(verb="erp_push.retry", actor=users[Role.IT_ADMIN]).exists()
    assert erp_bills(simulator) == [f"LL:{order.number}"]


def test_an_erp_that_keeps_failing_dead_letters_the_entry_after_the_last_attempt(erp):
    app, _simulator = erp
    (order,) = confirmed_orders(1)
    app.set_faults(down=True)
    now = timezone.now()
    for attempt in range(MAX_ATTEMPTS):
        drain_erp_outbox(transport=fast(), now=now + timedelta(days=attempt))
    push = ErpPush.objects.get(order=order)
    assert push.status == ErpPush.Status.DEAD and push.attempts == MAX_ATTEMPTS
    assert push.last_error_code


def test_orders_confirmed_by_the_intake_enter_the_outbox_in_the_same_transaction(erp):
    orders = confirmed_orders(2)
    assert ErpPush.objects.filter(order__in=orders).count() == 2
    assert Decimal(orders[0].lines.get().item_qty) == Decimal(2)
