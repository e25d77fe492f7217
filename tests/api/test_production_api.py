"""The /api/v1/ endpoints of production master data, and the API's permission matrix.

The matrix covers every endpoint of the API (accounts' too), so one table says who may do what.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Team, User
from accounts.roles import ROLE_PERMISSIONS, Role
from accounts.services import team_create
from production import services
from production.models import BomLine, Item, Operation, RoutingStep, StockLevel, Warehouse, WorkCenter, Workshop

pytestmark = pytest.mark.django_db

API = "/api/v1"


def api_client(user: User | None = None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


@dataclass
class World:
    """A small factory: a team, a three-item BOM, two warehouses with stock, a work centre and a routing."""

    team: Team
    finished: Item
    semi: Item
    raw: Item
    top_line: BomLine
    warehouse_a: Warehouse
    warehouse_b: Warehouse
    stock_a: StockLevel
    stock_b: StockLevel
    workshop: Workshop
    work_center: WorkCenter
    operation: Operation
    step: RoutingStep


@pytest.fixture
def world(users, make_item) -> World:
    team = team_create(code="CY1", name="冲压一班", leader=users[Role.TEAM_LEADER])
    finished = make_item("FG-1", kind=Item.Kind.FINISHED, name="支架总成")
    semi = make_item("SA-1", kind=Item.Kind.SEMI, name="冲压件")
    raw = make_item("RM-1", kind=Item.Kind.RAW, name="冷轧板", unit="KG")
    top_line = services.bom_line_add(parent=finished, child=semi, qty_per=Decimal(2), by=None)
    services.bom_line_add(parent=semi, child=raw, qty_per=Decimal("0.5"), by=None)
    warehouse_a = services.warehouse_create(code="WH-A", name="原料仓", by=None)
    warehouse_b = services.warehouse_create(code="WH-B", name="成品仓", by=None)
    stock_a = services.stock_level_set(warehouse=warehouse_a, item=raw, qty_on_hand=Decimal(100), by=None)
    stock_b = services.stock_level_set(warehouse=warehouse_b, item=finished, qty_on_hand=Decimal(7), by=None)
    workshop = services.workshop_create(code="WS-1", name="冲压车间", by=None)
    work_center = services.work_center_create(code="WC-1", name="200吨冲床", workshop=workshop, team=team, by=None)
    operation = services.operation_create(code="OP-10", name="精磨", aliases=["细磨"], by=None)
    step = services.routing_step_set(
        item=finished,
        sequence=10,
        operation=operation,
        work_center=work_center,
        std_minutes_per_unit=Decimal("1.5"),
        by=None,
    )
    return World(
        team, finished, semi, raw, top_line, warehouse_a, warehouse_b, stock_a, stock_b, workshop, work_center,
        operation, step,
    )  # fmt: skip


# --- The permission matrix -----------------------------------------------------------------------------

ANONYMOUS = "anonymous"
SIGNED_IN = "any signed-in user"
NEVER = "nobody (read-only endpoint)"
PRINCIPALS = [ANONYMOUS, None, *Role]  # None: a signed-in user with no role


@dataclass(frozen=True)
class Case:
    method: str
    url: str  # formatted with the World
    needs: str  # a permission from accounts.roles, SIGNED_IN or NEVER
    body: dict | None = None

    @property
    def success(self) -> int:
        return {"get": 200, "post": 201, "patch": 200, "delete": 204}[self.method]


MATRIX = [
    Case("get", "/me/", SIGNED_IN),
    Case("get", "/teams/", "accounts.view_team"),
    Case("get", "/teams/CY1/", "accounts.view_team"),
    Case("post", "/teams/", NEVER, {"code": "CY2", "name": "冲压二班"}),
    Case("get", "/items/", "production.view_item"),
    Case("get", "/items/FG-1/", "production.view_item"),
    Case("get", "/items/FG-1/bom/?qty=3", "production.view_item"),
    Case("post", "/items/", "production.add_item", {"code": "NEW-1", "name": "新物料", "kind": "raw", "unit": "KG"}),
    Case("patch", "/items/FG-1/", "production.change_item", {"name": "支架总成 B"}),
    Case("delete", "/items/FG-1/", NEVER),
    Case("get", "/bom-lines/", "production.view_bomline"),
    Case("get", "/bom-lines/{w.top_line.pk}/", "production.view_bomline"),
    Case("post", "/bom-lines/", "production.add_bomline", {"parent": "FG-1", "child": "RM-1", "qty_per": "2"}),
    Case("patch", "/bom-lines/{w.top_line.pk}/", "production.change_bomline", {"qty_per": "3"}),
    Case("delete", "/bom-lines/{w.top_line.pk}/", "production.delete_bomline"),
    Case("get", "/warehouses/", "production.view_warehouse"),
    Case("get", "/warehouses/WH-A/", "production.view_warehouse"),
    Case("post", "/warehouses/", NEVER, {"code": "WH-C", "name": "新仓"}),
    Case("get", "/stock-levels/", "production.view_stocklevel"),
    Case("get", "/stock-levels/{w.stock_a.pk}/", "production.view_stocklevel"),
    Case("patch", "/stock-levels/{w.stock_a.pk}/", NEVER, {"qty_on_hand": "1"}),
    Case("get", "/workshops/", "production.view_workshop"),
    Case("get", "/workshops/WS-1/", "production.view_workshop"),
    Case("post", "/workshops/", NEVER, {"code": "WS-2", "name": "装配车间"}),
    Case("get", "/work-centers/", "production.view_workcenter"),
    Case("get", "/work-centers/WC-1/", "production.view_workcenter"),
    Case("post", "/work-centers/", NEVER, {"code": "WC-2", "name": "折弯机"}),
    Case("get", "/operations/", "production.view_operation"),
    Case("get", "/operations/OP-10/", "production.view_operation"),
    Case("get", "/operations/resolve/?name=细磨", "production.view_operation"),
    Case("post", "/operations/", NEVER, {"code": "OP-20", "name": "粗磨"}),
    Case("get", "/routing-steps/", "production.view_routingstep"),
    Case("get", "/routing-steps/{w.step.pk}/", "production.view_routingstep"),
    Case("delete", "/routing-steps/{w.step.pk}/", NEVER),
]


def is_allowed(principal, needs: str) -> bool:
    """What accounts.roles grants: the single source of truth the matrix is derived from."""
    if principal == ANONYMOUS or needs == NEVER:
        return False
    if needs == SIGNED_IN:
        return True
    return principal is not None and needs in ROLE_PERMISSIONS[principal]


def test_it_derives_the_expected_grants_from_the_role_table():
    assert is_allowed(Role.PRODUCTION_MANAGER, "production.add_bomline")
    assert not is_allowed(Role.SALES, "production.add_bomline")
    assert is_allowed(Role.OPERATOR, "production.view_item")
    assert not is_allowed(Role.FINANCE, "production.add_item")
    assert not is_allowed(Role.WAREHOUSE_KEEPER, "production.view_stocklevel")  # per warehouse only
    assert not is_allowed(Role.OPERATOR, "production.view_stocklevel")
    assert not is_allowed(None, "production.view_item")
    assert not is_allowed(ANONYMOUS, SIGNED_IN)
    assert not is_allowed(Role.IT_ADMIN, NEVER)


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: f"{case.method} {case.url}")
def test_it_allows_exactly_what_each_role_is_granted(case, users, world):
    url = API + case.url.format(w=world)
    wrong = []
    for principal in PRINCIPALS:
        client = api_client(None if principal == ANONYMOUS else users[principal])
        # Each principal's request runs in a rolled-back block, so every one meets the same data.
        with transaction.atomic():
            audit_before = AuditEvent.objects.count()
            response = getattr(client, case.method)(url, case.body, format="json")
            wrote = AuditEvent.objects.count() != audit_before
            transaction.set_rollback(True)
        if is_allowed(principal, case.needs):
            ok = response.status_code == case.success and (case.method == "get") != wrote
        elif principal == ANONYMOUS:
            ok = response.status_code in (401, 403) and not wrote
        else:
            allowed_codes = (403, 405) if case.needs == NEVER else (403,)
            ok = response.status_code in allowed_codes and not wrote
        if not ok:
            wrong.append((str(principal), response.status_code, response.content[:200]))
    assert wrong == [], f"{case.method.upper()} {url} needs {case.needs}"


def test_it_shows_a_user_with_object_permissions_only_the_stock_levels_granted(users, world):
    keeper = users[None]
    assign_perm("production.view_stocklevel", keeper, world.stock_a)
    client = api_client(keeper)

    listed = client.get(f"{API}/stock-levels/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [world.stock_a.pk]
    assert client.get(f"{API}/stock-levels/{world.stock_a.pk}/").status_code == 200
    assert client.get(f"{API}/stock-levels/{world.stock_b.pk}/").status_code == 404


def test_it_refuses_stock_levels_to_a_user_without_any_view_permission(users, world):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/stock-levels/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


# --- Items ---------------------------------------------------------------------------------------------


def test_it_lists_items_with_filters_search_and_ordering(users, world):
    client = api_client(users[Role.SALES])
    by_kind = client.get(f"{API}/items/", {"kind": "raw"}).json()
    assert [row["code"] for row in by_kind["results"]] == ["RM-1"]
    assert by_kind["count"] == 1
    searched = client.get(f"{API}/items/", {"search": "冲压"}).json()
    assert [row["code"] for row in searched["results"]] == ["SA-1"]
    ordered = client.get(f"{API}/items/", {"ordering": "-code"}).json()
    assert [row["code"] for row in ordered["results"]] == ["SA-1", "RM-1", "FG-1"]


def test_it_shows_one_item_by_a_code_with_dots(users, make_item):
    make_item("1.01.001", name="轴承座")
    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/1.01.001/")
    assert response.status_code == 200
    assert response.json()["name"] == "轴承座"


def test_it_creates_an_item_and_audits_who_did_it(users):
    manager = users[Role.PRODUCTION_MANAGER]
    body = {"code": "NEW-1", "name": "新物料", "kind": "purchased", "unit": "PCS", "category": "紧固件"}
    response = api_client(manager).post(f"{API}/items/", body, format="json")

    assert response.status_code == 201
    assert response.json()["code"] == "NEW-1"
    item = Item.objects.get(code="NEW-1")
    event = AuditEvent.objects.get(verb="item.create", object_id=str(item.pk))
    assert event.actor == manager
    assert event.changes["name"] == "新物料"


def test_it_updates_an_item_but_never_its_code(users, world):
    manager = users[Role.PRODUCTION_MANAGER]
    response = api_client(manager).patch(f"{API}/items/FG-1/", {"code": "FG-9", "name": "新名"}, format="json")

    assert response.status_code == 200
    assert response.json()["code"] == "FG-1"
    world.finished.refresh_from_db()
    assert (world.finished.code, world.finished.name) == ("FG-1", "新名")
    event = AuditEvent.objects.get(verb="item.update", object_id=str(world.finished.pk))
    assert event.actor == manager
    assert event.changes == {"name": ["支架总成", "新名"]}


def test_it_refuses_a_duplicate_or_malformed_item_and_writes_nothing(users, world):
    client = api_client(users[Role.PRODUCTION_MANAGER])
    duplicate = client.post(f"{API}/items/", {"code": "FG-1", "name": "x", "kind": "raw"}, format="json")
    malformed = client.post(f"{API}/items/", {"code": "A/B", "name": "x", "kind": "gold"}, format="json")

    assert duplicate.status_code == 400
    assert duplicate.json()["code"] == "invalid"
    assert set(duplicate.json()["fields"]) == {"code"}
    assert malformed.status_code == 400
    assert set(malformed.json()["fields"]) == {"code", "kind"}
    assert malformed.json()["fields"]["code"] == ["A material code cannot contain a slash or spaces."]
    assert Item.objects.count() == 3
    assert not AuditEvent.objects.filter(verb="item.create").exists()


# --- BOM explosion ---------------------------------------------------------------------------------------


@pytest.fixture
def four_level_bom(make_item) -> None:
    """FG-1 ← 2 × SA-1 (5 % scrap) ← 3 × SB-1 ← 0.5 KG RM-1 (10 % scrap); FG-1 also takes 1.5 KG RM-1 directly."""
    fg = make_item("FG-1", kind=Item.Kind.FINISHED, name="支架总成")
    sa = make_item("SA-1", kind=Item.Kind.SEMI, name="焊接件")
    sb = make_item("SB-1", kind=Item.Kind.SEMI, name="冲压件")
    rm = make_item("RM-1", kind=Item.Kind.RAW, name="冷轧板", unit="KG")
    services.bom_line_add(parent=fg, child=sa, qty_per=Decimal(2), scrap_pct=Decimal(5), sequence=10, by=None)
    services.bom_line_add(parent=fg, child=rm, qty_per=Decimal("1.5"), sequence=20, by=None)
    services.bom_line_add(parent=sa, child=sb, qty_per=Decimal(3), by=None)
    services.bom_line_add(parent=sb, child=rm, qty_per=Decimal("0.5"), scrap_pct=Decimal(10), by=None)


def test_it_explodes_a_multi_level_bom_with_accumulated_quantities(users, four_level_bom):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/FG-1/bom/", {"qty": "10"})

    assert response.status_code == 200
    body = response.json()
    assert body["root"] == {"code": "FG-1", "name": "支架总成", "unit": "PCS", "kind": "finished"}
    assert body["qty"] == "10.000000"
    assert body["depth"] == 3
    rows = [
        (r["level"], r["path"], r["parent_code"], r["code"], r["qty_per"], r["scrap_pct"], r["qty"])
        for r in body["rows"]
    ]
    assert rows == [
        # 10 × 2 × 1.05 = 21
        (1, ["FG-1", "SA-1"], "FG-1", "SA-1", "2.000000", "5.000", "21.000000"),
        # 21 × 3 × 1.00 = 63
        (2, ["FG-1", "SA-1", "SB-1"], "SA-1", "SB-1", "3.000000", "0.000", "63.000000"),
        # 63 × 0.5 × 1.10 = 34.65
        (3, ["FG-1", "SA-1", "SB-1", "RM-1"], "SB-1", "RM-1", "0.500000", "10.000", "34.650000"),
        # 10 × 1.5 × 1.00 = 15
        (1, ["FG-1", "RM-1"], "FG-1", "RM-1", "1.500000", "0.000", "15.000000"),
    ]  # fmt: skip
    assert body["rows"][2] | {"name": "冷轧板", "unit": "KG", "kind": "raw"} == body["rows"][2]
    # RM-1 is needed in two places: 34.65 + 15 = 49.65.
    assert [(t["code"], t["unit"], t["qty"]) for t in body["totals"]] == [
        ("RM-1", "KG", "49.650000"),
        ("SA-1", "PCS", "21.000000"),
        ("SB-1", "PCS", "63.000000"),
    ]


def test_it_explodes_for_one_when_no_quantity_is_given(users, four_level_bom):
    body = api_client(users[Role.OPERATOR]).get(f"{API}/items/FG-1/bom/").json()
    assert body["qty"] == "1.000000"
    assert body["rows"][0]["qty"] == "2.100000"


@pytest.mark.parametrize("qty", ["abc", "0", "-1", "NaN", "1e400"])
def test_it_refuses_a_bom_quantity_that_is_not_a_positive_number(users, four_level_bom, qty):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/FG-1/bom/", {"qty": qty})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["qty"]
    assert body["fields"]["qty"][0]


def test_it_explains_a_non_positive_bom_quantity(users, four_level_bom):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/FG-1/bom/", {"qty": "0"})
    assert response.json()["fields"] == {"qty": ["The quantity must be greater than zero."]}


def test_it_answers_404_for_the_bom_of_an_unknown_item(users):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/NOPE/bom/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_reports_a_loop_in_stored_bom_data_as_bom_cycle(users, make_item):
    a = make_item("LOOP-A")
    b = make_item("LOOP-B")
    # Written past the service, as a bad import might: the explosion must still refuse rather than recurse.
    BomLine.objects.create(parent=a, child=b, qty_per=1)
    BomLine.objects.create(parent=b, child=a, qty_per=1)

    response = api_client(users[Role.OPERATOR]).get(f"{API}/items/LOOP-A/bom/")

    assert response.status_code == 400
    assert response.json()["code"] == "bom_cycle"
    assert "LOOP-A → LOOP-B → LOOP-A" in response.json()["detail"]


# --- BOM lines -----------------------------------------------------------------------------------------


def test_it_adds_a_bom_line_and_audits_it(users, world):
    manager = users[Role.PRODUCTION_MANAGER]
    body = {"parent": "FG-1", "child": "RM-1", "qty_per": "1.25", "scrap_pct": "2", "sequence": 30}
    response = api_client(manager).post(f"{API}/bom-lines/", body, format="json")

    assert response.status_code == 201
    data = response.json()
    assert data | {"parent": "FG-1", "child": "RM-1", "child_unit": "KG", "qty_per": "1.250000"} == data
    line = BomLine.objects.get(pk=data["id"])
    assert (line.qty_per, line.scrap_pct, line.sequence) == (Decimal("1.25"), Decimal(2), 30)
    assert AuditEvent.objects.get(verb="bom_line.add", object_id=str(line.pk)).actor == manager


def test_it_refuses_a_bom_line_that_closes_a_loop_and_writes_nothing(users, four_level_bom):
    lines_before = BomLine.objects.count()
    audit_before = AuditEvent.objects.count()

    body = {"parent": "SB-1", "child": "FG-1", "qty_per": "1"}
    response = api_client(users[Role.PRODUCTION_MANAGER]).post(f"{API}/bom-lines/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "bom_cycle"
    assert "SB-1 → FG-1 → SA-1 → SB-1" in response.json()["detail"]
    assert BomLine.objects.count() == lines_before
    assert AuditEvent.objects.count() == audit_before


def test_it_refuses_an_item_as_its_own_component(users, world):
    body = {"parent": "SA-1", "child": "SA-1", "qty_per": "1"}
    response = api_client(users[Role.PRODUCTION_MANAGER]).post(f"{API}/bom-lines/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "bom_cycle"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"qty_per": "-1"}, "qty_per", "The quantity per parent must be greater than zero."),
        ({"qty_per": "0"}, "qty_per", "The quantity per parent must be greater than zero."),
        ({"qty_per": "lots"}, "qty_per", "A valid number is required."),
        ({"child": "NO-SUCH"}, "child", "Object with code=NO-SUCH does not exist."),
        ({"parent": "NO-SUCH"}, "parent", "Object with code=NO-SUCH does not exist."),
        ({"scrap_pct": "100"}, "scrap_pct", "Scrap is a percentage from 0 up to, but not including, 100."),
        ({"scrap_pct": "-5"}, "scrap_pct", "Scrap is a percentage from 0 up to, but not including, 100."),
    ],
)
def test_it_refuses_bad_bom_line_input_with_field_errors_and_writes_nothing(users, world, body, field, message):
    audit_before = AuditEvent.objects.count()
    payload = {"parent": "FG-1", "child": "RM-1", "qty_per": "2"} | body
    response = api_client(users[Role.PRODUCTION_MANAGER]).post(f"{API}/bom-lines/", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": "Invalid input.", "fields": {field: [message]}}
    assert not BomLine.objects.filter(parent=world.finished, child=world.raw).exists()
    assert AuditEvent.objects.count() == audit_before


def test_it_refuses_a_duplicate_component_or_a_bom_under_a_raw_material(users, world):
    client = api_client(users[Role.PRODUCTION_MANAGER])
    duplicate = client.post(f"{API}/bom-lines/", {"parent": "FG-1", "child": "SA-1", "qty_per": "1"}, format="json")
    under_raw = client.post(f"{API}/bom-lines/", {"parent": "RM-1", "child": "SA-1", "qty_per": "1"}, format="json")

    assert (duplicate.status_code, duplicate.json()["code"]) == (400, "bom_duplicate")
    assert (under_raw.status_code, under_raw.json()["code"]) == (400, "bom_parent_not_made")
    assert BomLine.objects.count() == 2


def test_it_changes_only_quantity_and_scrap_of_a_bom_line(users, world):
    manager = users[Role.PRODUCTION_MANAGER]
    url = f"{API}/bom-lines/{world.top_line.pk}/"
    response = api_client(manager).patch(url, {"qty_per": "4", "scrap_pct": "1.5", "child": "RM-1"}, format="json")

    assert response.status_code == 200
    world.top_line.refresh_from_db()
    assert (world.top_line.child, world.top_line.qty_per, world.top_line.scrap_pct) == (
        world.semi,
        Decimal(4),
        Decimal("1.5"),
    )
    assert AuditEvent.objects.get(verb="bom_line.update").actor == manager


def test_it_refuses_a_non_positive_quantity_on_update(users, world):
    url = f"{API}/bom-lines/{world.top_line.pk}/"
    response = api_client(users[Role.PRODUCTION_MANAGER]).patch(url, {"qty_per": "-2"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["qty_per"]
    world.top_line.refresh_from_db()
    assert world.top_line.qty_per == Decimal(2)


def test_it_removes_a_bom_line_and_audits_it(users, world):
    manager = users[Role.PRODUCTION_MANAGER]
    response = api_client(manager).delete(f"{API}/bom-lines/{world.top_line.pk}/")

    assert response.status_code == 204
    assert not BomLine.objects.filter(pk=world.top_line.pk).exists()
    assert AuditEvent.objects.get(verb="bom_line.remove").actor == manager


def test_it_filters_bom_lines_by_parent_and_by_child(users, world):
    client = api_client(users[Role.TEAM_LEADER])
    of_semi = client.get(f"{API}/bom-lines/", {"parent": "SA-1"}).json()["results"]
    uses_semi = client.get(f"{API}/bom-lines/", {"child": "SA-1"}).json()["results"]
    assert [(row["parent"], row["child"]) for row in of_semi] == [("SA-1", "RM-1")]
    assert [(row["parent"], row["child"]) for row in uses_semi] == [("FG-1", "SA-1")]


# --- Stock, work centres, operations, routings ---------------------------------------------------------


def test_it_filters_stock_levels_by_warehouse_and_item(users, world):
    client = api_client(users[Role.PRODUCTION_MANAGER])
    in_a = client.get(f"{API}/stock-levels/", {"warehouse": "WH-A"}).json()["results"]
    of_fg = client.get(f"{API}/stock-levels/", {"item": "FG-1"}).json()["results"]
    assert in_a == [
        {
            "id": world.stock_a.pk,
            "warehouse": "WH-A",
            "item": "RM-1",
            "item_name": "冷轧板",
            "unit": "KG",
            "qty_on_hand": "100.0000",
            "updated_at": in_a[0]["updated_at"],
        }
    ]
    assert [row["warehouse"] for row in of_fg] == ["WH-B"]


def test_it_filters_work_centres_by_workshop_team_and_active(users, world):
    other_shop = services.workshop_create(code="WS-2", name="装配车间", by=None)
    services.work_center_create(code="WC-2", name="装配线", workshop=other_shop, active=False, by=None)
    client = api_client(users[Role.OPERATOR])

    def codes(**params) -> list[str]:
        return [row["code"] for row in client.get(f"{API}/work-centers/", params).json()["results"]]

    assert codes(workshop="WS-1") == ["WC-1"]
    assert codes(team="CY1") == ["WC-1"]
    assert codes(active="false") == ["WC-2"]
    assert client.get(f"{API}/work-centers/WC-1/").json() == {
        "code": "WC-1",
        "name": "200吨冲床",
        "workshop": "WS-1",
        "workshop_name": "冲压车间",
        "team": "CY1",
        "erp_code": "",
        "capacity_hours_per_day": "8.00",
        "active": True,
    }


def test_it_lists_operations_with_their_aliases(users, world):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/operations/")
    assert response.json()["results"] == [{"code": "OP-10", "name": "精磨", "description": "", "aliases": ["细磨"]}]


@pytest.mark.parametrize("name", ["细磨", "精磨", " 精 磨 ", "op-10"])
def test_it_resolves_any_spelling_of_an_operation_to_the_standard_one(users, world, name):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/operations/resolve/", {"name": name})
    assert response.status_code == 200
    assert response.json()["name"] == "精磨"


def test_it_answers_404_when_no_operation_has_that_name(users, world):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/operations/resolve/", {"name": "抛光"})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No operation is called “抛光”."}


def test_it_needs_a_name_to_resolve_an_operation(users, world):
    response = api_client(users[Role.OPERATOR]).get(f"{API}/operations/resolve/")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["name"]


def test_it_lists_an_items_routing(users, world):
    rows = api_client(users[Role.OPERATOR]).get(f"{API}/routing-steps/", {"item": "FG-1"}).json()["results"]
    assert rows == [
        {
            "id": world.step.pk,
            "item": "FG-1",
            "sequence": 10,
            "operation": "OP-10",
            "operation_name": "精磨",
            "work_center": "WC-1",
            "work_center_name": "200吨冲床",
            "std_minutes_per_unit": "1.500",
            "setup_minutes": "0.00",
        }
    ]
    assert api_client(users[Role.OPERATOR]).get(f"{API}/routing-steps/", {"item": "SA-1"}).json()["count"] == 0


# --- Query counts ----------------------------------------------------------------------------------------

LIST_URLS = [
    "/teams/",
    "/items/",
    "/bom-lines/",
    "/warehouses/",
    "/stock-levels/",
    "/workshops/",
    "/work-centers/",
    "/operations/",
    "/routing-steps/",
]


def add_master_data(users, size: int, start: int) -> None:
    """`size` more of everything every list endpoint shows, numbered from `start`."""
    for n in range(start, start + size):
        team = team_create(code=f"T{n}", name=f"班组{n}", leader=users[Role.TEAM_LEADER])
        parent = Item.objects.create(code=f"P{n}", name=f"成品{n}", kind=Item.Kind.FINISHED)
        child = Item.objects.create(code=f"C{n}", name=f"原料{n}", kind=Item.Kind.RAW)
        services.bom_line_add(parent=parent, child=child, qty_per=Decimal(1), by=None)
        warehouse = services.warehouse_create(code=f"W{n}", name=f"仓库{n}", by=None)
        services.stock_level_set(warehouse=warehouse, item=child, qty_on_hand=Decimal(n), by=None)
        workshop = services.workshop_create(code=f"S{n}", name=f"车间{n}", by=None)
        center = services.work_center_create(code=f"WC{n}", name=f"机台{n}", workshop=workshop, team=team, by=None)
        operation = services.operation_create(
            code=f"O{n}", name=f"工序{n}", aliases=[f"别名{n}a", f"别名{n}b"], by=None
        )
        services.routing_step_set(
            item=parent, sequence=10, operation=operation, work_center=center, std_minutes_per_unit=Decimal(1), by=None
        )


@pytest.mark.parametrize("url", LIST_URLS)
def test_it_lists_with_a_constant_number_of_queries(users, url, django_assert_max_num_queries):
    client = api_client(users[Role.IT_ADMIN])
    add_master_data(users, size=2, start=0)
    with CaptureQueriesContext(connection) as small:
        assert client.get(API + url).status_code == 200

    add_master_data(users, size=20, start=100)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(API + url)
    assert response.status_code == 200
    assert response.json()["count"] >= 22
