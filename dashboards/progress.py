"""Order progress for sales: where each line of a sales order is on the floor and when it will be done.

For each order line, its work orders (the line's item and every made component, all carrying the line) are taken
together:

* **% done** is the standard time done over the standard time of all their operations (setup + standard minutes ×
  quantity), an operation counting its processed quantity (good + scrap + rework), capped at its quantity.
* The **current operation** is the running one (the most recently reported if several), else a paused one, else
  the pending one planned first; none once everything is done.
* The **projected completion** is the latest projected finish of its operations (see `dashboards.gantt` for how an
  operation is projected); a finished line's is its last actual end.
* **Late risk**: "late" when the promised date has passed and the line is not done, or it was finished after it;
  "at risk" when the projected completion falls after the promised date; else "on track" (or "done").
  An order takes the worst of its lines. A line with no work order yet is "not released".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboards.gantt import OpStatus, local_date, operation_outlook, page_bounds, reads
from orders.models import OrderLine, SalesOrder
from production.models import WorkOrder, WorkOrderOperation

PAGE_SIZE = 25
ORDER_SCOPES = {
    "open": _("Confirmed or in production"),
    "in_production": _("In production"),
    "all": _("All, shipped included"),
}
_SCOPE_STATUSES = {
    "open": [SalesOrder.Status.CONFIRMED, SalesOrder.Status.IN_PRODUCTION],
    "in_production": [SalesOrder.Status.IN_PRODUCTION],
    "all": [SalesOrder.Status.CONFIRMED, SalesOrder.Status.IN_PRODUCTION, SalesOrder.Status.SHIPPED],
}
RISK_ORDER = ["late", "at_risk", "on_track", "not_released", "done"]
RISK_LABELS = {
    "late": _("Late"),
    "at_risk": _("At risk"),
    "on_track": _("On track"),
    "not_released": _("Not released"),
    "done": _("Done"),
}

_OPERATION_FIELDS = (
    "work_order_id",
    "work_order__order_line_id",
    "work_order__number",
    "work_order__qty",
    "work_order__due_date",
    "work_order__planned_end",
    "work_order__status",
    "sequence",
    "status",
    "operation__name",
    "work_center__code",
    "std_minutes_per_unit",
    "setup_minutes",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "running_since",
    "labour_minutes",
    "good_qty",
    "scrap_qty",
    "rework_qty",
    "last_event_at",
)


@dataclass
class LineProgress:
    """One order line on the floor."""

    line_no: int
    sku: str
    title: str
    item_code: str
    qty: Decimal
    work_orders: list[str] = field(default_factory=list)
    current_work_order: str = ""
    current_operation: str = ""
    current_work_center: str = ""
    current_status: str = ""
    current_status_label: str = ""
    pct_done: Decimal | None = None
    projected: datetime | None = None
    risk: str = "not_released"
    std_total: Decimal = Decimal(0)
    std_done: Decimal = Decimal(0)

    @property
    def risk_label(self) -> str:
        return str(RISK_LABELS[self.risk])


@dataclass
class OrderProgress:
    """One sales order with its lines."""

    number: str
    external_number: str
    buyer: str
    shop: str
    status: str
    status_label: str
    promised_date: date | None
    lines: list[LineProgress]
    pct_done: Decimal | None = None
    projected: datetime | None = None
    risk: str = "not_released"

    @property
    def risk_label(self) -> str:
        return str(RISK_LABELS[self.risk])


@dataclass
class OrderProgressPage:
    orders: list[OrderProgress]
    count: int
    page: int
    num_pages: int
    q: str
    scope: str


def orders_matching(*, q: str = "", scope: str = "open") -> QuerySet:
    """Sales orders in the scope whose number, marketplace number, buyer, or a line's SKU or item code has `q`."""
    orders = reads(SalesOrder).filter(status__in=_SCOPE_STATUSES.get(scope, _SCOPE_STATUSES["open"]))
    if q:
        lines = reads(OrderLine).filter(
            Q(external_sku__icontains=q) | Q(item__code__icontains=q), order_id=OuterRef("pk")
        )
        orders = orders.filter(
            Q(number__icontains=q) | Q(external_number__icontains=q) | Q(buyer__icontains=q) | Exists(lines)
        )
    return orders.order_by(F("promised_date").asc(nulls_last=True), "number")


def _share_done(op: dict) -> tuple[Decimal, Decimal]:
    qty = op["work_order__qty"]
    total = op["setup_minutes"] + op["std_minutes_per_unit"] * qty
    if op["status"] == OpStatus.DONE:
        return total, total
    processed = min(op["good_qty"] + op["scrap_qty"] + op["rework_qty"], qty)
    done = op["std_minutes_per_unit"] * processed + (op["setup_minutes"] if op["actual_start"] else Decimal(0))
    return total, min(done, total)


def _current(ops: list[dict]) -> dict | None:
    running = [op for op in ops if op["status"] == OpStatus.RUNNING]
    if running:
        return max(running, key=lambda op: op["last_event_at"] or op["actual_start"] or timezone.now())
    paused = [op for op in ops if op["status"] == OpStatus.PAUSED]
    if paused:
        return paused[0]
    pending = [op for op in ops if op["status"] == OpStatus.PENDING]
    if pending:
        return min(pending, key=lambda op: (op["planned_start"] is None, op["planned_start"] or 0, op["sequence"]))
    return None


def _line_progress(line: LineProgress, ops: list[dict], promised: date | None, now: datetime) -> None:
    ops = [op for op in ops if op["work_order__status"] != WorkOrder.Status.CANCELLED]
    if not ops:
        return
    line.work_orders = sorted({op["work_order__number"] for op in ops})
    for op in ops:
        total, done = _share_done(op)
        line.std_total += total
        line.std_done += done
    line.pct_done = (line.std_done / line.std_total * 100).quantize(Decimal("0.1")) if line.std_total else None
    current = _current(ops)
    if current is not None:
        line.current_work_order = current["work_order__number"]
        line.current_operation = current["operation__name"]
        line.current_work_center = current["work_center__code"]
        line.current_status = current["status"]
        line.current_status_label = str(OpStatus(current["status"]).label)
    ends = [operation_outlook(op, now).projected_end for op in ops]
    line.projected = max((end for end in ends if end), default=None)
    finished = current is None
    if finished:
        line.pct_done = Decimal(100)
        late = bool(promised and line.projected and local_date(line.projected) > promised)
        line.risk = "late" if late else "done"
    elif promised and local_date(now) > promised:
        line.risk = "late"
    elif promised and line.projected and local_date(line.projected) > promised:
        line.risk = "at_risk"
    else:
        line.risk = "on_track"


def _progress(order_rows: list[dict], now: datetime) -> list[OrderProgress]:
    """Lines and operations of the given orders, two queries, then the arithmetic in Python."""
    orders = {
        row["id"]: OrderProgress(
            number=row["number"],
            external_number=row["external_number"],
            buyer=row["buyer"],
            shop=row["channel_account__name"],
            status=row["status"],
            status_label=str(SalesOrder.Status(row["status"]).label),
            promised_date=row["promised_date"],
            lines=[],
        )
        for row in order_rows
    }
    lines: dict[int, tuple[OrderProgress, LineProgress]] = {}
    for row in (
        reads(OrderLine)
        .filter(order_id__in=list(orders))
        .order_by("order_id", "line_no")
        .values("id", "order_id", "line_no", "external_sku", "title", "item__code", "item_qty", "qty")
    ):
        order = orders[row["order_id"]]
        line = LineProgress(
            line_no=row["line_no"],
            sku=row["external_sku"],
            title=row["title"],
            item_code=row["item__code"] or "",
            qty=row["item_qty"] or row["qty"],
        )
        order.lines.append(line)
        lines[row["id"]] = (order, line)
    operations: dict[int, list[dict]] = {}
    for op in (
        reads(WorkOrderOperation)
        .filter(work_order__order_line_id__in=list(lines))
        .order_by("work_order_id", "sequence")
        .values(*_OPERATION_FIELDS)
    ):
        operations.setdefault(op["work_order__order_line_id"], []).append(op)
    for line_id, (order, line) in lines.items():
        _line_progress(line, operations.get(line_id, []), order.promised_date, now)
    for order in orders.values():
        total = sum((line.std_total for line in order.lines), Decimal(0))
        done = sum((line.std_done for line in order.lines), Decimal(0))
        order.pct_done = (done / total * 100).quantize(Decimal("0.1")) if total else None
        if order.lines and all(line.risk in ("done", "late") and line.pct_done == 100 for line in order.lines):
            order.pct_done = Decimal(100)
        order.projected = max((line.projected for line in order.lines if line.projected), default=None)
        risks = [line.risk for line in order.lines] or ["not_released"]
        order.risk = min(risks, key=RISK_ORDER.index)
    return list(orders.values())


_ORDER_FIELDS = ("id", "number", "external_number", "buyer", "channel_account__name", "status", "promised_date")


def order_progress_page(
    *, q: str = "", scope: str = "open", page: int = 1, page_size: int = PAGE_SIZE, now: datetime | None = None
) -> OrderProgressPage:
    """A page of sales orders with the progress of each line; four queries whatever the size."""
    now = now or timezone.now()
    orders = orders_matching(q=q, scope=scope)
    count = orders.count()
    page, num_pages = page_bounds(count, page, page_size)
    first = (page - 1) * page_size
    rows = list(orders.values(*_ORDER_FIELDS)[first : first + page_size])
    return OrderProgressPage(orders=_progress(rows, now), count=count, page=page, num_pages=num_pages, q=q, scope=scope)


def order_progress_rows(*, q: str = "", scope: str = "open", now: datetime | None = None) -> list[OrderProgress]:
    """Every matching order with its lines' progress (no paging), for the Excel export and the API; three queries."""
    return _progress(list(orders_matching(q=q, scope=scope).values(*_ORDER_FIELDS)), now or timezone.now())
