"""Forward finite-capacity scheduling: order within a work order, components first, capacity, priority, lateness."""

from datetime import date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from production.models import Item, WorkOrder, WorkOrderOperation
from production.planning import work_order_create_tree
from production.scheduling import FACTORY_TZ, Calendar, schedule
from production.services import bom_line_add
from tests.production.test_planning import routing, work_center

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = date(2026, 3, 2)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, factory time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=FACTORY_TZ)


START = at(2, 8)


def plan(work_order: WorkOrder) -> list[tuple[datetime, datetime]]:
    """The planned (start, end) of each operation, in sequence, in factory time."""
    return [
        (start.astimezone(FACTORY_TZ), end.astimezone(FACTORY_TZ))
        for start, end in work_order.operations.order_by("sequence").values_list("planned_start", "planned_end")
    ]


def made(make_item, code: str, *steps, kind=Item.Kind.SEMI) -> Item:
    item = make_item(code, kind=kind)
    routing(item, *steps)
    return item


def order(item: Item, qty: str, due: date | None = None) -> WorkOrder:
    return work_order_create_tree(item=item, qty=D(qty), due_date=due, by=None)


def test_the_operations_of_a_work_order_follow_one_another(make_item):
    a, b, c = work_center("A"), work_center("B"), work_center("C")
    item = made(make_item, "SF-1", (a, "6", "30"), (b, "3", "0"), (c, "1.5", "15"))
    work_order = order(item, "10")
    schedule(start=START, now=START)
    assert plan(work_order) == [(at(2, 8), at(2, 9, 30)), (at(2, 9, 30), at(2, 10)), (at(2, 10), at(2, 10, 30))]
    work_order.refresh_from_db()
    assert (work_order.planned_start, work_order.planned_end) == (at(2, 8), at(2, 10, 30))


def test_a_component_work_order_is_planned_before_the_work_order_that_uses_it(make_item):
    assembly, press = work_center("ZP"), work_center("CY")
    fg = made(make_item, "FG-1", (assembly, "6", "0"), kind=Item.Kind.FINISHED)
    leaf = made(make_item, "SF-LEAF", (press, "1.5", "0"), (press, "1.5", "0"))
    bom_line_add(parent=fg, child=leaf, qty_per=D("2"), by=None)
    top = order(fg, "10")
    child = top.children.get()
    schedule(start=START, now=START)
    assert plan(child) == [(at(2, 8), at(2, 8, 30)), (at(2, 8, 30), at(2, 9))]
    assert plan(top) == [(at(2, 9), at(2, 10))]


def test_two_work_orders_on_one_work_centre_do_not_overlap_and_the_second_continues_the_next_day(make_item):
    lathe = work_center("CNC-1", hours="8")
    item = made(make_item, "SF-1", (lathe, "3", "0"))
    first, second = order(item, "100", MONDAY), order(item, "100", date(2026, 3, 3))  # 5 h each
    schedule(start=START, now=START)
    assert plan(first) == [(at(2, 8), at(2, 13))]
    # 3 h left on Monday (13:00–16:00), the other 2 h on Tuesday morning.
    assert plan(second) == [(at(2, 13), at(3, 10))]


def test_an_operation_that_ends_with_the_shift_ends_that_evening(make_item):
    lathe = work_center("CNC-1", hours="8")
    work_order = order(made(make_item, "SF-1", (lathe, "4.8", "0")), "100")  # exactly 8 h
    schedule(start=START, now=START)
    assert plan(work_order) == [(at(2, 8), at(2, 16))]


def test_the_earliest_due_date_goes_first_whatever_the_creation_order(make_item):
    lathe = work_center("CNC-1")
    item = made(make_item, "SF-1", (lathe, "0.6", "0"))  # 1 h for 100
    later, sooner = order(item, "100", date(2026, 3, 20)), order(item, "100", date(2026, 3, 10))
    undated = order(item, "100")
    schedule(start=START, now=START)
    assert plan(sooner) == [(at(2, 8), at(2, 9))]
    assert plan(later) == [(at(2, 9), at(2, 10))]
    assert plan(undated) == [(at(2, 10), at(2, 11))]


def test_work_orders_due_the_same_day_go_by_number(make_item):
    lathe = work_center("CNC-1")
    item = made(make_item, "SF-1", (lathe, "0.6", "0"))
    first, second = order(item, "100", MONDAY), order(item, "100", MONDAY)
    assert first.number < second.number
    schedule(start=START, now=START)
    assert plan(first)[0][0] < plan(second)[0][0]


def test_work_orders_that_end_after_their_due_date_are_reported_late(make_item):
    lathe, mill = work_center("CNC-1"), work_center("MILL-1")
    slow = order(made(make_item, "SF-SLOW", (lathe, "6", "0")), "100", MONDAY)  # 10 h: ends Tuesday
    quick = order(made(make_item, "SF-QUICK", (mill, "0.6", "0")), "100", MONDAY)
    result = schedule(start=START, now=START)
    assert result.late_numbers == [slow.number]
    assert result.late[0].planned_end == at(3, 10)
    assert quick.number not in result.late_numbers


def test_a_work_centre_waiting_for_an_earlier_step_is_used_by_the_next_work_order(make_item):
    saw, lathe = work_center("SAW"), work_center("CNC-1")
    urgent = order(made(make_item, "SF-U", (saw, "1.8", "0"), (lathe, "1.2", "0")), "100", MONDAY)
    filler = order(made(make_item, "SF-F", (lathe, "1.2", "0")), "100", date(2026, 3, 9))
    schedule(start=START, now=START)
    assert plan(urgent) == [(at(2, 8), at(2, 11)), (at(2, 11), at(2, 13))]
    assert plan(filler) == [(at(2, 8), at(2, 10))]  # the lathe is idle until the saw is done


def test_started_operations_stay_in_place_and_keep_their_work_centre_time(make_item):
    lathe = work_center("CNC-1")
    item = made(make_item, "SF-1", (lathe, "2.4", "0"), (lathe, "0.6", "0"))
    running = order(item, "100", date(2026, 3, 20))
    first = running.operations.get(sequence=10)
    WorkOrderOperation.objects.filter(pk=first.pk).update(
        status="running", planned_start=at(2, 8), planned_end=at(2, 12), actual_start=at(2, 8, 5)
    )
    urgent = order(made(make_item, "SF-2", (lathe, "0.6", "0")), "100", MONDAY)
    schedule(start=at(2, 9), now=at(2, 9))
    assert plan(running)[0] == (at(2, 8), at(2, 12))
    assert plan(urgent) == [(at(2, 12), at(2, 13))]  # earlier due, but the lathe is busy until 12:00
    assert plan(running)[1] == (at(2, 13), at(2, 14))


def test_an_operation_running_over_its_plan_keeps_its_work_centre_for_what_is_left(make_item):
    lathe = work_center("CNC-1")
    running = order(made(make_item, "SF-1", (lathe, "0.6", "0")), "100")
    WorkOrderOperation.objects.filter(work_order=running).update(
        status="running", planned_start=at(2, 8), planned_end=at(2, 9), actual_start=at(2, 8), good_qty=50
    )
    waiting = order(made(make_item, "SF-2", (lathe, "0.6", "0")), "100", MONDAY)
    schedule(start=at(2, 10), now=at(2, 10))
    assert plan(waiting) == [(at(2, 10, 30), at(2, 11, 30))]  # 50 left × 0.6 min = 30 min more from 10:00


def test_a_step_after_a_finished_step_starts_when_it_ended(make_item):
    saw, lathe = work_center("SAW"), work_center("CNC-1")
    work_order = order(made(make_item, "SF-1", (saw, "1", "0"), (lathe, "0.6", "0")), "100")
    WorkOrderOperation.objects.filter(work_order=work_order, sequence=10).update(
        status="done", actual_start=at(2, 8), actual_end=at(2, 11), planned_start=at(2, 8), planned_end=at(2, 9, 40)
    )
    schedule(start=at(2, 9), now=at(2, 9))
    assert plan(work_order)[1] == (at(2, 11), at(2, 12))
    work_order.refresh_from_db()
    assert (work_order.planned_start, work_order.planned_end) == (at(2, 8), at(2, 12))


def test_planning_some_work_orders_fits_them_around_the_existing_plan(make_item):
    lathe = work_center("CNC-1")
    item = made(make_item, "SF-1", (lathe, "3", "0"))
    planned = order(item, "100", date(2026, 3, 20))
    schedule(start=START, now=START)
    urgent = order(item, "20", MONDAY)  # 1 h, due sooner
    schedule(work_orders=[urgent], start=START, now=START)
    assert plan(planned) == [(at(2, 8), at(2, 13))]
    assert plan(urgent) == [(at(2, 13), at(2, 14))]
    schedule(start=START, now=START)  # a full re-plan puts the sooner due date first
    assert plan(urgent) == [(at(2, 8), at(2, 9))]
    assert plan(planned) == [(at(2, 9), at(2, 14))]


def test_a_parent_planned_alone_waits_for_its_components_existing_plan(make_item):
    assembly, press = work_center("ZP"), work_center("CY")
    fg = made(make_item, "FG-1", (assembly, "6", "0"), kind=Item.Kind.FINISHED)
    leaf = made(make_item, "SF-LEAF", (press, "3", "0"))
    bom_line_add(parent=fg, child=leaf, qty_per=D("1"), by=None)
    top = order(fg, "10")
    schedule(start=START, now=START)
    schedule(work_orders=[top], start=START, now=START)
    assert plan(top) == [(at(2, 8, 30), at(2, 9, 30))]


@pytest.mark.parametrize(
    ("hours", "start", "end"),
    [("16", at(2, 8), at(2, 18)), ("24", at(2, 8), at(2, 18)), ("4", at(2, 8), at(4, 10))],
)
def test_a_work_centre_works_its_own_hours_from_eight(make_item, hours, start, end):
    oven = work_center("OVEN", hours=hours)
    work_order = order(made(make_item, "SF-1", (oven, "6", "0")), "100")  # 10 h of work
    schedule(start=START, now=START)
    assert plan(work_order) == [(start, end)]


@pytest.mark.parametrize(
    ("begin", "first"),
    [(at(2, 6), at(2, 8)), (at(2, 14), at(2, 14)), (at(2, 17), at(3, 8)), (at(3, 2), at(3, 8))],
)
def test_nothing_is_planned_before_the_start_or_outside_working_hours(make_item, begin, first):
    lathe = work_center("CNC-1")
    work_order = order(made(make_item, "SF-1", (lathe, "0.6", "0")), "100")
    schedule(start=begin, now=begin)
    assert plan(work_order)[0][0] == first


def test_a_work_centre_without_capacity_blocks_its_work_order_and_those_waiting_for_it(make_item):
    idle, assembly = work_center("IDLE", hours="0"), work_center("ZP")
    fg = made(make_item, "FG-1", (assembly, "1", "0"), kind=Item.Kind.FINISHED)
    leaf = made(make_item, "SF-LEAF", (idle, "1", "0"))
    bom_line_add(parent=fg, child=leaf, qty_per=D("1"), by=None)
    top = order(fg, "10")
    result = schedule(start=START, now=START)
    reasons = {blocked.number: blocked.reason for blocked in result.blocked}
    assert "IDLE" in reasons[top.children.get().number]
    assert top.children.get().number in reasons[top.number]
    assert top.operations.get().planned_start is None
    top.refresh_from_db()
    assert top.planned_end is None


def test_the_same_data_gives_the_same_plan_and_a_second_run_changes_nothing(make_item):
    lathe, mill = work_center("CNC-1"), work_center("MILL-1")
    item = made(make_item, "SF-1", (lathe, "0.7", "5"), (mill, "0.3", "10"))
    orders = [order(item, str(10 * n), date(2026, 3, 2 + n % 3)) for n in range(1, 8)]
    schedule(start=START, now=START)
    first = {o.number: plan(o) for o in orders}
    again = schedule(start=START, now=START)
    assert again.changed_operations == 0
    assert {o.number: plan(o) for o in orders} == first


def test_a_run_is_audited():
    schedule(start=START, now=START)
    assert AuditEvent.objects.filter(verb="schedule.run").exists()


def _count_schedule_queries(make_item, prefix: str, count: int) -> int:
    lathe, mill = work_center(f"{prefix}-L"), work_center(f"{prefix}-M")
    fg = made(make_item, f"{prefix}-FG", (lathe, "1", "0"), kind=Item.Kind.FINISHED)
    leaf = made(make_item, f"{prefix}-SF", (mill, "1", "0"), (lathe, "0.5", "0"))
    bom_line_add(parent=fg, child=leaf, qty_per=D("2"), by=None)
    for n in range(count):
        order(fg, "5", date(2026, 3, 2 + n % 5))
    WorkOrder.objects.exclude(item__code__startswith=prefix).update(status=WorkOrder.Status.COMPLETED)
    with CaptureQueriesContext(connection) as queries:
        result = schedule(start=START, now=START)
    assert result.work_orders == 2 * count
    return len(queries)


def test_scheduling_takes_the_same_number_of_queries_for_few_or_many_work_orders(make_item):
    assert _count_schedule_queries(make_item, "S", 3) == _count_schedule_queries(make_item, "L", 60)


def test_the_command_plans_everything_and_names_the_late_work_orders(make_item):
    lathe = work_center("CNC-1")
    late = order(made(make_item, "SF-1", (lathe, "6", "0")), "100", MONDAY)
    out = StringIO()
    call_command("schedule", "--start", "2026-03-02T08:00", stdout=out)
    assert "Planned 1 operations of 1 work orders" in out.getvalue()
    assert f"late: {late.number} due 2026-03-02, planned to end 2026-03-03 10:00" in out.getvalue()


def test_the_calendar_maps_working_time_both_ways():
    calendar = Calendar(D("8"))
    assert calendar.moment(calendar.point(at(2, 12))) == at(2, 12)
    assert calendar.point(at(2, 16)) == calendar.point(at(3, 8)) == calendar.point(at(2, 20))
    assert calendar.moment(calendar.point(at(2, 16)), end=True) == at(2, 16)
    assert calendar.moment(calendar.point(at(2, 16))) == at(3, 8)
