"""Releasing confirmed sales orders to production, and the production manager's release and work-order pages."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from orders.models import SalesOrder
from orders.release import ReleaseNotAllowed, orders_release
from production.models import Item, WorkCenter, WorkOrder
from production.scheduling import FACTORY_TZ
from production.services import bom_line_add
from tests.integrations.builders import make_account, make_order
from tests.production.test_planning import routing, work_center

pytestmark = pytest.mark.django_db
D = Decimal
Status = SalesOrder.Status
ANONYMOUS = "anonymous"
PAGES = ["orders:release", "orders:work-orders"]


@pytest.fixture
def catalogue(make_item) -> dict[str, Item]:
    """A hinge made of two leaves each, a bought box, and a new product nobody has routed yet."""
    assembly, press = work_center("ZP-01"), work_center("CY-01")
    hinge = make_item("FG-HINGE", kind=Item.Kind.FINISHED, name="不锈钢合页")
    leaf = make_item("SF-LEAF", name="合页片")
    box = make_item("PP-BOX", kind=Item.Kind.PURCHASED, name="包装盒")
    new = make_item("FG-NEW", kind=Item.Kind.FINISHED, name="新款合页")
    bom_line_add(parent=hinge, child=leaf, qty_per=D("2"), by=None)
    routing(hinge, (assembly, "1", "10"))
    routing(leaf, (press, "0.5", "0"), (press, "0.2", "5"))
    return {item.code: item for item in (hinge, leaf, box, new)}


@pytest.fixture
def shop(db):
    return make_account("TB1")


@pytest.fixture
def manager(users):
    return users[Role.PRODUCTION_MANAGER]


def confirmed(shop, catalogue, *lines: tuple[str, int], status: str = Status.CONFIRMED, **fields) -> SalesOrder:
    """An order of (item code, quantity) lines, confirmed unless told otherwise."""
    return make_order(
        shop, lines=[(code, qty, "10.00") for code, qty in lines], items=catalogue, status=status, **fields
    )


def status_of(order: SalesOrder) -> str:
    return SalesOrder.objects.get(pk=order.pk).status


# --- The service --------------------------------------------------------------------------------------------


def test_it_creates_a_work_order_tree_per_made_line_and_puts_the_order_in_production(shop, catalogue, manager):
    promised = timezone.localdate() + timedelta(days=20)
    order = confirmed(shop, catalogue, ("FG-HINGE", 10), ("PP-BOX", 10), promised_date=promised)
    result = orders_release(orders=[order], by=manager)
    assert result.refused == []
    [released] = result.released
    top = WorkOrder.objects.get(parent__isnull=True)
    assert released.number == order.number and released.work_orders == [top.number]
    assert (top.item.code, top.qty, top.order_line.order) == ("FG-HINGE", D("10"), order)
    child = top.children.get()
    assert (child.item.code, child.qty, child.order_line.order) == ("SF-LEAF", D("20"), order)
    assert not WorkOrder.objects.filter(item__code="PP-BOX").exists()  # bought: shipped from stock
    assert {wo.due_date for wo in WorkOrder.objects.all()} == {promised}
    assert status_of(order) == Status.IN_PRODUCTION
    assert AuditEvent.objects.filter(verb="order.release", object_id=str(order.pk), actor=manager).exists()


def test_the_new_work_orders_are_scheduled_components_first(shop, catalogue, manager):
    orders_release(orders=[confirmed(shop, catalogue, ("FG-HINGE", 10))], by=manager)
    top = WorkOrder.objects.get(parent__isnull=True)
    child = top.children.get()
    assert child.planned_start and child.planned_end and top.planned_start and top.planned_end
    assert child.planned_end <= top.planned_start
    assert top.operations.filter(planned_start__isnull=True).count() == 0


def test_without_a_promised_date_the_work_is_due_a_week_after_the_order_came_in(shop, catalogue, manager):
    received = timezone.now() - timedelta(days=2)
    order = confirmed(shop, catalogue, ("FG-HINGE", 1), received_at=received)
    orders_release(orders=[order], by=manager)
    week_later = timezone.localtime(received, FACTORY_TZ).date() + timedelta(days=7)
    assert set(WorkOrder.objects.values_list("due_date", flat=True)) == {week_later}


def test_an_order_that_is_not_confirmed_is_refused_with_a_reason_and_the_others_go_ahead(shop, catalogue, manager):
    waiting = confirmed(shop, catalogue, ("FG-HINGE", 1), status=Status.NEEDS_REVIEW)
    good = confirmed(shop, catalogue, ("FG-HINGE", 1))
    result = orders_release(orders=[waiting, good], by=manager)
    assert [released.number for released in result.released] == [good.number]
    [refused] = result.refused
    assert (refused.number, refused.code) == (waiting.number, "not_confirmed")
    assert waiting.number in refused.reason
    assert status_of(waiting) == Status.NEEDS_REVIEW
    assert not WorkOrder.objects.filter(order_line__order=waiting).exists()


def test_releasing_an_order_twice_creates_its_work_orders_once(shop, catalogue, manager):
    order = confirmed(shop, catalogue, ("FG-HINGE", 5))
    first = orders_release(orders=[order, order], by=manager)
    assert len(first.released) == 1 and first.refused == []
    second = orders_release(orders=[order], by=manager)
    assert second.released == [] and second.refused[0].code == "not_confirmed"
    assert WorkOrder.objects.count() == 2


def test_an_order_with_an_item_without_routing_is_refused_and_nothing_of_it_is_written(shop, catalogue, manager):
    new = confirmed(shop, catalogue, ("FG-HINGE", 1), ("FG-NEW", 1))
    good = confirmed(shop, catalogue, ("FG-HINGE", 2))
    result = orders_release(orders=[new, good], by=manager)
    [refused] = result.refused
    assert (refused.number, refused.code) == (new.number, "routing_missing")
    assert "FG-NEW" in refused.reason
    assert status_of(new) == Status.CONFIRMED
    assert not WorkOrder.objects.filter(order_line__order=new).exists()
    assert status_of(good) == Status.IN_PRODUCTION
    assert WorkOrder.objects.filter(order_line__order=good).count() == 2


def test_an_order_with_nothing_made_in_the_factory_is_refused(shop, catalogue, manager):
    order = confirmed(shop, catalogue, ("PP-BOX", 3))
    result = orders_release(orders=[order], by=manager)
    assert result.refused[0].code == "nothing_to_make"
    assert status_of(order) == Status.CONFIRMED


def test_an_order_with_an_unmapped_line_is_refused(shop, catalogue, manager):
    order = confirmed(shop, catalogue, ("FG-HINGE", 1), ("SKU-UNKNOWN", 1))
    result = orders_release(orders=[order], by=manager)
    assert result.refused[0].code == "line_unmapped"
    assert status_of(order) == Status.CONFIRMED


def test_an_order_that_already_has_work_orders_is_not_released_again(shop, catalogue, manager):
    order = confirmed(shop, catalogue, ("FG-HINGE", 1))
    orders_release(orders=[order], by=manager)
    SalesOrder.objects.filter(pk=order.pk).update(status=Status.CONFIRMED)  # e.g. put back by hand
    result = orders_release(orders=[order], by=manager)
    assert result.refused[0].code == "already_released"
    assert WorkOrder.objects.count() == 2


@pytest.mark.parametrize("role", [None, Role.SALES, Role.CUSTOMER_SERVICE, Role.TEAM_LEADER, Role.IT_ADMIN])
def test_a_user_without_the_release_permission_is_refused_by_the_service(shop, catalogue, users, role):
    order = confirmed(shop, catalogue, ("FG-HINGE", 1))
    with pytest.raises(ReleaseNotAllowed) as error:
        orders_release(orders=[order], by=users[role])
    assert (error.value.status, error.value.code) == (403, "permission_denied")
    assert status_of(order) == Status.CONFIRMED
    assert WorkOrder.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_releasing_the_same_order_at_once_create_its_work_orders_once(users, make_item):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (CI runs this)")
    press = work_center("CY-01")
    hinge = make_item("FG-HINGE", kind=Item.Kind.FINISHED)
    routing(hinge, (press, "1", "0"))
    shop = make_account("TB1")
    orders = [make_order(shop, lines=[("H", 3, "1.00")], items={"H": hinge}, status=Status.CONFIRMED) for _ in range(3)]
    manager = users[Role.PRODUCTION_MANAGER]
    results, errors = [], []

    def manager_presses():
        try:
            results.append(orders_release(orders=orders, by=manager))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=manager_presses) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(len(result.released) for result in results) == 3
    assert WorkOrder.objects.count() == 3
    assert len(set(WorkOrder.objects.values_list("number", flat=True))) == 3


# --- Pages: who may open them ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", [ANONYMOUS, None, *Role])
def test_only_the_production_manager_opens_the_release_and_work_order_pages(client, users, role, page):
    if role != ANONYMOUS:
        client.force_login(users[role])
    response = client.get(reverse(page))
    if role == ANONYMOUS:
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    else:
        assert response.status_code == (200 if role == Role.PRODUCTION_MANAGER else 403)


@pytest.mark.parametrize("role", [None, Role.SALES, Role.TEAM_LEADER, Role.IT_ADMIN])
def test_releasing_from_the_page_without_permission_is_forbidden_and_changes_nothing(
    client, users, shop, catalogue, role
):
    order = confirmed(shop, catalogue, ("FG-HINGE", 1))
    client.force_login(users[role])
    response = client.post(reverse("orders:release"), {"orders": [order.number]})
    assert response.status_code == 403
    assert status_of(order) == Status.CONFIRMED


# --- The release page -------------------------------------------------------------------------------------------


@pytest.fixture
def english(client, manager):
    client.cookies["django_language"] = "en"
    client.force_login(manager)
    return client


def listed(client, **params) -> list[str]:
    response = client.get(reverse("orders:release"), params)
    assert response.status_code == 200
    return [order.number for order in response.context["page"].object_list]


def test_the_release_page_lists_the_confirmed_orders_not_yet_released(english, shop, catalogue):
    ready = confirmed(shop, catalogue, ("FG-HINGE", 1))
    confirmed(shop, catalogue, ("FG-HINGE", 1), status=Status.NEEDS_REVIEW)
    confirmed(shop, catalogue, ("FG-HINGE", 1), status=Status.IN_PRODUCTION)
    assert listed(english) == [ready.number]
    body = english.get(reverse("orders:release")).content.decode()
    assert "FG-HINGE" in body and "Release selected" in body


def test_the_release_page_filters_by_shop_and_promised_date(english, shop, catalogue):
    jd = make_account("JD1", kind="jd", name="京东五金自营")
    early = confirmed(shop, catalogue, ("FG-HINGE", 1), promised_date=date(2026, 3, 5))
    late = confirmed(shop, catalogue, ("FG-HINGE", 1), promised_date=date(2026, 3, 20))
    other = confirmed(jd, catalogue, ("FG-HINGE", 1), promised_date=date(2026, 3, 10))
    assert listed(english) == [early.number, other.number, late.number]  # soonest promise first
    assert listed(english, shop=jd.pk) == [other.number]
    assert listed(english, promised_from="2026-03-06") == [other.number, late.number]
    assert listed(english, promised_to="2026-03-10", shop=shop.pk) == [early.number]
    assert listed(english, shop="nonsense", promised_from="not-a-date") == [early.number, other.number, late.number]


def test_releasing_from_the_page_reports_the_work_orders_and_the_refusals(english, shop, catalogue):
    good = confirmed(shop, catalogue, ("FG-HINGE", 4))
    new = confirmed(shop, catalogue, ("FG-NEW", 1))
    response = english.post(reverse("orders:release"), {"orders": [good.number, new.number, "TB1-nope"]}, follow=True)
    body = response.content.decode()
    top = WorkOrder.objects.get(parent__isnull=True)
    assert f"Released {good.number}: work orders {top.number}" in body
    assert f"Not released {new.number}: " in body and "FG-NEW" in body
    assert "Not released TB1-nope: no such order." in body
    assert listed(english) == [new.number]


def test_a_late_plan_is_pointed_out_when_releasing(english, shop, catalogue):
    order = confirmed(shop, catalogue, ("FG-HINGE", 5000), promised_date=timezone.localdate())
    body = english.post(reverse("orders:release"), {"orders": [order.number]}, follow=True).content.decode()
    assert "planned to finish after the due date" in body


def test_releasing_with_nothing_ticked_says_so(english):
    body = english.post(reverse("orders:release"), {}, follow=True).content.decode()
    assert "Tick at least one order." in body


def test_after_releasing_the_page_keeps_its_filters(english, shop, catalogue):
    order = confirmed(shop, catalogue, ("FG-HINGE", 1))
    back = f"{reverse('orders:release')}?shop={shop.pk}"
    response = english.post(reverse("orders:release"), {"orders": [order.number], "next": back})
    assert response["Location"] == back
    response = english.post(reverse("orders:release"), {"orders": [order.number], "next": "https://evil.example/"})
    assert response["Location"] == reverse("orders:release")


def test_the_release_page_costs_the_same_queries_for_few_and_many_orders(english, shop, catalogue):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert english.get(reverse("orders:release")).status_code == 200
        return len(queries)

    for _ in range(2):
        confirmed(shop, catalogue, ("FG-HINGE", 1), ("PP-BOX", 2))
    few = page_queries()
    jd = make_account("JD1", kind="jd")
    for n in range(20):
        confirmed(shop if n % 2 else jd, catalogue, ("FG-HINGE", 1), ("PP-BOX", 2), ("FG-NEW", 1))
    assert page_queries() == few


# --- The work-order list ----------------------------------------------------------------------------------------


def test_the_work_order_list_shows_components_indented_under_their_parent_with_the_late_flag(
    english, shop, catalogue, manager
):
    soon = confirmed(shop, catalogue, ("FG-HINGE", 5000), promised_date=timezone.localdate())
    later = confirmed(shop, catalogue, ("FG-HINGE", 1), promised_date=timezone.localdate() + timedelta(days=60))
    orders_release(orders=[soon, later], by=manager)
    response = english.get(reverse("orders:work-orders"))
    rows = [(row.order_number, row.item_code, row.depth, row.late) for row in response.context["rows"]]
    assert rows == [
        (soon.number, "FG-HINGE", 0, True),
        (soon.number, "SF-LEAF", 1, True),
        (later.number, "FG-HINGE", 0, False),
        (later.number, "SF-LEAF", 1, False),
    ]
    top = WorkOrder.objects.get(order_line__order=soon, parent__isnull=True)
    assert reverse("admin:production_workorder_change", args=[top.pk]) in response.content.decode()


def test_the_work_order_list_filters_by_status_and_search(english, shop, catalogue, manager):
    first, second = confirmed(shop, catalogue, ("FG-HINGE", 1)), confirmed(shop, catalogue, ("FG-HINGE", 1))
    orders_release(orders=[first, second], by=manager)
    WorkOrder.objects.filter(order_line__order=second).update(status=WorkOrder.Status.COMPLETED)

    def roots(**params) -> list[str]:
        response = english.get(reverse("orders:work-orders"), params)
        return [row.order_number for row in response.context["rows"] if row.depth == 0]

    assert roots() == [first.number]
    assert roots(status="completed") == [second.number]
    assert roots(status="all", q=second.number) == [second.number]


def test_the_work_order_list_costs_the_same_queries_for_few_and_many_trees(english, shop, catalogue, manager):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert english.get(reverse("orders:work-orders")).status_code == 200
        return len(queries)

    orders_release(orders=[confirmed(shop, catalogue, ("FG-HINGE", 1)) for _ in range(2)], by=manager)
    few = page_queries()
    orders_release(orders=[confirmed(shop, catalogue, ("FG-HINGE", 1)) for _ in range(15)], by=manager)
    assert page_queries() == few


def test_work_that_cannot_be_planned_is_pointed_out_when_releasing(english, shop, catalogue):
    WorkCenter.objects.filter(code="CY-01").update(capacity_hours_per_day=0)
    order = confirmed(shop, catalogue, ("FG-HINGE", 1))
    body = english.post(reverse("orders:release"), {"orders": [order.number]}, follow=True).content.decode()
    assert f"Released {order.number}" in body
    assert "could not be planned" in body and "CY-01" in body
