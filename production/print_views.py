"""Paper for the floor, laid out for A4 on an office printer: work-order travellers (派工单) with a QR code per
operation, QR labels of the work centres, and operators' badge cards.

QR codes are inline SVG made by segno on the server: nothing is loaded from outside Loopline. A traveller's QR
holds the operation's scan code (LLOP-…), a label's the work centre's code, a badge's the badge code; the /floor/
tablet opens the operation, the work centre's queue, or signs the operator in.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import segno
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.permissions import restrict
from accounts.services import audit_record
from production.models import WorkCenter, WorkOrder, WorkOrderOperation

VIEW_WORK_ORDERS = "production.view_workorder"
VIEW_WORK_CENTERS = "production.view_workcenter"
# A badge's QR code signs its holder in on any tablet: printing badges is for those who manage users (IT).
PRINT_BADGES = "accounts.change_user"
MAX_TRAVELLERS = 100
LABELS_PER_PAGE = 24  # 3 × 8 labels of 64 × 35 mm on A4
BADGES_PER_PAGE = 10  # 2 × 5 cards of 85.6 × 54 mm (ID-1, a credit card's size) on A4


def requires(permission: str) -> Callable:
    """Signed-in users holding the permission: anonymous goes to the login page, anyone else without gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate


def qr_svg(data: str) -> SafeString:
    """`data` as an inline SVG QR code, sized by the page's CSS (the SVG carries a viewBox, no width or height)."""
    svg = segno.make_qr(data, error="m").svg_inline(omitsize=True, svgclass="qr", lineclass=None)
    # Safe: segno draws the modules as path geometry; the data itself never appears in the markup.
    return mark_safe(svg)  # noqa: S308


def _split(value: str) -> list[str]:
    """Comma- or space-separated values, in order, each once."""
    seen: dict[str, None] = {}
    for part in value.replace(",", " ").split():
        seen.setdefault(part.strip(), None)
    return list(seen)


def _number(value: Decimal) -> str:
    """A decimal without trailing zeros or an exponent: 100.000 → 100, 0.500 → 0.5."""
    return f"{value.normalize():f}"


def _pages(items: Sequence, size: int) -> list[Sequence]:
    return [items[start : start + size] for start in range(0, len(items), size)]


# --- Travellers ---------------------------------------------------------------------------------------------


@dataclass
class TravellerStep:
    """One operation row of a traveller, with its QR code."""

    sequence: int
    operation_name: str
    work_center_code: str
    work_center_name: str
    std_minutes_per_unit: str
    setup_minutes: str
    planned_start: datetime | None
    planned_end: datetime | None
    code: str
    qr: SafeString


@dataclass
class Traveller:
    """Everything one traveller sheet prints, fetched up front."""

    number: str
    kind: str
    kind_label: str
    status_label: str
    item_code: str
    item_name: str
    item_specification: str
    unit: str
    qty: str
    due_date: date | None
    sales_order: str
    parent: str
    rework_of: str
    planned_start: datetime | None
    planned_end: datetime | None
    note: str
    steps: list[TravellerStep]


def travellers_for(*, user: User, numbers: Iterable[str]) -> list[Traveller]:
    """The travellers of the work orders with these numbers that the user may view, in the order asked.

    Two queries whatever the number of work orders and operations: the work orders with their item, sales
    order, parent and rework source; then every operation with its standard operation and work centre.
    """
    numbers = list(numbers)
    steps = WorkOrderOperation.objects.select_related("operation", "work_center").order_by("sequence")
    work_orders = (
        restrict(WorkOrder.objects.all(), user)
        .filter(number__in=numbers)
        .select_related("item", "parent", "order_line__order", "rework_of__work_order", "rework_of__operation")
        .prefetch_related(Prefetch("operations", queryset=steps, to_attr="steps"))
    )
    by_number = {work_order.number: work_order for work_order in work_orders}
    return [_traveller(by_number[number]) for number in numbers if number in by_number]


def _traveller(work_order: WorkOrder) -> Traveller:
    source = work_order.rework_of
    return Traveller(
        number=work_order.number,
        kind=work_order.kind,
        kind_label=str(work_order.get_kind_display()),
        status_label=str(work_order.get_status_display()),
        item_code=work_order.item.code,
        item_name=work_order.item.name,
        item_specification=work_order.item.specification,
        unit=work_order.item.unit,
        qty=_number(work_order.qty),
        due_date=work_order.due_date,
        sales_order=work_order.order_line.order.number if work_order.order_line else "",
        parent=work_order.parent.number if work_order.parent else "",
        rework_of=f"{source.work_order.number} #{source.sequence} {source.operation.name}" if source else "",
        planned_start=work_order.planned_start,
        planned_end=work_order.planned_end,
        note=work_order.note,
        steps=[
            TravellerStep(
                sequence=step.sequence,
                operation_name=step.operation.name,
                work_center_code=step.work_center.code,
                work_center_name=step.work_center.name,
                std_minutes_per_unit=_number(step.std_minutes_per_unit),
                setup_minutes=_number(step.setup_minutes),
                planned_start=step.planned_start,
                planned_end=step.planned_end,
                code=step.code,
                qr=qr_svg(step.code),
            )
            for step in work_order.steps
        ],
    )


def _render_travellers(request: HttpRequest, travellers: list[Traveller], missing: list[str]) -> HttpResponse:
    context = {"travellers": travellers, "missing": missing, "printed_at": timezone.localtime()}
    return render(request, "print/travellers.html", context)


@requires(VIEW_WORK_ORDERS)
@require_GET
def traveller(request: HttpRequest, number: str) -> HttpResponse:
    """The traveller of one work order."""
    travellers = travellers_for(user=request.user, numbers=[number])
    if not travellers:
        raise Http404(_("No work order has this number."))
    return _render_travellers(request, travellers, missing=[])


@requires(VIEW_WORK_ORDERS)
@require_GET
def travellers(request: HttpRequest) -> HttpResponse:
    """The travellers of several work orders (?numbers=WO-1,WO-2), one per page."""
    numbers = _split(request.GET.get("numbers", ""))[:MAX_TRAVELLERS]
    found = travellers_for(user=request.user, numbers=numbers)
    if not found:
        raise Http404(_("No work order has these numbers."))
    printed = {sheet.number for sheet in found}
    return _render_travellers(request, found, missing=[number for number in numbers if number not in printed])


# --- Work-centre labels -------------------------------------------------------------------------------------


@dataclass
class Label:
    """A work centre's QR label."""

    code: str
    name: str
    workshop: str
    qr: SafeString


@requires(VIEW_WORK_CENTERS)
@require_GET
def work_center_labels(request: HttpRequest) -> HttpResponse:
    """QR labels of every active work centre (or of one workshop's, ?workshop=CODE), 24 to an A4 sheet."""
    centres = (
        restrict(WorkCenter.objects.all(), request.user)
        .filter(active=True)
        .select_related("workshop")
        .order_by("workshop__code", "code")
    )
    workshop = request.GET.get("workshop", "").strip()
    if workshop:
        centres = centres.filter(workshop__code=workshop)
    labels = [Label(centre.code, centre.name, centre.workshop.name, qr_svg(centre.code)) for centre in centres]
    context = {"pages": _pages(labels, LABELS_PER_PAGE), "workshop": workshop, "count": len(labels)}
    return render(request, "print/work_center_labels.html", context)


# --- Badges -------------------------------------------------------------------------------------------------


@dataclass
class Badge:
    """An operator's badge card; its QR code signs the operator in, so the code itself is not printed as text."""

    name: str
    username: str
    employee_number: str
    team: str
    qr: SafeString


def _ids(value: str) -> list[int]:
    return [int(part) for part in _split(value) if part.isdigit()]


@requires(PRINT_BADGES)
@require_GET
@never_cache
def badges(request: HttpRequest) -> HttpResponse:
    """Badge cards of the active users with a badge code (?users=ID,… for some), 10 to an A4 sheet; audited."""
    people = (
        restrict(User.objects.all(), request.user, "change")
        .filter(is_active=True, badge_code__isnull=False)
        .select_related("team")
        .order_by("team__code", "employee_number", "username")
    )
    if "users" in request.GET:
        people = people.filter(pk__in=_ids(request.GET["users"]))
    team = request.GET.get("team", "").strip()
    if team:
        people = people.filter(team__code=team)
    cards = [
        Badge(
            name=person.get_full_name() or person.username,
            username=person.username,
            employee_number=person.employee_number or "",
            team=person.team.name if person.team else "",
            qr=qr_svg(person.badge_code),
        )
        for person in people
    ]
    if cards:
        # Who printed which sign-in codes, should a badge turn up in the wrong hands.
        audit_record(actor=request.user, verb="user.badges_print", changes={"users": [c.username for c in cards]})
    return render(request, "print/badges.html", {"pages": _pages(cards, BADGES_PER_PAGE), "count": len(cards)})
