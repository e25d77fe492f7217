"""Master-data pages: item search and an item's multi-level BOM and routing; the stock of the user's warehouses;
the presses a team leader may correct."""

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import ApplicationError
from production.corrections import correctable_events, correction_candidates, may_correct, report_event_correct
from production.errors import BomCycleError
from production.models import Item
from production.selectors import bom_explode
from production.stock import may_use_stock, stock_count, stock_levels_for


@login_required
@permission_required("production.view_item", raise_exception=True)
@require_GET
def item_list(request: HttpRequest) -> HttpResponse:
    """Items with search by code or name and filters by kind and category."""
    items = Item.objects.all()
    query = request.GET.get("q", "").strip()
    if query:
        items = items.filter(Q(code__icontains=query) | Q(name__icontains=query))
    kind = request.GET.get("kind", "")
    if kind in Item.Kind.values:
        items = items.filter(kind=kind)
    page = Paginator(items, 50).get_page(request.GET.get("page"))
    context = {"page": page, "q": query, "kind": kind, "kinds": Item.Kind.choices}
    return render(request, "production/item_list.html", context)


@login_required
@permission_required("production.view_item", raise_exception=True)
@require_GET
def item_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One item: its routing and its BOM exploded to every level for a chosen quantity."""
    item = get_object_or_404(Item, code=code)
    try:
        qty = Decimal(request.GET.get("qty", "1"))
        if qty <= 0:
            raise InvalidOperation
    except InvalidOperation:
        qty = Decimal(1)
    explosion, error = None, ""
    try:
        explosion = bom_explode(item=item, qty=qty)
    except BomCycleError as exc:
        error = exc.message
    steps = item.routing_steps.select_related("operation", "work_center__workshop")
    context = {"item": item, "qty": qty, "explosion": explosion, "error": error, "steps": steps}
    return render(request, "production/item_detail.html", context)


@login_required
@require_GET
def stock_list(request: HttpRequest) -> HttpResponse:
    """The stock the user may see (a keeper: only their warehouses), searchable, with a count form per row."""
    if not may_use_stock(request.user):
        raise PermissionDenied
    levels = stock_levels_for(request.user).order_by("warehouse__code", "item__code")
    query = request.GET.get("q", "").strip()
    if query:
        levels = levels.filter(Q(item__code__icontains=query) | Q(item__name__icontains=query))
    context = {
        "page": Paginator(levels, 50).get_page(request.GET.get("page")),
        "q": query,
        "can_count": may_use_stock(request.user, "change"),
    }
    return render(request, "production/stock_list.html", context)


@login_required
@require_POST
def stock_count_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a count of one stock level of a warehouse the user keeps; another warehouse's is a 404."""
    if not may_use_stock(request.user, "change"):
        raise PermissionDenied
    level = stock_levels_for(request.user, "change").filter(pk=pk).first()
    if level is None:
        raise Http404
    try:
        counted = Decimal(request.POST.get("counted", ""))
        level = stock_count(level=level, counted=counted, by=request.user, note=request.POST.get("note", "")[:500])
    except InvalidOperation:
        messages.error(request, _("Type the counted quantity as a number."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(item)s in %(warehouse)s: %(qty)s on hand.")
            % {"item": level.item.code, "warehouse": level.warehouse.code, "qty": f"{level.qty_on_hand.normalize():f}"},
        )
    return redirect("production:stock-list")


@login_required
@require_GET
def report_list(request: HttpRequest) -> HttpResponse:
    """The latest presses with quantities the user may correct (a team leader: their teams' work centres)."""
    if not may_correct(request.user):
        raise PermissionDenied
    events = correction_candidates(user=request.user, work_order=request.GET.get("work_order", "").strip())
    return render(
        request, "production/report_list.html", {"events": events, "work_order": request.GET.get("work_order", "")}
    )


@login_required
@require_POST
def report_correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct one press's quantities; a press out of the user's reach is a 404."""
    if not may_correct(request.user):
        raise PermissionDenied
    if not correctable_events(request.user).filter(pk=pk).exists():
        raise Http404
    try:
        quantities = {
            name: Decimal(request.POST.get(name, "") or "0") for name in ("good_qty", "scrap_qty", "rework_qty")
        }
        report_event_correct(event_id=pk, by=request.user, reason=request.POST.get("reason", ""), **quantities)
    except InvalidOperation:
        messages.error(request, _("Type the quantities as numbers."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Report corrected."))
    return redirect("production:report-list")
