"""Sign-in pages (office password, tablet badge/PIN), the language switch and the home page."""

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import activate
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.audit_export import audit_xlsx
from accounts.errors import ApplicationError
from accounts.excel import XLSX_CONTENT_TYPE
from accounts.forms import AuditFilterForm, BadgeLoginForm, LanguageForm, PinLoginForm
from accounts.models import User


def _with_language(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


class LoginView(auth_views.LoginView):
    """Username and password for office staff; the user's language is applied on success."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        services.audit_record(actor=form.get_user(), verb="login.password", obj=form.get_user())
        return _with_language(response, form.get_user().preferred_language)


def _tablet_sign_in(request: HttpRequest, user: User) -> HttpResponse:
    login(request, user, backend="accounts.backends.PermissionsInOneQueryBackend")
    target = request.POST.get("next") or request.GET.get("next") or "home"
    if target != "home" and not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "home"
    return _with_language(redirect(target), user.preferred_language)


def tablet_login(request: HttpRequest) -> HttpResponse:
    """The shared tablet's sign-in: scan a badge, or type employee number and PIN."""
    badge_form, pin_form = BadgeLoginForm(prefix="badge"), PinLoginForm(prefix="pin")
    error, status = "", 200
    if request.method == "POST":
        try:
            if "badge-badge_code" in request.POST:
                badge_form = BadgeLoginForm(request.POST, prefix="badge")
                if badge_form.is_valid():
                    user = services.operator_login_by_badge(badge_code=badge_form.cleaned_data["badge_code"])
                    return _tablet_sign_in(request, user)
            else:
                pin_form = PinLoginForm(request.POST, prefix="pin")
                if pin_form.is_valid():
                    user = services.operator_login_by_pin(**pin_form.cleaned_data)
                    return _tablet_sign_in(request, user)
        except ApplicationError as exc:
            error, status = exc.message, exc.status
    context = {
        "badge_form": badge_form,
        "pin_form": pin_form,
        "error": error,
        "next": request.GET.get("next", ""),
    }
    return render(request, "accounts/tablet_login.html", context, status=status)


@require_POST
def switch_operator(request: HttpRequest) -> HttpResponse:
    """End the current operator's session on a shared tablet and wait for the next badge."""
    if request.user.is_authenticated:
        services.audit_record(actor=request.user, verb="logout.switch_operator", obj=request.user)
    logout(request)
    # The next operator signs in and lands where the tablet was: the floor page unless it came from elsewhere.
    target = request.POST.get("next") or reverse("floor:page")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("floor:page")
    return redirect(f"{reverse('accounts:tablet-login')}?{urlencode({'next': target})}")


@require_POST
def switch_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a signed-in user's choice is remembered on their account."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return redirect("home")
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        services.user_set_language(user=request.user, language=language)
    activate(language)
    target = form.cleaned_data["next"] or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return _with_language(redirect(target), language)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where each role starts: the pages its permissions open."""
    return render(request, "home.html", {"tiles": selectors.home_tiles(user=request.user)})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and `make run`: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


AUDIT_PAGE_SIZE = 100


@login_required
@permission_required("accounts.view_auditevent", raise_exception=True)
@require_GET
def audit_trail(request: HttpRequest) -> HttpResponse:
    """IT's view of the audit trail: who did what to which object, when and from where, with filters."""
    form = AuditFilterForm(request.GET)
    events = selectors.audit_events(**form.filters())
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "accounts/audit.html", {"form": form, "page": page})


@login_required
@permission_required("accounts.view_auditevent", raise_exception=True)
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered audit trail as an Excel workbook."""
    events = selectors.audit_events(**AuditFilterForm(request.GET).filters())
    response = HttpResponse(audit_xlsx(events.iterator(chunk_size=2000)), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.localtime():%Y%m%d-%H%M}.xlsx"'
    return response
