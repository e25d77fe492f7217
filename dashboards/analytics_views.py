"""Analytics pages: machine load with the downtime Pareto and OEE, the KPI trends, their Excel exports."""

from collections.abc import Callable
from datetime import date, timedelta

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.excel import XLSX_CONTENT_TYPE
from config.db_router import read_database
from dashboards import analytics, svg
from dashboards import capacity_workbook as excel
from production.models import Workshop
from production.scheduling import FACTORY_TZ

MACHINE_LOAD = "production.view_machine_load"
KPIS = "production.view_kpis"


def requires(permission: str) -> Callable:
    """Signed-in users with the permission: anonymous goes to the login page, anyone else without gets 403."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required(permission, raise_exception=True)(view))

    return decorate


class RangeForm(forms.Form):
    """Date range (both days inclusive) and workshop of the machine-load page; the current week by default."""

    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput({"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput({"type": "date"}))
    workshop = forms.ModelChoiceField(
        label=gettext_lazy("Workshop"),
        queryset=Workshop.objects.none(),
        required=False,
        empty_label=gettext_lazy("All workshops"),
        to_field_name="code",
    )

    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.today = today
        # Read once here; the template renders the choices from this list without another query.
        self.fields["workshop"].queryset = Workshop.objects.using(read_database()).order_by("code")

    def clean(self) -> dict:
        data = super().clean()
        start = data.get("date_from") or self.today - timedelta(days=self.today.weekday())
        end = data.get("date_to") or start + timedelta(days=6)
        if end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        if (end - start).days + 1 > analytics.MAX_RANGE_DAYS:
            raise forms.ValidationError(
                _("Choose at most %(days)d days.") % {"days": analytics.MAX_RANGE_DAYS}, code="range_too_long"
            )
        data["date_from"], data["date_to"] = start, end
        return data

    def period(self) -> analytics.AnalyticsRange:
        workshop = self.cleaned_data.get("workshop")
        return analytics.AnalyticsRange(
            start=self.cleaned_data["date_from"],
            end=self.cleaned_data["date_to"],
            workshop_id=workshop.pk if workshop else None,
        )


def _today() -> date:
    return timezone.now().astimezone(FACTORY_TZ).date()


def _xlsx(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"'
    return response


@requires(MACHINE_LOAD)
@require_GET
def load(request: HttpRequest) -> HttpResponse:
    """Planned hours vs capacity per work centre per day, the bottleneck, the downtime Pareto and OEE."""
    form = RangeForm(request.GET, today=_today())
    context = {
        "form": form,
        "workshops": list(form.fields["workshop"].queryset),
        "selected_workshop": request.GET.get("workshop", ""),
    }
    if not form.is_valid():
        context.update(date_from=request.GET.get("date_from", ""), date_to=request.GET.get("date_to", ""))
        return render(request, "analytics/load.html", context, status=400)
    period = form.period()
    result = analytics.load_analysis(period=period, now=timezone.now())
    chart = svg.pareto_chart(
        [(row.label, row.minutes, row.cumulative_pct) for row in result.pareto],
        unit=_("min"),
        title=_("Downtime Pareto"),
    )
    context.update(
        date_from=period.start.isoformat(),
        date_to=period.end.isoformat(),
        result=result,
        pareto_chart=chart,
        definitions=analytics.DEFINITIONS,
    )
    return render(request, "analytics/load.html", context)


LOAD_TABLES = {
    "load": (excel.add_load_sheet, lambda result: result.load, "machine-load"),
    "oee": (excel.add_oee_sheet, lambda result: result.oee, "oee"),
    "pareto": (excel.add_pareto_sheet, lambda result: result.pareto, "downtime-pareto"),
}


@requires(MACHINE_LOAD)
@require_GET
def load_export(request: HttpRequest, table: str) -> HttpResponse:
    """One table of the machine-load page (load, OEE or Pareto) for the same range, as an Excel workbook."""
    if table not in LOAD_TABLES:
        raise Http404
    form = RangeForm(request.GET, today=_today())
    if not form.is_valid():
        return HttpResponse(" ".join(form.non_field_errors()) or _("Invalid filter."), status=400)
    add_sheet, pick, name = LOAD_TABLES[table]
    result = analytics.load_analysis(period=form.period(), now=timezone.now())
    return _xlsx(excel.table_xlsx(add_sheet, pick(result)), name)


def _period(request: HttpRequest) -> str:
    return "month" if request.GET.get("period") == "month" else "week"


@requires(KPIS)
@require_GET
def kpis(request: HttpRequest) -> HttpResponse:
    """Trend charts of the KPIs per week or per month, each with its definition, and their table."""
    period = _period(request)
    rows = analytics.kpis(now=timezone.now())
    charts = []
    for kpi in rows:
        points = kpi.points(period)
        labels = [point.period_start.strftime("%m-%d" if period == "week" else "%Y-%m") for point in points]
        charts.append(
            {
                "kpi": kpi,
                "points": points,
                "latest": points[-1] if points else None,
                "svg": svg.trend_chart(
                    [(label, point.value) for label, point in zip(labels, points, strict=True)],
                    unit=kpi.unit,
                    title=kpi.name,
                ),
            }
        )
    return render(request, "analytics/kpis.html", {"charts": charts, "period": period})


@requires(KPIS)
@require_GET
def kpis_export(request: HttpRequest) -> HttpResponse:
    """Every KPI per week and per month as an Excel workbook."""
    return _xlsx(excel.table_xlsx(excel.add_kpi_sheet, analytics.kpis(now=timezone.now())), "kpis")


# --- Monthly capacity analysis workbook ----------------------------------------------------------------------


class CapacityForm(forms.Form):
    """Which month (and workshop) the capacity analysis workbook covers."""

    month = forms.DateField(
        label=gettext_lazy("Month"), input_formats=["%Y-%m"], widget=forms.DateInput({"type": "month"}, "%Y-%m")
    )
    workshop = forms.ModelChoiceField(
        label=gettext_lazy("Workshop"),
        queryset=Workshop.objects.order_by("code"),
        required=False,
        empty_label=gettext_lazy("All workshops"),
        to_field_name="code",
    )


def _own_job(request: HttpRequest, job_id: str) -> dict:
    # Someone else's workbook is as absent as one that never existed.
    job = excel.capacity_job_get(job_id)
    if job is None or job["user_id"] != request.user.pk:
        raise Http404
    return job


@requires(MACHINE_LOAD)
@require_http_methods(["GET", "POST"])
def capacity(request: HttpRequest) -> HttpResponse:
    """Ask for the monthly capacity analysis workbook; it is built in the background with its progress shown."""
    if request.method == "POST":
        form = CapacityForm(request.POST)
        if form.is_valid():
            job = excel.capacity_job_start(
                month=form.cleaned_data["month"], workshop=form.cleaned_data["workshop"], by=request.user
            )
            return redirect(f"{reverse('analytics:capacity')}?job={job['id']}")
        return render(request, "analytics/capacity.html", {"form": form}, status=400)
    job = _own_job(request, request.GET["job"]) if request.GET.get("job") else None
    form = CapacityForm(initial={"month": _today().replace(day=1)})
    return render(request, "analytics/capacity.html", {"form": form, "job": job})


@requires(MACHINE_LOAD)
def capacity_status(request: HttpRequest, job_id: str) -> HttpResponse:
    """The job's progress bar; polled by htmx until the workbook is ready, then a download link."""
    job = _own_job(request, job_id)  # before the method: someone else's job is absent, whatever is asked
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    return render(request, "analytics/_capacity_status.html", {"job": job})


@requires(MACHINE_LOAD)
def capacity_download(request: HttpRequest, job_id: str) -> HttpResponse:
    """The finished workbook."""
    job = _own_job(request, job_id)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    path = excel.job_path(job_id)
    if job["status"] != excel.JobStatus.DONE or not path.exists():
        raise Http404
    name = f"capacity-{job['month'][:7]}.xlsx"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type=XLSX_CONTENT_TYPE)
