"""Materials, stock and BOMs come from the ERP incrementally, over real HTTP against the K/3 Cloud simulator."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from accounts.roles import Role
from integrations import tasks
from integrations.channels.base import HttpTransport
from integrations.erp.master_data import erp_pull, erp_pull_master_data
from integrations.models import ErpConnection, SyncRun
from integrations.simulators.k3_credentials import K3CLOUD
from integrations.simulators.k3cloud import DEMO_BOMS, DEMO_MATERIALS, DEMO_STOCK, K3CloudSimulator
from integrations.simulators.server import SimulatorApp, start_server
from production.models import BomLine, Item, StockLevel, Warehouse

pytestmark = pytest.mark.django_db
Kind = SyncRun.Kind


@pytest.fixture
def k3():
    simulator = K3CloudSimulator(K3CLOUD)
    server, url = start_server(SimulatorApp([simulator]))
    connection = ErpConnection(
        name="K3", server_url=f"{url}/k3cloud/K3Cloud/", acct_id=K3CLOUD["acct_id"], username=K3CLOUD["username"]
    )
    connection.set_credentials({"password": K3CLOUD["password"]})
    connection.save()
    for n in range(1, 5):
        Warehouse.objects.create(code=f"WH{n}", name=f"仓库{n}", erp_code=f"K3-CK0{n}")
    yield simulator, connection
    server.shutdown()


def pull(connection: ErpConnection, kind: str) -> SyncRun:
    run = erp_pull(kind=kind, connection=connection, transport=HttpTransport(sleep=lambda s: None, max_attempts=2))
    assert run is not None
    run.refresh_from_db()
    return run


def test_the_first_pull_brings_every_material_stock_level_and_bom(k3):
    _sim, connection = k3
    runs = erp_pull_master_data(transport=HttpTransport(sleep=lambda s: None))
    assert [(run.kind, run.status) for run in runs] == [
        (Kind.ERP_MATERIALS, "succeeded"),
        (Kind.ERP_STOCK, "succeeded"),
        (Kind.ERP_BOMS, "succeeded"),
    ]
    assert runs[0].created == len(DEMO_MATERIALS) == Item.objects.count()
    hinge = Item.objects.get(code="FG-1001")
    assert hinge.name == "不锈钢合页 3寸 2.0厚 拉丝" and hinge.unit == "片" and hinge.is_made
    assert Item.objects.get(code="RM-1003").kind == Item.Kind.PURCHASED
    assert StockLevel.objects.count() == len(DEMO_STOCK) == runs[1].created
    assert StockLevel.objects.get(item__code="PP-1005", warehouse__erp_code="K3-CK02").qty_on_hand == 30000
    assert BomLine.objects.count() == len(DEMO_BOMS) == runs[2].created
    box = BomLine.objects.get(parent__code="FG-1001", child__code="PP-4003")
    assert box.qty_per == Decimal("0.5")  # 1/2: one box holds a pair
    assert all(run.erp_connection_id == connection.pk and run.account_id is None for run in runs)


def test_a_second_pull_sees_only_the_overlap_and_changes_nothing(k3):
    _sim, connection = k3
    first = pull(connection, Kind.ERP_MATERIALS)
    second = pull(connection, Kind.ERP_MATERIALS)
    # Demo materials were modified 7 minutes apart; the 10-minute overlap re-reads the newest two.
    assert first.fetched == len(DEMO_MATERIALS)
    assert second.fetched == 2 and (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert second.window_start is not None and second.status == "succeeded"


def test_an_item_changed_in_the_erp_is_updated_once(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    sim.change_material("FG-2001", fname="三节钢珠滑轨 45宽 12寸 加厚", fspecification="SGCC 1.5mm")
    changed = pull(connection, Kind.ERP_MATERIALS)
    # The change, and the two materials of the last pull's overlap, unchanged.
    assert (changed.fetched, changed.created, changed.updated, changed.unchanged) == (3, 0, 1, 2)
    item = Item.objects.get(code="FG-2001")
    assert item.name == "三节钢珠滑轨 45宽 12寸 加厚" and item.specification == "SGCC 1.5mm"
    again = pull(connection, Kind.ERP_MATERIALS)
    assert (again.updated, again.unchanged) == (0, again.fetched)


def test_stock_changed_in_the_erp_is_updated_and_kept_per_warehouse(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    pull(connection, Kind.ERP_STOCK)
    sim.set_stock("FG-1001", "K3-CK04", Decimal("2700"))
    sim.set_stock("FG-1001", "K3-CK03", Decimal("12"))
    run = pull(connection, Kind.ERP_STOCK)
    assert (run.created, run.updated) == (1, 1)
    levels = dict(StockLevel.objects.filter(item__code="FG-1001").values_list("warehouse__erp_code", "qty_on_hand"))
    assert levels == {"K3-CK04": Decimal("2700"), "K3-CK03": Decimal("12")}


def test_when_the_erp_is_down_the_run_fails_with_its_error_and_nothing_changes(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    cursor = ErpConnection.objects.get(pk=connection.pk).pull_cursors
    sim.change_material("FG-2001", fname="改了名")
    sim.down = True
    run = pull(connection, Kind.ERP_MATERIALS)
    assert run.status == "failed"
    assert run.errors[0]["code"] == "HTTP_503" and "503" in run.errors[0]["message"]
    assert Item.objects.get(code="FG-2001").name == "三节钢珠滑轨 45宽 12寸(300mm)"
    assert ErpConnection.objects.get(pk=connection.pk).pull_cursors == cursor
    sim.down = False
    assert pull(connection, Kind.ERP_MATERIALS).updated == 1  # the change is not lost


def test_a_garbage_row_is_a_row_error_and_the_run_goes_on(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    pull(connection, Kind.ERP_STOCK)
    sim.set_stock("FG-3001", "K3-CK04", Decimal("2000"))
    row = {"fid": "garbage-1", "fmaterialid.fnumber": "FG-3002", "fstockid.fnumber": "K3-CK04", "fbaseqty": "几百"}
    sim.add_row(
        "STK_Inventory", {**row, "fupdatetime": sim._rows["stk_inventory"][0]["fupdatetime"].replace(year=2030)}
    )
    sim.set_stock("FG-3011", "K3-CK99", Decimal("5"))
    run = pull(connection, Kind.ERP_STOCK)
    assert run.status == "partial"
    assert {(error["code"], error["external_id"]) for error in run.errors} == {
        ("ROW_INVALID", "FG-3002@K3-CK04"),
        ("WAREHOUSE_UNKNOWN", "FG-3011@K3-CK99"),
    }
    assert StockLevel.objects.get(item__code="FG-3001", warehouse__erp_code="K3-CK04").qty_on_hand == 2000
    assert StockLevel.objects.get(item__code="FG-3002", warehouse__erp_code="K3-CK04").qty_on_hand == 1330


def test_a_bom_that_closes_a_loop_is_refused_with_the_loop_named_and_others_are_taken(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    pull(connection, Kind.ERP_BOMS)
    sim.set_bom("SF-4011", [("FG-1001", Decimal(1), Decimal(1), Decimal(0))])
    sim.set_bom("SF-4001", [("RM-1003", Decimal("0.35"), Decimal(1), Decimal("3"))])
    run = pull(connection, Kind.ERP_BOMS)
    assert run.status == "partial"
    [error] = run.errors
    assert error["code"] == "BOM_CYCLE" and "FG-1001" in error["message"] and "SF-4011" in error["message"]
    assert not BomLine.objects.filter(parent__code="SF-4011").exists()
    sheet = BomLine.objects.get(parent__code="SF-4001")
    assert (sheet.child.code, sheet.qty_per, sheet.scrap_pct) == ("RM-1003", Decimal("0.35"), Decimal(3))


def test_a_bom_changed_in_the_erp_replaces_its_lines(k3):
    sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    pull(connection, Kind.ERP_BOMS)
    sim.set_bom(
        "FG-1001",
        [("SF-4001", Decimal(2), Decimal(1), Decimal("0.5")), ("PP-1004", Decimal(6), Decimal(1), Decimal(2))],
    )
    run = pull(connection, Kind.ERP_BOMS)
    assert (run.created, run.updated) == (0, 4)  # one line changed, three removed
    lines = dict(BomLine.objects.filter(parent__code="FG-1001").values_list("child__code", "qty_per"))
    assert lines == {"SF-4001": Decimal(2), "PP-1004": Decimal(6)}


# --- On the sync health page and the API -------------------------------------------------------------------


def test_the_sync_health_page_shows_erp_pulls_and_only_it_gets_the_pull_buttons(client, users, k3):
    _sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    client.cookies["django_language"] = "en"
    client.force_login(users[Role.IT_ADMIN])
    body = client.get(reverse("integrations:sync-health")).content.decode()
    assert f'id="erp-{connection.pk}"' in body and "ERP materials" in body and "Pull now" in body
    assert "2025-01-06 13:12:00" in body  # the ERP modification date pulled up to (the last demo material)
    client.force_login(users[Role.FINANCE])
    body = client.get(reverse("integrations:sync-health") + "?kind=erp_materials").content.decode()
    assert "ERP materials" in body and "Pull now" not in body


def test_pull_now_queues_a_manual_pull_once_the_request_commits(
    client, users, k3, monkeypatch, django_capture_on_commit_callbacks
):
    _sim, connection = k3
    queued = []
    monkeypatch.setattr(tasks.pull_erp_data, "delay", lambda *args: queued.append(args))
    client.force_login(users[Role.IT_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:erp-pull", args=[connection.pk]), {"kind": "erp_stock"})
    assert response.status_code == 302 and queued == [(["erp_stock"], "manual")]
    asked = AuditEvent.objects.get(verb="erp_connection.pull")
    assert (asked.actor, asked.changes, asked.ip) == (users[Role.IT_ADMIN], {"kinds": ["erp_stock"]}, "127.0.0.1")
    client.force_login(users[Role.FINANCE])
    assert client.post(reverse("integrations:erp-pull", args=[connection.pk])).status_code == 403


def test_the_api_lists_erp_runs_and_queues_a_pull(client, users, k3, monkeypatch, django_capture_on_commit_callbacks):
    _sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    queued = []
    monkeypatch.setattr(tasks.pull_erp_data, "delay", lambda *args: queued.append(args))
    client.force_login(users[Role.FINANCE])
    [run] = client.get("/api/v1/sync-runs/", {"kind": "erp_materials"}).json()["results"]
    assert (run["kind"], run["channel_account"], run["erp_connection"]) == ("erp_materials", None, "K3")
    assert run["created"] == len(DEMO_MATERIALS)
    assert client.post("/api/v1/erp-pulls/", {}, content_type="application/json").status_code == 403
    client.force_login(users[Role.IT_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/erp-pulls/", {"kinds": ["erp_boms"]}, content_type="application/json")
    assert response.status_code == 202 and queued == [(["erp_boms"], "manual")]
    assert AuditEvent.objects.filter(verb="erp_connection.pull", actor=users[Role.IT_ADMIN]).count() == 1
    bad = client.post("/api/v1/erp-pulls/", {"kinds": ["orders"]}, content_type="application/json")
    assert bad.status_code == 400


def test_a_connection_without_credentials_fails_its_run_clearly_and_does_not_block_the_next():
    connection = ErpConnection.objects.create(
        name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="1", username="u"
    )
    first = pull(connection, Kind.ERP_MATERIALS)
    assert first.status == "failed" and first.errors[0]["code"] == "ERP_NOT_CONFIGURED"
    assert pull(connection, Kind.ERP_MATERIALS).status == "failed"  # not "skipped": the lock was released


def test_a_demo_changes_the_simulated_erp_over_http_and_the_next_pull_sees_it(k3):
    import requests

    _sim, connection = k3
    pull(connection, Kind.ERP_MATERIALS)
    control = connection.server_url.replace("/K3Cloud/", "/_control")
    answer = requests.post(control, json={"change_material": {"number": "FG-1001", "name": "合页 新名"}}, timeout=5)
    assert answer.status_code == 200
    assert pull(connection, Kind.ERP_MATERIALS).updated == 1
    assert Item.objects.get(code="FG-1001").name == "合页 新名"
    refused = requests.post(control, json={"set_stock": {"material": "FG-1001"}}, timeout=5)
    assert refused.status_code == 400 and "KeyError" in refused.json()["error"]
