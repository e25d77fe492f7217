"""Releasing confirmed sales orders to production: a work order tree per made line, then a plan for them."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.services import audit_record
from orders.errors import OrderError
from orders.models import OrderLine, SalesOrder
from production.models import Item, WorkOrder
from production.planning import work_order_create_tree
from production.scheduling import FACTORY_TZ, schedule

RELEASE_PERMISSION = "orders.release_salesorder"
DEFAULT_LEAD_DAYS = 7
MADE_KINDS = (Item.Kind.FINISHED, Item.Kind.SEMI)


class ReleaseNotAllowed(OrderError):
    """The user may not release orders to production."""

    code = "permission_denied"
    status = 403
    default_message = gettext_lazy("You may not release orders to production.")


@dataclass(frozen=True)
class ReleasedOrder:
    """An order now in production: its top-level work orders' numbers, those of its work orders planned to end
    after the due date, and those that could not be planned, with why ("WO-…: reason")."""

    number: str
    work_orders: list[str]
    late: list[str]
    unplanned: list[str]


@dataclass(frozen=True)
class RefusedOrder:
    """An order that was not released, and why."""

    number: str
    reason: str
    code: str


@dataclass
class ReleaseResult:
    """Per order: released (with its work orders) or refused (with the reason)."""

    released: list[ReleasedOrder] = field(default_factory=list)
    refused: list[RefusedOrder] = field(default_factory=list)


def due_date_for(order: SalesOrder) -> date:
    """When the order's work is due: the promised date, else a week after the order came in."""
    if order.promised_date:
        return order.promised_date
    return timezone.localtime(order.received_at, FACTORY_TZ).date() + timedelta(days=DEFAULT_LEAD_DAYS)


def release_candidates(
    *, shop_id: int | None = None, promised_from: date | None = None, promised_to: date | None = None
) -> QuerySet:
    """Confirmed orders not yet released, soonest promise first, with their shop and lines' items fetched."""
    orders = SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED)
    if shop_id:
        orders = orders.filter(channel_account_id=shop_id)
    if promised_from:
        orders = orders.filter(promised_date__gte=promised_from)
    if promised_to:
        orders = orders.filter(promised_date__lte=promised_to)
    return (
        orders.select_related("channel_account")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.select_related("item").order_by("line_no")))
        .order_by("promised_date", "received_at", "id")
    )


def release_shops() -> list[tuple[int, str]]:
    """(id, name) of the shops that have confirmed orders waiting, for the page's filter."""
    return list(
        SalesOrder.objects.filter(status=SalesOrder.Status.CONFIRMED)
        .order_by("channel_account__name", "channel_account_id")
        .values_list("channel_account_id", "channel_account__name")
        .distinct()
    )


def _release_one(order: SalesOrder, by: User) -> ReleasedOrder:
    now = timezone.now()
    # Compare-and-swap: of two releases of one order only the first finds it confirmed.
    changed = SalesOrder.objects.filter(pk=order.pk, status=SalesOrder.Status.CONFIRMED).update(
        status=SalesOrder.Status.IN_PRODUCTION, updated_at=now
    )
    if not changed:
        current = SalesOrder.objects.filter(pk=order.pk).first()
        status = current.get_status_display() if current else _("deleted")
        raise OrderError(
            _("Order %(number)s is %(status)s, not confirmed; only confirmed orders are released.")
            % {"number": order.number, "status": status},
            code="not_confirmed",
        )
    order = SalesOrder.objects.get(pk=order.pk)
    lines = list(order.lines.select_related("item").order_by("line_no"))
    unmapped = [str(line.line_no) for line in lines if line.item_id is None]
    if unmapped:
        raise OrderError(
            _("Order %(number)s has lines without an item (line %(lines)s); map them first.")
            % {"number": order.number, "lines": ", ".join(unmapped)},
            code="line_unmapped",
        )
    made = [line for line in lines if line.item.kind in MADE_KINDS]
    if not made:
        raise OrderError(
            _("Order %(number)s has nothing made in the factory; it ships from stock.") % {"number": order.number},
            code="nothing_to_make",
        )
    if WorkOrder.objects.filter(order_line__order=order).exclude(status=WorkOrder.Status.CANCELLED).exists():
        raise OrderError(
            _("Order %(number)s already has work orders.") % {"number": order.number}, code="already_released"
        )
    due = due_date_for(order)
    tops = []
    for line in made:
        if line.item_qty <= 0:
            raise OrderError(
                _("Line %(line)s of order %(number)s has no quantity to make.")
                % {"line": line.line_no, "number": order.number},
                code="qty_invalid",
            )
        tops.append(
            work_order_create_tree(
                item=line.item,
                qty=line.item_qty,
                due_date=due,
                by=by,
                order_line_id=line.pk,
                note=_("Sales order %(number)s line %(line)s") % {"number": order.number, "line": line.line_no},
            )
        )
    new = WorkOrder.objects.filter(order_line__order=order, status=WorkOrder.Status.PLANNED)
    plan = schedule(work_orders=new)
    numbers = [top.number for top in tops]
    audit_record(
        actor=by,
        verb="order.release",
        obj=order,
        changes={"status": [SalesOrder.Status.CONFIRMED, order.status], "work_orders": numbers, "due_date": due},
    )
    return ReleasedOrder(
        number=order.number,
        work_orders=numbers,
        late=plan.late_numbers,
        unplanned=[f"{blocked.number}: {blocked.reason}" for blocked in plan.blocked],
    )


def orders_release(*, orders: Iterable[SalesOrder], by: User) -> ReleaseResult:
    """Release confirmed orders to production: for each made line a work order tree, the order marked in
    production, and the new work orders scheduled. One transaction per order, so one order that cannot be
    released (not confirmed, an item without routing) is refused with its reason and the others go ahead.
    """
    if not (by and by.is_authenticated and by.is_active and by.has_perm(RELEASE_PERMISSION)):
        raise ReleaseNotAllowed
    result = ReleaseResult()
    seen: set[int] = set()
    for order in orders:
        if order.pk in seen:
            continue
        seen.add(order.pk)
        try:
            with transaction.atomic():
                result.released.append(_release_one(order, by))
        except ApplicationError as exc:
            result.refused.append(RefusedOrder(number=order.number, reason=exc.message, code=exc.code))
    return result
