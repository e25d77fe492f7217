"""Pages of the reconciliation (ERP outbound against WMS shipments) and of today's shipments."""

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from integrations import reconciliation
from integrations.exports import reconciliation_xlsx
from integrations.models import WmsShipmentLine
from integrations.views import requires

READ = "integrations.view_wmsshipmentline"
UPLOAD = "integrations.add_wmsshipmentline"
SHIPMENTS = "integrations.view_erpoutboundline"
DEFAULT_DAYS = 30
MAX_DAYS = 731


class ReconciliationFilterForm(forms.Form):
    """The range of days (Asia/Shanghai, both inclusive), an item and the trend's period."""

    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput({"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput({"type": "date"}))
    item = forms.CharField(label=gettext_lazy("Material code"), required=False, max_length=64)
    period = forms.ChoiceField(
        label=gettext_lazy("Trend per"),
        required=False,
        choices=[("day", gettext_lazy("day")), ("week", gettext_lazy("week")), ("month", gettext_lazy("month"))],
    )

    def values(self) -> tuple[date, date, str, str]:
        """start, end, item code, period; invalid or missing values fall back to the last 30 days per day."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        end = data.get("date_to") or timezone.localdate()
        start = data.get("date_from") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        start = max(start, end - timedelta(days=MAX_DAYS))  # a bounded range keeps the page's work bounded
        return start, end, data.get("item", "").strip(), data.get("period") or "day"


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("WMS shipments (.xlsx or .csv)"))


def _percent(rate):
    return None if rate is None else rate * 100


def _page(request: HttpRequest, *, upload_errors=None, status: int = 200) -> HttpResponse:
    form = ReconciliationFilterForm(request.GET)
    start, end, item, period = form.values()
    rows = reconciliation.item_days(start=start, end=end, item_code=item)
    trend = reconciliation.deviation_rate_by_period(start, end, period)
    for row in trend:
        row["period_end"] = reconciliation.period_end(row["period_start"], period, end)
        row["period_start"] = max(row["period_start"], start)
        row["percent"] = _percent(row["deviation_rate"])
    summary = reconciliation.summarise(rows)
    summary["percent"] = _percent(summary["deviation_rate"])
    context = {
        "form": form,
        "start": start,
        "end": end,
        "item": item,
        "summary": summary,
        "period": period,
        "trend": trend,
        "differing": [row for row in rows if row.difference != 0],
        "can_upload": request.user.has_perm(UPLOAD),
        "upload_form": UploadForm(),
        "upload_errors": upload_errors,
    }
    return render(request, "integrations/reconciliation.html", context, status=status)


@requires(READ)
@require_GET
def reconciliation_page(request: HttpRequest) -> HttpResponse:
    """The deviation rate of a range, its trend per day/week/month and the item-days that differ."""
    return _page(request)


@requires(READ)
@require_GET
def reconciliation_item_day(request: HttpRequest) -> HttpResponse:
    """The ERP outbound lines and WMS lines behind one item-day's figures."""
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return HttpResponse(_("Give the day as YYYY-MM-DD."), status=400)
    code = request.GET.get("item", "")
    lines = reconciliation.source_lines(day=day, item_code=code)
    rows = reconciliation.item_days(start=day, end=day, item_code=code)
    context = {"day": day, "item": code, "row": rows[0] if rows else None, **lines}
    return render(request, "integrations/reconciliation_item_day.html", context)


@requires(READ)
@require_GET
def reconciliation_export(request: HttpRequest) -> HttpResponse:
    """The item-days and the trend of the filtered range as an Excel workbook."""
    start, end, item, period = ReconciliationFilterForm(request.GET).values()
    rows = reconciliation.item_days(start=start, end=end, item_code=item)
    trend = reconciliation.deviation_rate_by_period(start, end, period)
    response = HttpResponse(reconciliation_xlsx(rows, trend, period), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@requires(READ, UPLOAD)
@require_POST
def reconciliation_upload(request: HttpRequest) -> HttpResponse:
    """Record the WMS shipments of an uploaded file, all or nothing, with a row-by-row report on failure."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file to upload."))
        return redirect("integrations:reconciliation")
    upload = form.cleaned_data["file"]
    try:
        lines = reconciliation.read_upload(
            upload, name=upload.name, content_type=upload.content_type or "", size=upload.size
        )
        # Row 1 is the header, so the first line is row 2, as Excel numbers it.
        result = reconciliation.wms_shipments_record(
            lines=lines, by=request.user, source=WmsShipmentLine.Source.UPLOAD, first_row=2
        )
    except reconciliation.ReconciliationError as error:
        messages.error(request, error.message)
        return _page(request, upload_errors=error.extra.get("errors", []), status=400)
    messages.success(
        request,
        _("Shipments recorded: %(created)s new, %(updated)s changed, %(unchanged)s already known.")
        % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
    )
    return redirect("integrations:reconciliation")


@requires(SHIPMENTS)
@require_GET
def today_shipments(request: HttpRequest) -> HttpResponse:
    """Today's shipments per customer, channel and item (ERP outbound and WMS), from the 5-minute cache."""
    return render(request, "integrations/today_shipments.html", {"today": reconciliation.today_shipments()})
