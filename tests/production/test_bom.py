"""Multi-level BOM explosion with accumulated quantities, and cycles refused with the loop named."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AuditEvent
from accounts.roles import Role
from production.errors import BomCycleError, ProductionError
from production.models import BomLine, Item
from production.selectors import bom_explode
from production.services import bom_line_add

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def six_levels(make_item):
    """FG → L1 → L2 → L3 → L4 → L5 → RM, plus a second branch under FG, quantities and scrap at each level."""
    fg = make_item("FG", kind=Item.Kind.FINISHED)
    chain = [fg] + [make_item(f"L{n}") for n in range(1, 6)] + [make_item("RM", kind=Item.Kind.RAW, unit="KG")]
    quantities = [("2", "0"), ("3", "10"), ("1.5", "0"), ("4", "5"), ("2", "0"), ("0.25", "2")]
    for parent, child, (qty, scrap) in zip(chain, chain[1:], quantities, strict=False):
        bom_line_add(parent=parent, child=child, qty_per=D(qty), scrap_pct=D(scrap), by=None)
    screw = make_item("PP-SCREW", kind=Item.Kind.PURCHASED)
    bom_line_add(parent=fg, child=screw, qty_per=D("4"), sequence=20, by=None)
    bom_line_add(parent=chain[3], child=screw, qty_per=D("2"), sequence=20, by=None)
    return fg, chain, screw


def test_it_explodes_six_levels_with_accumulated_quantities_and_scrap(six_levels, django_assert_max_num_queries):
    fg, _chain, _screw = six_levels
    with django_assert_max_num_queries(2):
        explosion = bom_explode(item=fg, qty=D("10"))
    assert explosion.depth == 6
    by_code = {row.code: row for row in explosion.rows if row.code != "PP-SCREW"}
    # 10 FG × 2 = 20 L1; × 3 × 1.10 = 66 L2; × 1.5 = 99 L3; × 4 × 1.05 = 415.8 L4; × 2 = 831.6 L5;
    # × 0.25 × 1.02 = 212.058 kg RM.
    assert by_code["L1"].qty == D("20")
    assert by_code["L2"].qty == D("66")
    assert by_code["L3"].qty == D("99")
    assert by_code["L4"].qty == D("415.8")
    assert by_code["L5"].qty == D("831.6")
    assert by_code["RM"].qty == D("212.058")
    assert [by_code[c].level for c in ["L1", "L2", "L3", "L4", "L5", "RM"]] == [1, 2, 3, 4, 5, 6]
    assert by_code["RM"].path == ("FG", "L1", "L2", "L3", "L4", "L5", "RM")


def test_a_component_used_in_two_places_is_listed_twice_and_totalled_once(six_levels):
    fg, _chain, _screw = six_levels
    explosion = bom_explode(item=fg, qty=D("10"))
    screws = [row for row in explosion.rows if row.code == "PP-SCREW"]
    # 40 directly under FG, plus 99 L3 × 2 = 198 under L3.
    assert sorted(row.qty for row in screws) == [D("40"), D("198")]
    totals = {row["code"]: row["qty"] for row in explosion.totals()}
    assert totals["PP-SCREW"] == D("238")


def test_the_number_of_queries_does_not_grow_with_depth(make_item, django_assert_max_num_queries):
    top = make_item("DEEP-0", kind=Item.Kind.FINISHED)
    parent = top
    for level in range(1, 12):
        child = make_item(f"DEEP-{level}")
        BomLine.objects.create(parent=parent, child=child, qty_per=D("1"))
        parent = child
    with django_assert_max_num_queries(2):
        assert bom_explode(item=top).depth == 11


def test_an_item_with_no_bom_explodes_to_nothing(make_item):
    assert bom_explode(item=make_item(kind=Item.Kind.FINISHED)).rows == []


def test_it_refuses_a_line_that_closes_a_loop_and_names_it(six_levels):
    _fg, chain, _screw = six_levels
    lines_before = BomLine.objects.count()
    audit_before = AuditEvent.objects.count()
    with pytest.raises(BomCycleError) as error:
        bom_line_add(parent=chain[5], child=chain[2], qty_per=D("1"), by=None)
    assert "L2 → L3 → L4 → L5" in error.value.message
    assert error.value.code == "bom_cycle"
    assert BomLine.objects.count() == lines_before
    assert AuditEvent.objects.count() == audit_before


def test_it_refuses_an_item_as_its_own_component(make_item):
    item = make_item()
    with pytest.raises(BomCycleError):
        bom_line_add(parent=item, child=item, qty_per=D("1"), by=None)


def test_the_database_also_refuses_an_item_as_its_own_component(make_item):
    item = make_item()
    with pytest.raises(IntegrityError), transaction.atomic():
        BomLine.objects.create(parent=item, child=item, qty_per=D("1"))


def test_a_loop_already_in_the_data_is_reported_not_followed_forever(make_item):
    a, b, c = make_item("A"), make_item("B"), make_item("C")
    BomLine.objects.create(parent=a, child=b, qty_per=D("1"))
    BomLine.objects.create(parent=b, child=c, qty_per=D("1"))
    BomLine.objects.create(parent=c, child=a, qty_per=D("1"))  # e.g. written by an old import
    with pytest.raises(BomCycleError) as error:
        bom_explode(item=a)
    assert "A → B → C → A" in error.value.message


@pytest.mark.parametrize(("qty", "scrap"), [("0", "0"), ("-1", "0"), ("1", "-5"), ("1", "100")])
def test_it_refuses_non_positive_quantities_and_impossible_scrap(make_item, qty, scrap):
    parent, child = make_item(kind=Item.Kind.FINISHED), make_item(kind=Item.Kind.RAW)
    with pytest.raises(Exception):  # noqa: B017 - full_clean's ValidationError names the field
        bom_line_add(parent=parent, child=child, qty_per=D(qty), scrap_pct=D(scrap), by=None)
    assert not BomLine.objects.exists()


def test_bought_and_raw_items_cannot_have_a_bom(make_item):
    with pytest.raises(ProductionError) as error:
        bom_line_add(parent=make_item(kind=Item.Kind.RAW), child=make_item(), qty_per=D("1"), by=None)
    assert error.value.code == "bom_parent_not_made"


def test_adding_a_line_is_audited(make_item, users):
    parent, child = make_item(kind=Item.Kind.FINISHED), make_item()
    bom_line_add(parent=parent, child=child, qty_per=D("2.5"), by=users[Role.PRODUCTION_MANAGER])
    event = AuditEvent.objects.get(verb="bom_line.add")
    assert event.actor == users[Role.PRODUCTION_MANAGER]
    assert event.changes["qty_per"] == "2.5"
