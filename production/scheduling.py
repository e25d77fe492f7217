"""Forward finite-capacity scheduling: every unstarted operation of the open work orders gets a planned start and end.

A work centre works `capacity_hours_per_day` hours every day from 08:00 Asia/Shanghai. Its working time is
treated as one line of seconds, day after day with the off hours cut out, so an operation is one stretch of
that line: an operation longer than what is left of a day continues the next morning. Work orders are taken
earliest due date first (then by number), each after its components' work orders (children before parent);
within a work order each operation starts after the previous one ends. An operation takes the earliest free
stretch of its work centre from then on. Operations already started stay where they are, and their time on
the work centre is kept for them. The same data always gives the same plan.
"""

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from production.models import WorkOrder, WorkOrderOperation

FACTORY_TZ = ZoneInfo("Asia/Shanghai")
WORKDAY_START = time(8, 0)
# Key of the PostgreSQL advisory lock held by whoever changes the plan ("LLPL").
PLAN_LOCK_KEY = 0x4C4C504C
ACTIVE = (WorkOrder.Status.PLANNED, WorkOrder.Status.IN_PROGRESS)
OpStatus = WorkOrderOperation.Status
STARTED = (OpStatus.RUNNING, OpStatus.PAUSED)
UPDATE_BATCH = 500

OPERATION_FIELDS = [
    "id",
    "work_order_id",
    "sequence",
    "status",
    "work_center_id",
    "std_minutes_per_unit",
    "setup_minutes",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "good_qty",
    "scrap_qty",
    "rework_qty",
]


def lock_plan() -> None:
    """Let one planner at a time change work orders' plans (PostgreSQL; SQLite's write lock already does this).

    Held until the surrounding transaction ends; taking it again in the same transaction is free.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PLAN_LOCK_KEY])


def is_late(planned_end: datetime | None, due_date: date | None) -> bool:
    """Whether a plan ends after the day it is due (judged on the factory's calendar)."""
    if planned_end is None or due_date is None:
        return False
    return planned_end.astimezone(FACTORY_TZ).date() > due_date


def _seconds(minutes: Decimal) -> int:
    return int((Decimal(minutes) * 60).to_integral_value(rounding=ROUND_CEILING))


def operation_seconds(*, setup_minutes: Decimal, std_minutes_per_unit: Decimal, qty: Decimal) -> int:
    """How long an operation occupies its work centre: setup plus standard minutes per unit times the quantity."""
    return _seconds(setup_minutes + std_minutes_per_unit * qty)


class Calendar:
    """One work centre's working time as a line of seconds, and the stretches of it already booked."""

    def __init__(self, capacity_hours: Decimal):
        self.capacity = max(_seconds(Decimal(capacity_hours) * 60), 0)
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._reserved: list[tuple[int, int]] = []

    def point(self, moment: datetime) -> int:
        """The place of a moment on the line; a moment outside working hours is the next working second."""
        local = moment.astimezone(FACTORY_TZ)
        opening_hours = timedelta(hours=WORKDAY_START.hour, minutes=WORKDAY_START.minute)
        day = (local - opening_hours).date()
        opening = datetime.combine(day, WORKDAY_START, FACTORY_TZ)
        offset = min(math.ceil((local - opening).total_seconds()), self.capacity)
        return day.toordinal() * self.capacity + offset

    def moment(self, point: int, *, end: bool = False) -> datetime:
        """The clock time of a place on the line; an end on a day boundary is the evening, not the next morning."""
        day, offset = divmod(point, self.capacity)
        if end and offset == 0:
            day, offset = day - 1, self.capacity
        return datetime.combine(date.fromordinal(day), WORKDAY_START, FACTORY_TZ) + timedelta(seconds=offset)

    def reserve(self, start: datetime, end: datetime) -> None:
        """Keep a stretch for an operation that is not being planned (started, or planned before)."""
        if self.capacity:
            first, last = self.point(start), self.point(end)
            if last > first:
                self._reserved.append((first, last))

    def _settle(self) -> None:
        # Reservations may overlap one another (e.g. two running operations on one machine): merge them once.
        if not self._reserved:
            return
        stretches = sorted([*zip(self._starts, self._ends, strict=True), *self._reserved])
        self._reserved = []
        self._starts, self._ends = [], []
        for first, last in stretches:
            if self._ends and first <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], last)
            else:
                self._starts.append(first)
                self._ends.append(last)

    def book(self, earliest: datetime, seconds: int) -> tuple[datetime, datetime]:
        """Book the first free stretch of `seconds` at or after `earliest`; returns its start and end."""
        self._settle()
        candidate = self.point(earliest)
        if seconds <= 0:
            moment = self.moment(candidate)
            return moment, moment
        index = bisect_right(self._starts, candidate) - 1
        if index >= 0 and self._ends[index] > candidate:
            candidate = self._ends[index]
        index += 1
        while index < len(self._starts) and self._starts[index] < candidate + seconds:
            candidate = max(candidate, self._ends[index])
            index += 1
        finish = candidate + seconds
        # Join touching stretches, so a fully booked day is one stretch and later searches stay short.
        joins_left = index > 0 and self._ends[index - 1] == candidate
        joins_right = index < len(self._starts) and self._starts[index] == finish
        if joins_left and joins_right:
            self._ends[index - 1] = self._ends.pop(index)
            self._starts.pop(index)
        elif joins_left:
            self._ends[index - 1] = finish
        elif joins_right:
            self._starts[index] = candidate
        else:
            self._starts.insert(index, candidate)
            self._ends.insert(index, finish)
        return self.moment(candidate), self.moment(finish, end=True)


@dataclass(frozen=True)
class LateWorkOrder:
    """A work order planned to end after its due date."""

    id: int
    number: str
    due_date: date
    planned_end: datetime


@dataclass(frozen=True)
class BlockedWorkOrder:
    """A work order whose unstarted operations could not be planned, and why."""

    id: int
    number: str
    reason: str


@dataclass
class ScheduleResult:
    """What a scheduling run planned: counts, the late work orders and those it could not plan."""

    work_orders: int = 0
    operations: int = 0
    changed_operations: int = 0
    late: list[LateWorkOrder] = field(default_factory=list)
    blocked: list[BlockedWorkOrder] = field(default_factory=list)

    @property
    def late_numbers(self) -> list[str]:
        """Numbers of the late work orders, soonest due first."""
        return [late.number for late in self.late]


def _ids(work_orders: Iterable) -> QuerySet | list[int]:
    if isinstance(work_orders, QuerySet):
        return work_orders.values("pk")
    return [getattr(work_order, "pk", work_order) for work_order in work_orders]


def _started_span(op: dict, qty: Decimal, now: datetime) -> tuple[datetime, datetime]:
    """Where an operation already under way sits: its plan, or from its actual start for its standard time."""
    start = op["planned_start"] or op["actual_start"] or now
    end = op["planned_end"] or start + timedelta(
        seconds=operation_seconds(
            setup_minutes=op["setup_minutes"], std_minutes_per_unit=op["std_minutes_per_unit"], qty=qty
        )
    )
    if end < now:
        # Running over its plan: what is left of the quantity still needs its standard time, from now.
        left = max(qty - op["good_qty"] - op["scrap_qty"] - op["rework_qty"], Decimal(0))
        end = now + timedelta(seconds=_seconds(op["std_minutes_per_unit"] * left))
    return start, end


def _write_plans(model, plans: list[tuple[int, datetime | None, datetime | None]]) -> None:
    """Set planned_start/planned_end of many rows, one UPDATE … FROM (VALUES …) per batch.

    bulk_update's CASE WHEN per row costs seconds of Python for thousands of operations; this costs milliseconds.
    """
    if connection.vendor not in ("postgresql", "sqlite"):
        objects = [model(id=pk, planned_start=start, planned_end=end) for pk, start, end in plans]
        model.objects.bulk_update(objects, ["planned_start", "planned_end"], batch_size=UPDATE_BATCH)
        return
    table = connection.ops.quote_name(model._meta.db_table)
    # SQLite keeps datetimes as text (no cast); PostgreSQL needs the type when a column is all NULL.
    typed = "::timestamptz" if connection.vendor == "postgresql" else ""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for first in range(0, len(plans), UPDATE_BATCH):
            batch = plans[first : first + UPDATE_BATCH]
            rows = ", ".join(["(%s, %s, %s)"] * len(batch))
            sql = (
                f"WITH plan(id, s, e) AS (VALUES {rows}) "
                f"UPDATE {table} SET planned_start = plan.s{typed}, planned_end = plan.e{typed} "
                f"FROM plan WHERE {table}.id = plan.id"
            )
            cursor.execute(sql, [value for pk, start, end in batch for value in (pk, adapt(start), adapt(end))])


class _Run:
    """One scheduling run: the work orders and operations read up front, then planned in memory."""

    def __init__(self, work_orders: Iterable | None, start: datetime, now: datetime):
        self.start, self.now = start, now
        self.everything = work_orders is None
        orders = WorkOrder.objects.filter(status__in=ACTIVE)
        operations = WorkOrderOperation.objects.filter(work_order__status__in=ACTIVE)
        if not self.everything:
            ids = _ids(work_orders)
            orders, operations = orders.filter(pk__in=ids), operations.filter(work_order_id__in=ids)
        self.orders = {
            row["id"]: row
            for row in orders.values("id", "number", "due_date", "parent_id", "qty", "planned_start", "planned_end")
        }
        self.operations: dict[int, list[dict]] = defaultdict(list)
        capacities: dict[int, Decimal] = {}
        codes: dict[int, str] = {}
        for op in operations.order_by("work_order_id", "sequence").values(
            *OPERATION_FIELDS, "work_center__code", "work_center__capacity_hours_per_day"
        ):
            if op["work_order_id"] in self.orders:
                self.operations[op["work_order_id"]].append(op)
                capacities[op["work_center_id"]] = op["work_center__capacity_hours_per_day"]
                codes[op["work_center_id"]] = op["work_center__code"]
        self.calendars = {wc: Calendar(capacity) for wc, capacity in capacities.items()}
        self.work_center_codes = codes
        self.children: dict[int, list[int]] = defaultdict(list)
        for row in sorted(self.orders.values(), key=self.priority):
            if row["parent_id"] in self.orders:
                self.children[row["parent_id"]].append(row["id"])
        self.outside_ready = self._outside_children()
        self._reserve()
        self.ends: dict[int, datetime | None] = {}
        self.blocked: dict[int, str] = {}
        self.new_plans: dict[int, tuple[datetime | None, datetime | None]] = {}
        self.order_plans: dict[int, tuple[datetime | None, datetime | None]] = {}

    @staticmethod
    def priority(row: dict) -> tuple:
        return (row["due_date"] or date.max, row["number"])

    def _outside_children(self) -> dict[int, datetime]:
        """When components not in this run (already planned or under way) are due to be ready, per parent."""
        if self.everything or not self.orders:
            return {}
        ready: dict[int, datetime] = {}
        rows = (
            WorkOrder.objects.filter(parent_id__in=list(self.orders), status__in=ACTIVE, planned_end__isnull=False)
            .exclude(pk__in=list(self.orders))
            .values_list("parent_id", "planned_end")
        )
        for parent_id, planned_end in rows:
            ready[parent_id] = max(ready.get(parent_id, planned_end), planned_end)
        return ready

    def _reserve(self) -> None:
        """Keep the work centres' time of started operations, and (when planning only some work orders) of
        the other work orders' planned operations."""
        if not self.calendars:
            return
        kept = Q(status__in=STARTED)
        if not self.everything:
            kept |= Q(status=OpStatus.PENDING, planned_start__isnull=False, planned_end__gt=self.start)
        rows = WorkOrderOperation.objects.filter(
            kept, work_center_id__in=list(self.calendars), work_order__status__in=ACTIVE
        ).values(*OPERATION_FIELDS, "work_order__qty")
        for op in rows:
            if op["status"] in STARTED:
                start, end = _started_span(op, op["work_order__qty"], self.now)
            elif op["work_order_id"] in self.orders:
                continue  # planned again in this run
            else:
                start, end = op["planned_start"], op["planned_end"]
            self.calendars[op["work_center_id"]].reserve(start, end)

    def plan(self) -> None:
        for row in sorted(self.orders.values(), key=self.priority):
            self._visit(row["id"], set())

    def _visit(self, order_id: int, path: set[int]) -> datetime | None:
        if order_id in self.ends or order_id in path:
            return self.ends.get(order_id)
        ready = max(self.start, self.outside_ready.get(order_id, self.start))
        blocked = ""
        for child_id in self.children[order_id]:
            end = self._visit(child_id, path | {order_id})
            if child_id in self.blocked:
                blocked = blocked or _("waits for %(number)s, which cannot be planned") % {
                    "number": self.orders[child_id]["number"]
                }
            elif end is not None:
                ready = max(ready, end)
        order = self.orders[order_id]
        previous_end, first_start, last_end = ready, None, None
        for op in self.operations[order_id]:
            start = end = None
            if op["status"] == OpStatus.PENDING:
                calendar = self.calendars[op["work_center_id"]]
                if not blocked and not calendar.capacity:
                    blocked = _("work centre %(code)s has no capacity") % {
                        "code": self.work_center_codes[op["work_center_id"]]
                    }
                if not blocked:
                    seconds = operation_seconds(
                        setup_minutes=op["setup_minutes"],
                        std_minutes_per_unit=op["std_minutes_per_unit"],
                        qty=order["qty"],
                    )
                    start, end = calendar.book(previous_end, seconds)
                self.new_plans[op["id"]] = (start, end)
            elif op["status"] in STARTED:
                start, end = _started_span(op, order["qty"], self.now)
            else:
                start = op["actual_start"] or op["planned_start"]
                end = op["actual_end"] or op["planned_end"]
            if end is not None:
                previous_end = max(previous_end, end)
            first_start = first_start or start
            last_end = end
        if not self.operations[order_id]:
            first_start = last_end = ready
        if blocked:
            self.blocked[order_id] = blocked
            last_end = None
        self.order_plans[order_id] = (first_start, last_end)
        self.ends[order_id] = last_end
        return last_end

    def save(self) -> ScheduleResult:
        result = ScheduleResult(work_orders=len(self.orders))
        changed_ops: list[tuple[int, datetime | None, datetime | None]] = []
        for op_list in self.operations.values():
            for op in op_list:
                if op["id"] not in self.new_plans:
                    continue
                start, end = self.new_plans[op["id"]]
                result.operations += start is not None
                if (start, end) != (op["planned_start"], op["planned_end"]):
                    changed_ops.append((op["id"], start, end))
        changed_orders = [
            (order_id, start, end)
            for order_id, (start, end) in self.order_plans.items()
            if (start, end) != (self.orders[order_id]["planned_start"], self.orders[order_id]["planned_end"])
        ]
        _write_plans(WorkOrderOperation, changed_ops)
        _write_plans(WorkOrder, changed_orders)
        result.changed_operations = len(changed_ops)
        for row in sorted(self.orders.values(), key=self.priority):
            end = self.order_plans.get(row["id"], (None, None))[1]
            if is_late(end, row["due_date"]):
                result.late.append(LateWorkOrder(row["id"], row["number"], row["due_date"], end))
            if row["id"] in self.blocked:
                result.blocked.append(BlockedWorkOrder(row["id"], row["number"], self.blocked[row["id"]]))
        return result


@transaction.atomic
def schedule(
    *, work_orders: Iterable | None = None, start: datetime | None = None, now: datetime | None = None
) -> ScheduleResult:
    """Plan the unstarted operations of open work orders forward on finite work-centre capacity.

    With `work_orders` (work orders, ids or a queryset) only those are planned, around everything already
    planned; without, every open work order is planned again from scratch. Nothing starts before `start`
    (default: now). Returns the counts, the work orders that end after their due date, and those that could
    not be planned (a work centre without capacity).
    """
    now = now or timezone.now()
    start = start or now
    lock_plan()
    run = _Run(work_orders, start, now)
    run.plan()
    result = run.save()
    audit_record(
        actor=None,
        verb="schedule.run",
        changes={
            "scope": "all" if work_orders is None else "some",
            "start": start,
            "work_orders": result.work_orders,
            "operations": result.operations,
            "changed_operations": result.changed_operations,
            "late": result.late_numbers[:200],
            "blocked": [blocked.number for blocked in result.blocked][:200],
        },
    )
    return result


# --- The plan as a list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One work order in the plan list, indented under the work order its output goes into."""

    id: int
    number: str
    depth: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    item_code: str
    item_name: str
    unit: str
    qty: Decimal
    due_date: date | None
    planned_start: datetime | None
    planned_end: datetime | None
    late: bool
    order_number: str


def _descendants_sql(root_ids: list[int]) -> RawSQL:
    """Ids of every work order below the roots, in one recursive query."""
    table = WorkOrder._meta.db_table
    placeholders = ", ".join(["%s"] * len(root_ids))
    sql = (
        "WITH RECURSIVE tree(id) AS ("
        f" SELECT id FROM {table} WHERE parent_id IN ({placeholders})"
        f" UNION SELECT w.id FROM {table} w JOIN tree t ON w.parent_id = t.id"
        ") SELECT id FROM tree"
    )
    return RawSQL(sql, root_ids)  # noqa: S611 - only the table name is interpolated; ids are parameters


PLAN_ROW_FIELDS = [
    "id",
    "number",
    "parent_id",
    "kind",
    "status",
    "item__code",
    "item__name",
    "item__unit",
    "qty",
    "due_date",
    "planned_start",
    "planned_end",
    "order_line__order__number",
]


def work_order_plan_rows(*, roots: QuerySet) -> list[PlanRow]:
    """The root work orders (in the queryset's order), each followed by its whole tree of component work
    orders, depth first by number; two queries whatever the depth."""
    root_rows = list(roots.values(*PLAN_ROW_FIELDS))
    if not root_rows:
        return []
    below: dict[int, list[dict]] = defaultdict(list)
    for row in (
        WorkOrder.objects.filter(pk__in=_descendants_sql([row["id"] for row in root_rows]))
        .order_by("number")
        .values(*PLAN_ROW_FIELDS)
    ):
        below[row["parent_id"]].append(row)
    rows: list[PlanRow] = []

    def add(row: dict, depth: int, seen: set[int]) -> None:
        open_ = row["status"] in ACTIVE
        rows.append(
            PlanRow(
                id=row["id"],
                number=row["number"],
                depth=depth,
                kind=row["kind"],
                kind_label=str(WorkOrder.Kind(row["kind"]).label),
                status=row["status"],
                status_label=str(WorkOrder.Status(row["status"]).label),
                item_code=row["item__code"],
                item_name=row["item__name"],
                unit=row["item__unit"],
                qty=row["qty"],
                due_date=row["due_date"],
                planned_start=row["planned_start"],
                planned_end=row["planned_end"],
                late=open_ and is_late(row["planned_end"], row["due_date"]),
                order_number=row["order_line__order__number"] or "",
            )
        )
        for child in below.get(row["id"], []):
            if child["id"] not in seen:
                add(child, depth + 1, seen | {child["id"]})

    for row in root_rows:
        add(row, 0, {row["id"]})
    return rows
