"""Work orders from an item and a quantity: the whole tree of made components, rework orders and trial runs."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.errors import ApplicationError
from accounts.models import AuditEvent
from accounts.roles import Role
from production.errors import ProductionError
from production.models import Item, Operation, RoutingStep, WorkCenter, WorkOrder, WorkOrderOperation, Workshop
from production.planning import (
    make_qty,
    number_prefix,
    rework_order_create,
    trial_order_create,
    work_order_create_tree,
)
from production.services import bom_line_add

pytestmark = pytest.mark.django_db
D = Decimal


# --- Builders shared with the scheduling and release tests ------------------------------------------------


def work_center(code: str, hours: str = "8") -> WorkCenter:
    """A work centre in the one test workshop, working `hours` a day."""
    workshop, _ = Workshop.objects.get_or_create(code="JG", defaults={"name": "机加工车间"})
    return WorkCenter.objects.create(code=code, name=f"机台 {code}", workshop=workshop, capacity_hours_per_day=D(hours))


def routing(item: Item, *steps: tuple[WorkCenter, str, str]) -> list[RoutingStep]:
    """Steps 10, 20, … of an item's routing, each (work centre, std minutes per unit, setup minutes)."""
    made = []
    for number, (center, std, setup) in enumerate(steps, start=1):
        operation, _ = Operation.objects.get_or_create(
            code=f"OP-{center.code}", defaults={"name": f"工序{center.code}"}
        )
        made.append(
            RoutingStep.objects.create(
                item=item,
                sequence=number * 10,
                operation=operation,
                work_center=center,
                std_minutes_per_unit=D(std),
                setup_minutes=D(setup),
            )
        )
    return made


def tree_of(top: WorkOrder) -> dict[str, WorkOrder]:
    """Every work order of a tree by item code (each item occurs once in the test BOMs)."""
    found, frontier = {}, [top]
    while frontier:
        order = frontier.pop()
        found[order.item.code] = order
        frontier.extend(order.children.select_related("item"))
    return found


@pytest.fixture
def hinge(make_item):
    """A three-level hinge: FG → 2 leaves (+5 %) → 3 blanks each (+10 %) and 0.125 kg of compound (+4 %);
    the leaf also needs raw steel and the hinge bought screws, which get no work orders."""
    fg = make_item("FG-HINGE", kind=Item.Kind.FINISHED, name="不锈钢合页")
    leaf = make_item("SF-LEAF", name="合页片")
    blank = make_item("SF-BLANK", name="冲压毛坯")
    compound = make_item("SF-COMPOUND", name="密封胶料", unit="KG")
    steel = make_item("RM-304", kind=Item.Kind.RAW, name="SUS304 板", unit="KG")
    screw = make_item("PP-SCREW", kind=Item.Kind.PURCHASED, name="螺钉")
    bom_line_add(parent=fg, child=leaf, qty_per=D("2"), scrap_pct=D("5"), by=None)
    bom_line_add(parent=fg, child=screw, qty_per=D("4"), by=None, sequence=20)
    bom_line_add(parent=leaf, child=blank, qty_per=D("3"), scrap_pct=D("10"), by=None)
    bom_line_add(parent=leaf, child=compound, qty_per=D("0.125"), scrap_pct=D("4"), by=None, sequence=20)
    bom_line_add(parent=blank, child=steel, qty_per=D("0.05"), by=None)
    assembly, press, mixer = work_center("ZP-01"), work_center("CY-01"), work_center("HL-01")
    routing(fg, (assembly, "1.5", "20"), (assembly, "0.5", "0"))
    routing(leaf, (press, "0.2", "30"), (press, "0.1", "10"), (assembly, "0.3", "0"))
    routing(blank, (press, "0.05", "15"))
    routing(compound, (mixer, "2", "5"))
    return fg


# --- The tree ---------------------------------------------------------------------------------------------


def test_it_creates_a_child_work_order_for_every_made_component_with_its_exploded_quantity(hinge, users):
    manager = users[Role.PRODUCTION_MANAGER]
    due = timezone.localdate() + timezone.timedelta(days=10)
    top = work_order_create_tree(item=hinge, qty=D("10"), due_date=due, by=manager)
    orders = tree_of(top)
    assert set(orders) == {"FG-HINGE", "SF-LEAF", "SF-BLANK", "SF-COMPOUND"}
    # 10 × 2 × 1.05 = 21 leaves; 21 × 3 × 1.10 = 69.3 → 70 blanks; 21 × 0.125 × 1.04 = 2.73 kg of compound.
    assert {code: order.qty for code, order in orders.items()} == {
        "FG-HINGE": D("10"),
        "SF-LEAF": D("21"),
        "SF-BLANK": D("70"),
        "SF-COMPOUND": D("2.730"),
    }
    assert orders["SF-LEAF"].parent == top
    assert orders["SF-BLANK"].parent == orders["SF-LEAF"]
    assert orders["SF-COMPOUND"].parent == orders["SF-LEAF"]
    assert all(order.due_date == due and order.kind == WorkOrder.Kind.NORMAL for order in orders.values())
    assert all(order.status == WorkOrder.Status.PLANNED and order.created_by == manager for order in orders.values())


def test_bought_and_raw_components_get_no_work_order(hinge):
    work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=None)
    assert not WorkOrder.objects.filter(item__code__in=["RM-304", "PP-SCREW"]).exists()
    assert WorkOrder.objects.count() == 4


def test_a_component_quantity_follows_what_its_parent_work_order_really_makes(make_item):
    # 1 × 0.5 = 0.5 → 1 bracket is made, so its 3 pins per bracket make 3, not 0.5 × 3 = 1.5 → 2.
    fg = make_item("FG-1", kind=Item.Kind.FINISHED)
    bracket, pin = make_item("SF-BRACKET"), make_item("SF-PIN")
    bom_line_add(parent=fg, child=bracket, qty_per=D("0.5"), by=None)
    bom_line_add(parent=bracket, child=pin, qty_per=D("3"), by=None)
    center = work_center("WC-1")
    for item in (fg, bracket, pin):
        routing(item, (center, "1", "0"))
    orders = tree_of(work_order_create_tree(item=fg, qty=D("1"), due_date=None, by=None))
    assert (orders["SF-BRACKET"].qty, orders["SF-PIN"].qty) == (D("1"), D("3"))


def test_each_work_order_copies_its_items_routing_into_operations(hinge):
    orders = tree_of(work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=None))
    for code, order in orders.items():
        copied = list(
            order.operations.order_by("sequence").values_list(
                "sequence", "operation_id", "work_center_id", "std_minutes_per_unit", "setup_minutes", "status"
            )
        )
        wanted = [
            (s.sequence, s.operation_id, s.work_center_id, s.std_minutes_per_unit, s.setup_minutes, "pending")
            for s in RoutingStep.objects.filter(item__code=code).order_by("sequence")
        ]
        assert copied == wanted, code
    assert WorkOrderOperation.objects.count() == 2 + 3 + 1 + 1
    assert WorkOrderOperation.objects.values("code").distinct().count() == 7


def test_every_work_order_of_a_tree_carries_the_sales_order_line(hinge):
    from tests.integrations.builders import make_account, make_order

    order = make_order(make_account(), lines=[("HINGE", 10, "15.00")], items={"HINGE": hinge}, status="confirmed")
    line = order.lines.get()
    work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=None, order_line_id=line.pk)
    assert WorkOrder.objects.filter(order_line=line).count() == 4


def test_work_order_numbers_count_up_per_factory_day(hinge):
    prefix = number_prefix()
    WorkOrder.objects.create(number=f"{prefix}0041", item=hinge, qty=1)
    top = work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=None)
    numbers = sorted(WorkOrder.objects.exclude(pk__lt=top.pk).values_list("number", flat=True))
    assert numbers == [f"{prefix}{n:04d}" for n in range(42, 46)]
    assert re.fullmatch(r"WO-\d{6}-\d{4}", top.number)
    assert top.number == f"{prefix}0042"  # the top-level work order takes the first number


def test_numbers_keep_counting_past_9999(hinge):
    prefix = number_prefix()
    WorkOrder.objects.create(number=f"{prefix}9999", item=hinge, qty=1)
    WorkOrder.objects.create(number=f"{prefix}10000", item=hinge, qty=1)
    top = work_order_create_tree(item=hinge, qty=D("1"), due_date=None, by=None)
    assert top.number == f"{prefix}10001"


def test_a_hand_made_number_of_the_day_does_not_confuse_the_count(hinge):
    prefix = number_prefix()
    WorkOrder.objects.create(number=f"{prefix}0007", item=hinge, qty=1)
    WorkOrder.objects.create(number=f"{prefix}0007-R1", item=hinge, qty=1)
    assert work_order_create_tree(item=hinge, qty=D("1"), due_date=None, by=None).number == f"{prefix}0008"


def test_the_tree_is_audited_with_its_children(hinge, users):
    top = work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=users[Role.PRODUCTION_MANAGER])
    event = AuditEvent.objects.get(verb="work_order.create")
    assert event.object_id == str(top.pk)
    assert event.actor == users[Role.PRODUCTION_MANAGER]
    assert {child["item"] for child in event.changes["children"]} == {"SF-LEAF", "SF-BLANK", "SF-COMPOUND"}


def test_a_made_item_without_a_routing_is_refused_and_nothing_is_written(hinge):
    RoutingStep.objects.filter(item__code="SF-BLANK").delete()
    with pytest.raises(ProductionError) as error:
        work_order_create_tree(item=hinge, qty=D("10"), due_date=None, by=None)
    assert error.value.code == "routing_missing"
    assert "SF-BLANK" in error.value.message
    assert WorkOrder.objects.count() == 0
    assert WorkOrderOperation.objects.count() == 0
    assert not AuditEvent.objects.filter(verb="work_order.create").exists()


def test_a_bought_item_gets_no_work_order(make_item):
    screw = make_item("PP-1", kind=Item.Kind.PURCHASED)
    with pytest.raises(ProductionError) as error:
        work_order_create_tree(item=screw, qty=D("5"), due_date=None, by=None)
    assert error.value.code == "item_not_made"


@pytest.mark.parametrize("qty", ["0", "-1", "NaN"])
def test_a_quantity_that_is_not_positive_is_refused(hinge, qty):
    with pytest.raises(ProductionError):
        work_order_create_tree(item=hinge, qty=D(qty), due_date=None, by=None)
    assert WorkOrder.objects.count() == 0


@pytest.mark.parametrize(
    ("qty", "unit", "made"),
    [("2.1", "PCS", "3"), ("2", "PCS", "2"), ("2.1", "件", "3"), ("2.7301", "KG", "2.731"), ("15.3", "M", "15.3")],
)
def test_pieces_are_rounded_up_and_measured_units_keep_their_decimals(qty, unit, made):
    assert make_qty(D(qty), unit) == D(made)


# --- Rework and trial runs --------------------------------------------------------------------------------


@pytest.fixture
def leaf_order(hinge):
    """The leaf's work order of a hinge tree, its second step (20) having reported 3 scrap and 2 for rework."""
    top = work_order_create_tree(item=hinge, qty=D("10"), due_date=timezone.localdate(), by=None)
    leaf = tree_of(top)["SF-LEAF"]
    leaf.operations.filter(sequence=20).update(scrap_qty=D("3"), rework_qty=D("2"), good_qty=D("16"), status="done")
    return leaf


def test_a_rework_order_is_linked_to_its_source_operation_and_runs_the_routing_from_there(leaf_order, users):
    source = leaf_order.operations.get(sequence=20)
    rework = rework_order_create(source_operation=source, qty=D("5"), reason="毛刺返修", by=users[Role.TEAM_LEADER])
    assert rework.kind == WorkOrder.Kind.REWORK
    assert rework.rework_of == source
    assert (rework.item, rework.qty, rework.note) == (leaf_order.item, D("5"), "毛刺返修")
    assert rework.parent == leaf_order.parent  # the reworked leaves still go into the hinge
    assert rework.due_date == leaf_order.due_date
    assert list(rework.operations.order_by("sequence").values_list("sequence", flat=True)) == [20, 30]
    assert rework.planned_start is not None  # scheduled at once
    assert AuditEvent.objects.filter(verb="work_order.create_rework", object_id=str(rework.pk)).exists()


def test_rework_is_limited_to_the_source_operations_scrap_and_rework_quantity(leaf_order):
    source = leaf_order.operations.get(sequence=20)
    with pytest.raises(ProductionError) as error:
        rework_order_create(source_operation=source, qty=D("6"), reason="返修", by=None)
    assert error.value.code == "rework_qty_exceeded"
    assert error.value.extra["max_qty"] == "5"
    rework_order_create(source_operation=source, qty=D("4"), reason="返修", by=None)
    with pytest.raises(ProductionError) as error:
        rework_order_create(source_operation=source, qty=D("2"), reason="再返修", by=None)
    assert error.value.extra["max_qty"] == "1"
    assert WorkOrder.objects.filter(kind=WorkOrder.Kind.REWORK).count() == 1


def test_a_cancelled_rework_order_frees_its_quantity(leaf_order):
    source = leaf_order.operations.get(sequence=20)
    first = rework_order_create(source_operation=source, qty=D("5"), reason="返修", by=None)
    WorkOrder.objects.filter(pk=first.pk).update(status=WorkOrder.Status.CANCELLED)
    assert rework_order_create(source_operation=source, qty=D("5"), reason="返修", by=None).qty == D("5")


def test_an_operation_without_scrap_or_rework_cannot_be_reworked(leaf_order):
    with pytest.raises(ApplicationError) as error:
        rework_order_create(source_operation=leaf_order.operations.get(sequence=10), qty=D("1"), reason="x", by=None)
    assert error.value.code == "rework_qty_exceeded"


def test_a_trial_run_is_one_work_order_through_the_items_routing(hinge, users):
    trial = trial_order_create(item=hinge, qty=D("3"), note="新模具试模", by=users[Role.PRODUCTION_MANAGER])
    assert (trial.kind, trial.qty, trial.note, trial.order_line) == (WorkOrder.Kind.TRIAL, D("3"), "新模具试模", None)
    assert WorkOrder.objects.count() == 1
    assert trial.operations.count() == 2
    assert trial.planned_start is not None
    assert AuditEvent.objects.filter(verb="work_order.create_trial", object_id=str(trial.pk)).exists()


def test_a_trial_run_of_an_item_without_routing_is_refused(make_item):
    with pytest.raises(ProductionError) as error:
        trial_order_create(item=make_item("SF-NEW"), qty=D("1"), note="", by=None)
    assert error.value.code == "routing_missing"
    assert WorkOrder.objects.count() == 0
