"""Master data in and out of Excel: per kind, a template to fill in, an upload with a row-by-row report, an export."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.excel import XLSX_CONTENT_TYPE
from accounts.models import User
from production.excel import (
    SHEETS,
    ExcelFileError,
    masterdata_import,
    masterdata_xlsx,
    template_xlsx,
)
from production.excel.columns import SheetSpec
from production.excel.forms import UploadForm

# Importing upserts: it takes the right to add and to change every table the kind writes.
IMPORT_PERMS: dict[str, tuple[str, ...]] = {
    "items": ("production.add_item", "production.change_item"),
    "boms": ("production.add_bomline", "production.change_bomline"),
    "workcenters": (
        "production.add_workcenter",
        "production.change_workcenter",
        "production.add_workshop",
        "production.change_workshop",
    ),
    "routings": ("production.add_routingstep", "production.change_routingstep"),
}
# Exporting shows the rows, and the rows of the tables they name.
EXPORT_PERMS: dict[str, tuple[str, ...]] = {
    "items": ("production.view_item",),
    "boms": ("production.view_bomline", "production.view_item"),
    "workcenters": ("production.view_workcenter", "production.view_workshop"),
    "routings": ("production.view_routingstep", "production.view_operation", "production.view_workcenter"),
}
MAX_SHOWN_ERRORS = 1000


def _spec(kind: str, user: User, perms: dict[str, tuple[str, ...]]) -> SheetSpec:
    """The sheet of `kind`; 404 for an unknown kind, 403 without the permissions."""
    if kind not in SHEETS:
        raise Http404
    if not user.has_perms(perms[kind]):
        raise PermissionDenied
    return SHEETS[kind]


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The kinds of master data the user may import or export."""
    kinds = [
        {
            "spec": spec,
            "can_import": request.user.has_perms(IMPORT_PERMS[kind]),
            "can_export": request.user.has_perms(EXPORT_PERMS[kind]),
        }
        for kind, spec in SHEETS.items()
    ]
    kinds = [row for row in kinds if row["can_import"] or row["can_export"]]
    if not kinds:
        raise PermissionDenied
    return render(request, "production/excel/index.html", {"kinds": kinds})


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, kind: str) -> HttpResponse:
    """Upload an .xlsx of `kind`: every row written, or none and a table of the problems."""
    spec = _spec(kind, request.user, IMPORT_PERMS)
    form = UploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = masterdata_import(
                kind=kind, file=upload, by=request.user, filename=upload.name, dry_run=form.cleaned_data["dry_run"]
            )
        except ExcelFileError as exc:
            form.add_error("file", exc.message)
    context = {
        "spec": spec,
        "form": form,
        "report": report,
        "errors": report.errors[:MAX_SHOWN_ERRORS] if report else [],
        "can_export": request.user.has_perms(EXPORT_PERMS[kind]),
    }
    status = 400 if form.errors or (report and not report.ok) else 200
    return render(request, "production/excel/upload.html", context, status=status)


@login_required
@require_GET
def template(request: HttpRequest, kind: str) -> HttpResponse:
    """The blank workbook of `kind`, with help and drop-downs."""
    _spec(kind, request.user, IMPORT_PERMS)
    return _xlsx(template_xlsx(kind), f"{kind}-template.xlsx")


@login_required
@require_GET
def export(request: HttpRequest, kind: str) -> HttpResponse:
    """Every row of `kind` in the upload format."""
    _spec(kind, request.user, EXPORT_PERMS)
    return _xlsx(masterdata_xlsx(kind), f"{kind}-{timezone.localtime():%Y%m%d-%H%M}.xlsx")
