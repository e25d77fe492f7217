"""The ERP outbox page for IT: every confirmed order's push, its attempts and the ERP's last error, and a retry."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import ApplicationError
from accounts.permissions import get_for_user_or_404, restrict
from integrations.erp.outbox import erp_push_retry
from integrations.views import requires
from orders.models import ErpPush

VIEW = "orders.view_erppush"
RETRY = "orders.change_erppush"
PAGE_SIZE = 50


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", gettext_lazy("Any status")), *ErpPush.Status.choices],
        widget=forms.Select(attrs={"aria-label": gettext_lazy("Status")}),
    )
    q = forms.CharField(label=gettext_lazy("Order number"), required=False, max_length=64)


@requires(VIEW)
@require_GET
def erp_outbox(request: HttpRequest) -> HttpResponse:
    """Outbox entries, newest first, filtered by state or order number, with counts per state."""
    form = OutboxFilterForm(request.GET)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    entries = restrict(ErpPush.objects.select_related("order"), request.user)
    counts = dict(entries.order_by().values_list("status").annotate(n=Count("id")))
    if data.get("status"):
        entries = entries.filter(status=data["status"])
    if data.get("q"):
        entries = entries.filter(order__number__icontains=data["q"].strip())
    context = {
        "form": form,
        "page": Paginator(entries.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page")),
        "counts": [(value, label, counts.get(value, 0)) for value, label in ErpPush.Status.choices],
        "can_retry": request.user.has_perm(RETRY),
    }
    return render(request, "integrations/erp_outbox.html", context)


@requires(VIEW, RETRY)
@require_POST
def erp_outbox_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Put a failed push back in the queue once its cause is fixed."""
    push = get_for_user_or_404(ErpPush.objects.select_related("order"), request.user, "view", pk=pk)
    try:
        erp_push_retry(push=push, by=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Order %(number)s is queued for the ERP again.") % {"number": push.order.number})
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("integrations:erp-outbox")
