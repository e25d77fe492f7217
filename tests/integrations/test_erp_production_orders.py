"""Production orders audited in the ERP become scheduled work orders in Loopline, once each."""

from decimal import Decimal

import pytest

from integrations.channels.base import HttpTransport
from integrations.erp.production_orders import erp_pull_production_orders
from integrations.models import ErpConnection
from integrations.simulators.k3_credentials import K3CLOUD
from integrations.simulators.k3cloud import K3CloudSimulator
from integrations.simulators.server import SimulatorApp, start_server
from production.models import Item, Operation, RoutingStep, WorkCenter, WorkOrder, Workshop

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp():
    server, url = start_server(SimulatorApp([K3CloudSimulator(K3CLOUD)]))
    connection = ErpConnection(
        name="K3", server_url=f"{url}/k3cloud/K3Cloud/", acct_id=K3CLOUD["acct_id"], username=K3CLOUD["username"]
    )
    connection.set_credentials({"password": K3CLOUD["password"]})
    connection.save()
    yield connection
    server.shutdown()


def routed(code: str) -> Item:
    workshop, _ = Workshop.objects.get_or_create(code="ZP", defaults={"name": "装配车间"})
    center, _ = WorkCenter.objects.get_or_create(code="ZP-01", defaults={"name": "装配线", "workshop": workshop})
    step, _ = Operation.objects.get_or_create(code="OP-AS", defaults={"name": "装配"})
    item = Item.objects.create(code=code, name=code, kind=Item.Kind.FINISHED, unit="套")
    RoutingStep.objects.create(
        item=item, sequence=10, operation=step, work_center=center, std_minutes_per_unit=Decimal("0.2")
    )
    return item


def test_audited_production_orders_become_scheduled_work_orders_once(erp):
    for code in ("FG-3001", "FG-1001", "SF-7101"):
        routed(code)
    transport = HttpTransport(sleep=lambda s: None)
    first = erp_pull_production_orders(connection=erp, transport=transport)
    # MO000001–3 are audited (C); MO000004 is in approval (B) and MO000005 a draft (A): not taken.
    assert sorted(first.created) == ["MO000001", "MO000002", "MO000003"]
    work_order = WorkOrder.objects.get(erp_number="MO000002")
    assert work_order.item.code == "FG-1001" and work_order.qty == Decimal(1000)
    assert work_order.planned_start is not None and work_order.due_date is not None
    again = erp_pull_production_orders(connection=erp, transport=transport)
    assert again.created == [] and again.unchanged == 3
    assert WorkOrder.objects.exclude(erp_number="").count() == 3


def test_an_erp_order_for_an_unknown_item_is_reported_not_guessed(erp):
    routed("FG-3001")
    result = erp_pull_production_orders(connection=erp, transport=HttpTransport(sleep=lambda s: None))
    assert result.created == ["MO000001"]
    assert {error["erp_number"] for error in result.errors} == {"MO000002", "MO000003"}


def test_each_pull_of_production_orders_is_a_sync_run_with_its_counts_and_errors(erp):
    from integrations.erp.master_data import erp_pull
    from integrations.models import SyncRun

    routed("FG-3001")
    transport = HttpTransport(sleep=lambda s: None)
    run = erp_pull(kind=SyncRun.Kind.ERP_PRODUCTION_ORDERS, connection=erp, transport=transport)
    assert (run.status, run.fetched, run.created, run.erp_connection_id) == ("partial", 3, 1, erp.pk)
    assert {(e["code"], e["external_id"]) for e in run.errors} == {
        ("ITEM_UNKNOWN", "MO000002"),
        ("ITEM_UNKNOWN", "MO000003"),
    }
    assert run.http_calls >= 2 and run.finished_at is not None


def test_an_erp_that_is_down_fails_the_production_order_run_with_its_error():
    from integrations.erp.production_orders import erp_pull_production_orders_run

    connection = ErpConnection(name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1", username="u")
    connection.set_credentials({"password": "x"})
    connection.save()
    run = erp_pull_production_orders_run(
        connection=connection, transport=HttpTransport(sleep=lambda s: None, max_attempts=1, timeout=2)
    )
    assert run.status == "failed" and run.errors[0]["code"] == "CONNECTION"
    assert not WorkOrder.objects.exists()
