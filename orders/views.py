"""Production manager's pages: release confirmed orders to production, and the work orders with their plan."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import restrict
from orders.models import SalesOrder
from orders.release import RELEASE_PERMISSION, ReleaseResult, orders_release, release_candidates, release_shops
from production.models import WorkOrder
from production.scheduling import work_order_plan_rows

VIEW_WORK_ORDERS = "production.view_workorder"
PAGE_SIZE = 50


def requires(*perms: str) -> Callable:
    """Signed-in users holding every permission: anonymous goes to the login page, anyone else without gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(perms, raise_exception=True)(view))

    return decorate


class ReleaseFilterForm(forms.Form):
    """Narrow the confirmed orders by shop and promised date."""

    shop = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        label=gettext_lazy("Shop"),
        widget=forms.Select(attrs={"aria-label": gettext_lazy("Shop")}),
    )
    promised_from = forms.DateField(
        required=False,
        label=gettext_lazy("Promised from"),
        widget=forms.DateInput(attrs={"type": "date", "aria-label": gettext_lazy("Promised from")}),
    )
    promised_to = forms.DateField(
        required=False,
        label=gettext_lazy("Promised until"),
        widget=forms.DateInput(attrs={"type": "date", "aria-label": gettext_lazy("Promised until")}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].choices = [("", _("All shops")), *release_shops()]

    def filters(self) -> dict:
        """The valid filters typed in; an invalid one is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "shop_id": data.get("shop"),
            "promised_from": data.get("promised_from"),
            "promised_to": data.get("promised_to"),
        }


@requires(RELEASE_PERMISSION)
@require_http_methods(["GET", "POST"])
def release(request: HttpRequest) -> HttpResponse:
    """Confirmed orders not yet released, filtered; ticking some and pressing "Release selected" releases them."""
    if request.method == "POST":
        return _release_selected(request)
    form = ReleaseFilterForm(request.GET)
    page = Paginator(release_candidates(**form.filters()), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orders/release.html", {"form": form, "page": page})


def _release_selected(request: HttpRequest) -> HttpResponse:
    numbers = request.POST.getlist("orders")
    if not numbers:
        messages.error(request, _("Tick at least one order."))
        return _back(request)
    orders = list(restrict(SalesOrder.objects.filter(number__in=numbers), request.user, "release").order_by("id"))
    result = orders_release(orders=orders, by=request.user)
    _report(request, result, missing=sorted(set(numbers) - {order.number for order in orders}))
    return _back(request)


def _report(request: HttpRequest, result: ReleaseResult, missing: list[str]) -> None:
    for done in result.released:
        messages.success(
            request,
            _("Released %(order)s: work orders %(work_orders)s")
            % {"order": done.number, "work_orders": ", ".join(done.work_orders)},
        )
        if done.late:
            messages.warning(
                request,
                _("%(order)s: planned to finish after the due date: %(work_orders)s")
                % {"order": done.number, "work_orders": ", ".join(done.late)},
            )
        if done.unplanned:
            messages.warning(
                request,
                _("%(order)s: could not be planned: %(work_orders)s")
                % {"order": done.number, "work_orders": "; ".join(done.unplanned)},
            )
    for refused in result.refused:
        messages.error(
            request, _("Not released %(order)s: %(reason)s") % {"order": refused.number, "reason": refused.reason}
        )
    for number in missing:
        messages.error(request, _("Not released %(order)s: no such order.") % {"order": number})


def _back(request: HttpRequest) -> HttpResponse:
    # Back to the list as it was filtered; only a local release address is followed.
    page = reverse("orders:release")
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return redirect(target if safe and target.startswith(page) else page)


ROOT_ORDER = (F("due_date").asc(nulls_last=True), "number")
STATUS_FILTERS = {
    "open": [WorkOrder.Status.PLANNED, WorkOrder.Status.IN_PROGRESS],
    **{status.value: [status.value] for status in WorkOrder.Status},
}


@requires(RELEASE_PERMISSION, VIEW_WORK_ORDERS)
@require_GET
def work_order_list(request: HttpRequest) -> HttpResponse:
    """Top-level work orders (open ones by default) by due date, each with its component work orders below."""
    status = request.GET.get("status", "open")
    roots = WorkOrder.objects.filter(parent__isnull=True)
    if status in STATUS_FILTERS:
        roots = roots.filter(status__in=STATUS_FILTERS[status])
    query = request.GET.get("q", "").strip()
    if query:
        roots = roots.filter(
            Q(number__icontains=query) | Q(item__code__icontains=query) | Q(order_line__order__number__icontains=query)
        )
    page = Paginator(roots.order_by(*ROOT_ORDER).values_list("pk", flat=True), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = work_order_plan_rows(roots=WorkOrder.objects.filter(pk__in=list(page)).order_by(*ROOT_ORDER))
    context = {"page": page, "rows": rows, "status": status, "q": query, "statuses": WorkOrder.Status.choices}
    return render(request, "orders/work_orders.html", context)
