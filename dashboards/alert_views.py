"""Alert pages: the inbox (filter, acknowledge, resolve — htmx, and plain forms without it) and the rules page."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dashboards import services
from dashboards.alert_forms import AlertFilterForm, AlertRuleForm
from dashboards.alert_selectors import alert_inbox, alert_rules, alerts_for_user
from dashboards.models import AlertRule

PAGE_SIZE = 50


def sees_alerts(view: Callable) -> Callable:
    """Signed in and allowed to see all alerts or one's team's; anyone else gets 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not (user.has_perm("dashboards.view_alert") or user.has_perm("dashboards.view_team_alerts")):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


@sees_alerts
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The alerts the user may see, unresolved first by default; the table refreshes itself every 30 s."""
    form = AlertFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    alerts = alert_inbox(
        user=request.user,
        state=filters.get("state") or "",
        kind=filters.get("kind") or "",
        team_id=filters["team"].pk if filters.get("team") else None,
        unresolved=not filters.get("state"),
    )
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "now": timezone.now(),
               "can_act": request.user.has_perm("dashboards.acknowledge_alert")}  # fmt: skip
    if request.htmx and request.GET.get("partial") == "rows":
        return render(request, "dashboards/alerts/_rows.html", context)
    return render(request, "dashboards/alerts/inbox.html", context)


def _act(request: HttpRequest, pk: int, service: Callable, done: str) -> HttpResponse:
    try:
        alert = service(alert_id=pk, by=request.user, note=request.POST.get("note", "").strip())
    except services.AlertNotFound:
        raise Http404 from None
    except services.AlertStateError as exc:
        if request.htmx:
            return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
        messages.error(request, exc.message)
        return redirect("alerts:inbox")
    if request.htmx:
        row = alerts_for_user(request.user).select_related("team", "acknowledged_by", "resolved_by").get(pk=alert.pk)
        return render(request, "dashboards/alerts/_row.html", {"alert": row, "can_act": True})
    messages.success(request, done % {"subject": alert.subject_label})
    return redirect("alerts:inbox")


@sees_alerts
@permission_required("dashboards.acknowledge_alert", raise_exception=True)
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """Open → acknowledged; a wrong state answers 409 with the reason."""
    return _act(request, pk, services.alert_acknowledge, _("Acknowledged: %(subject)s"))


@sees_alerts
@permission_required("dashboards.acknowledge_alert", raise_exception=True)
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Open or acknowledged → resolved; a wrong state answers 409 with the reason."""
    return _act(request, pk, services.alert_resolve, _("Resolved: %(subject)s"))


@login_required
@permission_required("dashboards.view_alertrule", raise_exception=True)
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    """Every rule with its thresholds and what they mean; the production manager changes one at a time."""
    return _rules_page(request)


@login_required
@permission_required("dashboards.change_alertrule", raise_exception=True)
@require_POST
def rule_save(request: HttpRequest, kind: str) -> HttpResponse:
    """Save one rule; a refused value shows the page again with the reason beside the field."""
    rule = get_object_or_404(AlertRule, kind=kind)
    form = AlertRuleForm(request.POST, rule=rule)
    if form.is_valid():
        try:
            services.alert_rule_update(rule=rule, by=request.user, **form.cleaned_data)
        except services.AlertError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Saved: %(rule)s") % {"rule": rule.get_kind_display()})
            return redirect("alerts:rules")
    return _rules_page(request, bound=form, status=400)


def _rules_page(request: HttpRequest, bound: AlertRuleForm | None = None, status: int = 200) -> HttpResponse:
    can_change = request.user.has_perm("dashboards.change_alertrule")
    services.alert_rules_ensure()
    forms = [
        bound if bound is not None and bound.rule.pk == rule.pk else AlertRuleForm(rule=rule, read_only=not can_change)
        for rule in alert_rules()
    ]
    return render(request, "dashboards/alerts/rules.html", {"forms": forms, "can_change": can_change}, status=status)
