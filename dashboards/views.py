"""Dashboard pages: the live Gantt, the work-order drill-down and order progress, with their Excel exports."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.excel import XLSX_CONTENT_TYPE
from accounts.roles import GANTT, ORDER_PROGRESS
from dashboards import exports
from dashboards.forms import GanttForm, OrderProgressForm
from dashboards.gantt import WOStatus, gantt_choices, gantt_fingerprint, gantt_operations, gantt_rows, shift_anchor
from dashboards.gantt import work_order_detail as detail_of
from dashboards.progress import ORDER_SCOPES, order_progress_page, order_progress_rows


def requires(*perms: str) -> Callable:
    """Signed-in users holding every permission: anonymous goes to the login page, anyone else gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(perms, raise_exception=True)(view))

    return decorate


def _xlsx(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"'
    return response


@requires(GANTT)
@require_GET
def gantt(request: HttpRequest) -> HttpResponse:
    """The Gantt; an htmx poll carrying the fingerprint it last saw gets 204 while nothing has changed."""
    fingerprint = gantt_fingerprint()
    if request.htmx and request.GET.get("fp") == fingerprint:
        return HttpResponse(status=204)
    form = GanttForm(request.GET, user=request.user)
    chart = gantt_rows(window=form.window(), filters=form.filters(), page=form.page_number())
    context = {"chart": chart, "fingerprint": fingerprint, "form": form}
    if request.htmx:
        return render(request, "dashboards/_gantt_chart.html", context)
    anchor = form.anchor()
    context |= {
        "choices": gantt_choices(),
        "statuses": WOStatus.choices,
        "anchor": anchor,
        "previous": shift_anchor(chart.window.zoom, anchor, -1),
        "next": shift_anchor(chart.window.zoom, anchor, 1),
    }
    return render(request, "dashboards/gantt.html", context)


@requires(GANTT)
@require_GET
def gantt_export(request: HttpRequest) -> HttpResponse:
    """Every operation of the Gantt's filters and window (all pages) as an Excel workbook."""
    form = GanttForm(request.GET, user=request.user)
    bars = gantt_operations(window=form.window(), filters=form.filters())
    return _xlsx(exports.gantt_xlsx(bars), "gantt")


@requires(GANTT)
@require_GET
def work_order(request: HttpRequest, number: str) -> HttpResponse:
    """One work order: its operations on a small chart, their report events and the downtime around them."""
    detail = detail_of(number)
    if detail is None:
        raise Http404
    return render(request, "dashboards/gantt_work_order.html", {"detail": detail})


@requires(ORDER_PROGRESS)
@require_GET
def order_progress(request: HttpRequest) -> HttpResponse:
    """Per sales order: each line's current operation, % done, projected completion against the promised date."""
    form = OrderProgressForm(request.GET)
    page = order_progress_page(q=form.value("q", ""), scope=form.value("status", "open"), page=form.value("page", 1))
    return render(
        request, "dashboards/order_progress.html", {"page": page, "form": form, "scopes": ORDER_SCOPES.items()}
    )


@requires(ORDER_PROGRESS)
@require_GET
def order_progress_export(request: HttpRequest) -> HttpResponse:
    """Every line of the searched orders (all pages) as an Excel workbook."""
    form = OrderProgressForm(request.GET)
    orders = order_progress_rows(q=form.value("q", ""), scope=form.value("status", "open"))
    return _xlsx(exports.order_progress_xlsx(orders), "order-progress")
