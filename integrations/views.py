"""Intake pages: customer service's review queue and order review, IT's sync health with its Excel export."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import ApplicationError
from accounts.excel import XLSX_CONTENT_TYPE
from accounts.permissions import get_for_user_or_404, restrict, sees_pricing
from integrations import exports, selectors, services
from integrations.forms import (
    AcknowledgeForm,
    BulkReviewForm,
    OrderExportForm,
    QueueFilterForm,
    ReasonForm,
    ReceiverForm,
    ResolveChangeForm,
    RunFilterForm,
    SkuMappingForm,
)
from integrations.models import ChannelAccount, ErpConnection, SyncRun
from orders.models import OrderIssue, SalesOrder

VIEW_ORDERS = "orders.view_salesorder"
REVIEW = "orders.review_salesorder"
FORCE_APPROVE = "orders.force_approve_salesorder"
MAP_SKU = "integrations.add_skumapping"
VIEW_ITEMS = "production.view_item"
VIEW_RUNS = "integrations.view_syncrun"
OPERATE_ACCOUNTS = "integrations.change_channelaccount"
OPERATE_ERP = "integrations.change_erpconnection"
PAGE_SIZE = 50


def requires(*perms: str) -> Callable:
    """Signed-in users holding every permission: anonymous goes to the login page, anyone else without gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(perms, raise_exception=True)(view))

    return decorate


# --- Review queue -------------------------------------------------------------------------------------------


@requires(VIEW_ORDERS)
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """Orders waiting for customer service: filters, search, counts per issue, and bulk actions on ticked rows."""
    form = QueueFilterForm(request.GET)
    filters, now = form.filters(), timezone.now()
    orders = selectors.review_queue(user=request.user, filters=filters, now=now)
    context = {
        "form": form,
        "page": Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page")),
        "counts": selectors.review_queue_counts(user=request.user, filters=filters, now=now),
        "code": filters.code,
        "now": now,
        "can_review": request.user.has_perm(REVIEW),
        "can_force": request.user.has_perm(REVIEW) and request.user.has_perm(FORCE_APPROVE),
    }
    return render(request, "integrations/review_queue.html", context)


@requires(REVIEW)
@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    """Approve, reject or force-approve the ticked orders; each succeeds or fails on its own, with its reason."""
    if request.POST.get("action") == "force_approve" and not request.user.has_perm(FORCE_APPROVE):
        raise PermissionDenied
    form = BulkReviewForm(request.POST, orders=restrict(SalesOrder.objects.all(), request.user, "review"))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back_to_queue(request)
    action = form.cleaned_data["action"]
    result = services.review_bulk(
        orders=list(form.cleaned_data["orders"]), action=action, by=request.user, reason=form.cleaned_data["reason"]
    )
    if result["done"]:
        messages.success(request, _bulk_done_message(action, result["done"]))
    for failure in result["failed"]:
        messages.error(request, _("Not done: %(failure)s") % {"failure": failure})
    return _back_to_queue(request)


def _bulk_done_message(action: str, numbers: list[str]) -> str:
    count, listed = len(numbers), ", ".join(numbers)
    if action == "approve":
        text = ngettext("Approved %(count)d order: %(numbers)s", "Approved %(count)d orders: %(numbers)s", count)
    elif action == "reject":
        text = ngettext("Rejected %(count)d order: %(numbers)s", "Rejected %(count)d orders: %(numbers)s", count)
    else:
        text = ngettext(
            "Force-approved %(count)d order: %(numbers)s", "Force-approved %(count)d orders: %(numbers)s", count
        )
    return text % {"count": count, "numbers": listed}


def _back_to_queue(request: HttpRequest) -> HttpResponse:
    # Back to the queue as it was filtered; only a local queue address is followed.
    queue = reverse("integrations:review-queue")
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return redirect(target if safe and target.startswith(queue) else queue)


# --- One order ------------------------------------------------------------------------------------------


def _order_page(request: HttpRequest, number: str, *, status: int = 200, error: str = "", **bound) -> HttpResponse:
    """Render the review page; a failed POST passes its bound form and the error, so typed input is kept."""
    review = selectors.order_review(user=request.user, number=number)
    wanted_sku, item_q = request.GET.get("sku", ""), request.GET.get("item_q", "")
    sku_forms = []
    for index, sku in enumerate(review.unmapped_skus):
        form = bound.get("sku_form") if bound.get("sku") == sku else None
        searched = item_q if sku == wanted_sku else ""
        sku_forms.append(
            {
                "index": index,
                "sku": sku,
                "q": searched,
                "items": selectors.item_search(user=request.user, q=searched) if searched else [],
                "form": form or SkuMappingForm(initial={"external_sku": sku}, auto_id=f"sku{index}_%s"),
            }
        )
    context = {
        "review": review,
        "order": review.order,
        "error": error,
        "sku_forms": sku_forms,
        "receiver_form": bound.get("receiver_form") or ReceiverForm.for_order(review.order),
        "reject_form": bound.get("reject_form") or ReasonForm(auto_id="reject_%s"),
        "force_form": bound.get("force_form") or ReasonForm(auto_id="force_%s"),
        "can_review": request.user.has_perm(REVIEW),
        "can_force": request.user.has_perm(REVIEW) and request.user.has_perm(FORCE_APPROVE),
        "can_map": request.user.has_perm(REVIEW) and request.user.has_perm(MAP_SKU),
    }
    return render(request, "integrations/order_review.html", context, status=status)


def _order_to_review(request: HttpRequest, number: str) -> SalesOrder:
    return get_for_user_or_404(
        SalesOrder.objects.select_related("channel_account"), request.user, "review", number=number
    )


@requires(VIEW_ORDERS)
@require_GET
def order_review(request: HttpRequest, number: str) -> HttpResponse:
    """One order: the raw marketplace payload beside the normalised order, its issues, and the review forms."""
    return _order_page(request, number)


@requires(REVIEW, VIEW_ITEMS)
@require_GET
def item_search(request: HttpRequest) -> HttpResponse:
    """Items matching a code or name, as choices for the SKU mapping form (an htmx partial)."""
    context = {
        "items": selectors.item_search(user=request.user, q=request.GET.get("item_q", "")),
        "q": request.GET.get("item_q", "").strip(),
    }
    return render(request, "integrations/_item_choices.html", context)


@requires(REVIEW, MAP_SKU)
@require_POST
def order_map_sku(request: HttpRequest, number: str) -> HttpResponse:
    """Map an unmapped SKU of this order to an item; every waiting order it fixes is confirmed."""
    order = _order_to_review(request, number)
    form = SkuMappingForm(request.POST)
    sku = request.POST.get("external_sku", "")
    if not form.is_valid():
        return _order_page(request, number, status=400, sku=sku, sku_form=form)
    data = form.cleaned_data
    try:
        _mapping, cleared = services.sku_mapping_create(
            external_sku=data["external_sku"],
            item=data["item"],
            by=request.user,
            account=order.channel_account if data["scope"] == "shop" else None,
            qty_per_unit=data["qty_per_unit"],
        )
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message, sku=sku, sku_form=form)
    text = ngettext(
        "%(sku)s is now %(item)s; %(count)d waiting order was cleared and confirmed.",
        "%(sku)s is now %(item)s; %(count)d waiting orders were cleared and confirmed.",
        cleared,
    )
    messages.success(request, text % {"sku": data["external_sku"], "item": data["item"].code, "count": cleared})
    return redirect("integrations:order-review", number)


@requires(REVIEW)
@require_POST
def order_receiver(request: HttpRequest, number: str) -> HttpResponse:
    """Correct the receiver; the order is checked again and the old values stay in the audit trail."""
    order = _order_to_review(request, number)
    form = ReceiverForm(request.POST)
    if not form.is_valid():
        return _order_page(request, number, status=400, receiver_form=form)
    try:
        still_open = services.review_update_receiver(order=order, by=request.user, **form.cleaned_data)
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message, receiver_form=form)
    except ValidationError as exc:  # the model's own field checks, run by the order service
        return _order_page(request, number, status=400, error=" ".join(exc.messages), receiver_form=form)
    text = ngettext(
        "Receiver saved; %(count)d issue is still open.",
        "Receiver saved; %(count)d issues are still open.",
        len(still_open),
    )
    messages.success(request, text % {"count": len(still_open)})
    return redirect("integrations:order-review", number)


@requires(REVIEW)
@require_POST
def order_acknowledge(request: HttpRequest, number: str) -> HttpResponse:
    """Mark a buyer's note as read, so it no longer holds the order."""
    order = _order_to_review(request, number)
    form = AcknowledgeForm(request.POST)
    issue = get_object_or_404(order.issues, pk=form.cleaned_data["issue"]) if form.is_valid() else None
    # Only a note is information; acknowledging a real problem would approve over it without the permission.
    if issue is None or issue.code != OrderIssue.Code.BUYER_NOTE:
        return _order_page(request, number, status=400, error=_("Only a buyer's note can be acknowledged."))
    try:
        services.review_acknowledge_issue(issue=issue, by=request.user)
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message)
    messages.success(request, _("Buyer's note acknowledged."))
    return redirect("integrations:order-review", number)


@requires(REVIEW)
@require_POST
def order_resolve_change(request: HttpRequest, number: str) -> HttpResponse:
    """Close a "changed after confirmation" issue with how the change was handled."""
    order = _order_to_review(request, number)
    form = ResolveChangeForm(request.POST)
    if not form.is_valid():
        return _order_page(request, number, status=400, error=_("Say how the change was handled."))
    issue = get_object_or_404(order.issues, pk=form.cleaned_data["issue"])
    try:
        services.review_resolve_change(issue=issue, by=request.user, resolution=form.cleaned_data["resolution"])
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message)
    messages.success(request, _("Change marked as handled."))
    return redirect("integrations:order-review", number)


@requires(REVIEW)
@require_POST
def order_approve(request: HttpRequest, number: str) -> HttpResponse:
    """Approve the order after checking it again; refused, with the reasons, while any issue is open."""
    order = _order_to_review(request, number)
    try:
        services.review_approve(order=order, by=request.user)
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message)
    messages.success(request, _("Order %(number)s approved.") % {"number": number})
    return redirect("integrations:review-queue")


@requires(REVIEW, FORCE_APPROVE)
@require_POST
def order_force_approve(request: HttpRequest, number: str) -> HttpResponse:
    """Approve over the open issues, with a reason that goes to the audit trail."""
    order = _order_to_review(request, number)
    form = ReasonForm(request.POST, auto_id="force_%s")
    if not form.is_valid():
        return _order_page(request, number, status=400, error=_("Give a reason."), force_form=form)
    try:
        services.review_force_approve(order=order, by=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message, force_form=form)
    messages.success(request, _("Order %(number)s approved over its issues.") % {"number": number})
    return redirect("integrations:review-queue")


@requires(REVIEW)
@require_POST
def order_reject(request: HttpRequest, number: str) -> HttpResponse:
    """Reject the order (a fraud, a duplicate, a cancelled sale) with a reason."""
    order = _order_to_review(request, number)
    form = ReasonForm(request.POST, auto_id="reject_%s")
    if not form.is_valid():
        return _order_page(request, number, status=400, error=_("Give a reason."), reject_form=form)
    try:
        services.review_reject(order=order, by=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        return _order_page(request, number, status=exc.status, error=exc.message, reject_form=form)
    messages.success(request, _("Order %(number)s rejected.") % {"number": number})
    return redirect("integrations:review-queue")


# --- Sync health ------------------------------------------------------------------------------------------


@requires(VIEW_RUNS)
@require_GET
def sync_health(request: HttpRequest) -> HttpResponse:
    """Each channel account's sync state, then the run log with filters and an Excel export."""
    form = RunFilterForm(request.GET)
    context = {
        "accounts": selectors.sync_health(now=timezone.now()),
        "health_days": selectors.HEALTH_DAYS,
        "form": form,
        "page": Paginator(selectors.sync_runs(filters=form.filters()), PAGE_SIZE).get_page(request.GET.get("page")),
        "can_operate": request.user.has_perm(OPERATE_ACCOUNTS),
        "erp": selectors.erp_sync_health(),
        "can_pull_erp": request.user.has_perm(OPERATE_ERP),
    }
    return render(request, "integrations/sync_health.html", context)


@requires(VIEW_RUNS)
@require_GET
def sync_export(request: HttpRequest) -> HttpResponse:
    """The filtered sync runs as an Excel workbook."""
    runs = selectors.sync_runs(filters=RunFilterForm(request.GET).filters())
    response = HttpResponse(exports.sync_runs_xlsx(runs.iterator(chunk_size=2000)), content_type=XLSX_CONTENT_TYPE)
    filename = f"sync-runs-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@requires(VIEW_ORDERS)
@require_GET
def orders_export(request: HttpRequest) -> HttpResponse:
    """The orders the user may see as an Excel workbook, one row per line; prices only for those who may see them."""
    orders = selectors.orders_for_export(user=request.user, **OrderExportForm(request.GET).filters())
    content = exports.orders_xlsx(orders.iterator(chunk_size=500), pricing=sees_pricing(request.user))
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="sales-orders-{timezone.localtime():%Y%m%d-%H%M}.xlsx"'
    return response


@requires(OPERATE_ACCOUNTS)
@require_POST
def account_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Fetch one page from the marketplace now; shows that it works, or the marketplace's precise error."""
    account = get_for_user_or_404(ChannelAccount.objects.all(), request.user, "change", pk=pk)
    run = services.channel_account_test(account=account, by=request.user)
    if request.htmx:
        return render(request, "integrations/_connection_result.html", {"account": account, "run": run})
    if run.status == SyncRun.Status.SUCCEEDED:
        messages.success(request, _("%(shop)s: the connection works.") % {"shop": account.name})
    else:
        error = run.errors[0] if run.errors else {}
        messages.error(
            request,
            _("%(shop)s: the connection failed: %(code)s %(message)s")
            % {"shop": account.name, "code": error.get("code", ""), "message": error.get("message", "")},
        )
    return redirect("integrations:sync-health")


@requires(OPERATE_ACCOUNTS)
@require_POST
def account_poll(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a poll of the account now; the worker records it as a manual sync run."""
    account = get_for_user_or_404(ChannelAccount.objects.all(), request.user, "change", pk=pk)
    try:
        services.channel_poll_request(account=account, by=request.user)
    except services.IntakeError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:sync-health")
    messages.info(request, _("Poll of %(shop)s queued; its run appears below when it ends.") % {"shop": account.name})
    return redirect("integrations:sync-health")


@requires(OPERATE_ERP)
@require_POST
def erp_pull(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a pull of one kind of ERP data (or all master data) now; it is recorded as a manual sync run."""
    from integrations.erp.master_data import PULL_KINDS

    connection = get_for_user_or_404(ErpConnection.objects.all(), request.user, "change", pk=pk)
    kind = request.POST.get("kind", "")
    if kind and kind not in PULL_KINDS:
        messages.error(request, _("Unknown kind of ERP data: %(kind)s") % {"kind": kind})
        return redirect("integrations:sync-health")
    services.erp_pull_request(kinds=[kind] if kind else [], by=request.user, connection=connection)
    messages.info(
        request, _("Pull from %(erp)s queued; its runs appear below when they end.") % {"erp": connection.name}
    )
    return redirect("integrations:sync-health")
