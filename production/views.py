"""Master-data pages: item search and an item's multi-level BOM and routing."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from production.errors import BomCycleError
from production.models import Item
from production.selectors import bom_explode


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
