"""Creating work orders: a whole tree from an item's multi-level BOM, a rework order and a trial run.

Numbers are "WO-YYMMDD-0001", counted per factory day (Asia/Shanghai). They are handed out under the planning
lock on PostgreSQL; an insert that still collides (another writer, SQLite) is retried with fresh numbers.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from production.errors import ProductionError
from production.models import Item, RoutingStep, WorkOrder, WorkOrderOperation
from production.scheduling import FACTORY_TZ, lock_plan, schedule
from production.selectors import bom_explode, component_qty

NUMBER_PREFIX = "WO"
NUMBER_ATTEMPTS = 5
THOUSANDTH = Decimal("0.001")

# Units measured rather than counted keep their decimals; anything else is made in whole pieces.
CONTINUOUS_UNITS = frozenset(
    {"KG", "G", "T", "M", "MM", "CM", "M2", "M3", "L", "ML"}
    | {"千克", "公斤", "克", "吨", "米", "毫米", "厘米", "平方米", "立方米", "升", "毫升"}
)


def is_continuous_unit(unit: str) -> bool:
    """Whether a quantity in `unit` may have decimals (kilograms, metres) rather than being whole pieces."""
    return unit.strip().upper() in CONTINUOUS_UNITS


def make_qty(qty: Decimal, unit: str) -> Decimal:
    """The quantity to make: rounded up to whole pieces, or to the thousandth the database keeps for KG/M."""
    if is_continuous_unit(unit):
        return qty.quantize(THOUSANDTH, rounding=ROUND_CEILING)
    return qty.to_integral_value(rounding=ROUND_CEILING)


def number_prefix(now: datetime | None = None) -> str:
    """ "WO-YYMMDD-" for the factory's current day."""
    today = timezone.localtime(now or timezone.now(), FACTORY_TZ).date()
    return f"{NUMBER_PREFIX}-{today:%y%m%d}-"


def _next_numbers(count: int) -> list[str]:
    prefix = number_prefix()
    # Longest first, then highest: "…-10000" comes after "…-9999" although it sorts lower as text.
    last = (
        WorkOrder.objects.filter(number__regex=rf"^{re.escape(prefix)}[0-9]+$")
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    start = int(last.removeprefix(prefix)) + 1 if last else 1
    return [f"{prefix}{n:04d}" for n in range(start, start + count)]


@dataclass
class _Planned:
    """A work order about to be written, with the routing steps its operations copy."""

    work_order: WorkOrder
    level: int
    steps: list[dict]


def _routings(item_ids: set[int]) -> dict[int, list[dict]]:
    steps: dict[int, list[dict]] = {item_id: [] for item_id in item_ids}
    for step in (
        RoutingStep.objects.filter(item_id__in=item_ids)
        .order_by("item_id", "sequence")
        .values("item_id", "sequence", "operation_id", "work_center_id", "std_minutes_per_unit", "setup_minutes")
    ):
        steps[step["item_id"]].append(step)
    return steps


def _require_routings(routings: dict[int, list[dict]], codes: dict[int, str]) -> None:
    missing = sorted(codes[item_id] for item_id, steps in routings.items() if not steps)
    if missing:
        raise ProductionError(
            _("No routing for %(items)s: add its routing steps before making it.") % {"items": ", ".join(missing)},
            code="routing_missing",
            extra={"items": missing},
        )


def _operations(work_order: WorkOrder, steps: list[dict]) -> list[WorkOrderOperation]:
    return [
        WorkOrderOperation(
            work_order=work_order,
            sequence=step["sequence"],
            operation_id=step["operation_id"],
            work_center_id=step["work_center_id"],
            std_minutes_per_unit=step["std_minutes_per_unit"],
            setup_minutes=step["setup_minutes"],
        )
        for step in steps
    ]


def _insert(build) -> list[_Planned]:
    """Write the work orders `build()` describes under fresh numbers, building and retrying on a collision."""
    for attempt in range(NUMBER_ATTEMPTS):
        planned = build()
        numbers = _next_numbers(len(planned))
        for entry, number in zip(planned, numbers, strict=True):
            entry.work_order.number = number
        try:
            with transaction.atomic():
                # Level by level, so each child's parent already has its id.
                for level in sorted({entry.level for entry in planned}):
                    WorkOrder.objects.bulk_create([e.work_order for e in planned if e.level == level])
                WorkOrderOperation.objects.bulk_create(
                    [op for entry in planned for op in _operations(entry.work_order, entry.steps)]
                )
            return planned
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _check_qty(qty: Decimal) -> Decimal:
    qty = Decimal(qty)
    if not qty.is_finite() or qty <= 0:
        raise ProductionError(_("The quantity must be more than zero."), code="qty_invalid")
    return qty


def _check_made(item: Item) -> None:
    if not item.is_made:
        raise ProductionError(
            _("%(item)s is a %(kind)s: it is bought, not made, so it gets no work order.")
            % {"item": item.code, "kind": item.get_kind_display()},
            code="item_not_made",
        )


@transaction.atomic
def work_order_create_tree(
    *,
    item: Item,
    qty: Decimal,
    due_date: date | None,
    by: User | None,
    order_line_id: int | None = None,
    kind: str = WorkOrder.Kind.NORMAL,
    rework_of=None,
    note: str = "",
) -> WorkOrder:
    """A work order for `qty` of `item`, with its routing's operations, and one child work order (with its
    own operations) for every made component anywhere in its BOM; bought and raw components get none.

    A component's quantity is its BOM usage plus scrap for the quantity its parent work order actually makes
    (rounded up to whole pieces except for units like KG and M). Every work order of the tree carries the
    sales order line and the due date. A made item without a routing refuses the whole tree.
    """
    _check_made(item)
    qty = make_qty(_check_qty(qty), item.unit)
    lock_plan()
    explosion = bom_explode(item=item, qty=qty)
    made_rows = [row for row in explosion.rows if row.kind in (Item.Kind.FINISHED, Item.Kind.SEMI)]
    codes = {item.pk: item.code, **{row.item_id: row.code for row in made_rows}}
    routings = _routings(set(codes))
    _require_routings(routings, codes)
    child_kind = WorkOrder.Kind.TRIAL if kind == WorkOrder.Kind.TRIAL else WorkOrder.Kind.NORMAL
    common = {"due_date": due_date, "order_line_id": order_line_id, "created_by": by}

    def build() -> list[_Planned]:
        top = WorkOrder(item=item, qty=qty, kind=kind, rework_of=rework_of, note=note, **common)
        planned = [_Planned(top, 0, routings[item.pk])]
        # Rows come depth first: the work order at each level is the parent of the rows one level below.
        parents: list[WorkOrder | None] = [top]
        for row in explosion.rows:
            del parents[row.level :]
            parent = parents[row.level - 1]
            if parent is None or row.kind not in (Item.Kind.FINISHED, Item.Kind.SEMI):
                parents.append(None)
                continue
            child_qty = make_qty(component_qty(parent.qty, row.qty_per, row.scrap_pct), row.unit)
            child = WorkOrder(item_id=row.item_id, qty=child_qty, kind=child_kind, parent=parent, **common)
            planned.append(_Planned(child, row.level, routings[row.item_id]))
            parents.append(child)
        return planned

    planned = _insert(build)
    top = planned[0].work_order
    audit_record(
        actor=by,
        verb="work_order.create",
        obj=top,
        changes={
            "item": item.code,
            "qty": qty,
            "kind": kind,
            "due_date": due_date,
            "order_line": order_line_id,
            "rework_of": rework_of,
            "children": [
                {"number": e.work_order.number, "item": codes[e.work_order.item_id], "qty": e.work_order.qty}
                for e in planned[1:]
            ],
            "operations": sum(len(e.steps) for e in planned),
        },
    )
    return top


@transaction.atomic
def rework_order_create(
    *, source_operation: WorkOrderOperation, qty: Decimal, reason: str, by: User | None
) -> WorkOrder:
    """A rework order for parts scrapped or sent to rework at `source_operation`, running the item's routing
    from that operation's step on; all rework orders of one operation together stay within its scrap + rework.
    """
    qty = _check_qty(qty)
    if not reason.strip():
        raise ProductionError(_("Say why the parts are reworked."), code="reason_required")
    # Lock the source so two team leaders cannot both order rework for the same defective parts.
    source = (
        WorkOrderOperation.objects.select_for_update()
        .select_related("work_order__item", "operation")
        .get(pk=source_operation.pk)
    )
    source_order = source.work_order
    item = source_order.item
    already = WorkOrder.objects.filter(rework_of=source).exclude(status=WorkOrder.Status.CANCELLED).aggregate(
        total=Sum("qty")
    )["total"] or Decimal(0)
    available = source.scrap_qty + source.rework_qty - already
    if qty > available:
        raise ProductionError(
            _(
                "At most %(available)s can be reworked at %(operation)s of %(number)s: it reported %(scrap)s scrap "
                "and %(rework)s for rework, and %(already)s is already in rework orders."
            )
            % {
                "available": f"{max(available, Decimal(0)).normalize():f}",
                "operation": source.operation.name,
                "number": source_order.number,
                "scrap": f"{source.scrap_qty.normalize():f}",
                "rework": f"{source.rework_qty.normalize():f}",
                "already": f"{already.normalize():f}",
            },
            code="rework_qty_exceeded",
            extra={"max_qty": f"{max(available, Decimal(0)).normalize():f}"},
        )
    lock_plan()
    steps = [step for step in _routings({item.pk})[item.pk] if step["sequence"] >= source.sequence]
    if not steps:
        raise ProductionError(
            _("The routing of %(item)s has no step from %(operation)s on to rework with.")
            % {"item": item.code, "operation": source.operation.name},
            code="routing_missing",
        )

    def build() -> list[_Planned]:
        work_order = WorkOrder(
            item=item,
            qty=qty,
            kind=WorkOrder.Kind.REWORK,
            rework_of=source,
            # The reworked parts go where the source's output goes, so its parent waits for them too.
            parent_id=source_order.parent_id,
            order_line_id=source_order.order_line_id,
            due_date=source_order.due_date,
            note=reason,
            created_by=by,
        )
        return [_Planned(work_order, 0, steps)]

    work_order = _insert(build)[0].work_order
    audit_record(
        actor=by,
        verb="work_order.create_rework",
        obj=work_order,
        changes={"rework_of": source.pk, "source": source_order.number, "qty": qty, "reason": reason},
    )
    schedule(work_orders=[work_order])
    work_order.refresh_from_db(fields=["planned_start", "planned_end"])
    return work_order


@transaction.atomic
def trial_order_create(*, item: Item, qty: Decimal, note: str, by: User | None) -> WorkOrder:
    """A trial run (试产) of one item through its routing, without a sales order or child work orders."""
    _check_made(item)
    qty = make_qty(_check_qty(qty), item.unit)
    lock_plan()
    steps = _routings({item.pk})
    _require_routings(steps, {item.pk: item.code})

    def build() -> list[_Planned]:
        work_order = WorkOrder(item=item, qty=qty, kind=WorkOrder.Kind.TRIAL, note=note, created_by=by)
        return [_Planned(work_order, 0, steps[item.pk])]

    work_order = _insert(build)[0].work_order
    audit_record(
        actor=by, verb="work_order.create_trial", obj=work_order, changes={"item": item.code, "qty": qty, "note": note}
    )
    schedule(work_orders=[work_order])
    work_order.refresh_from_db(fields=["planned_start", "planned_end"])
    return work_order
