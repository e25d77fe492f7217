"""The operators' tablet page: scan a code, see the operation, press Start / Pause / Report / Complete, report
downtime.

Presses arrive as JSON (as a multipart form when a photo goes with them) and carry the UUID the tablet made when
the button was pressed. The tablet keeps presses in a queue while the network is down and sends them again later;
the services answer a repeated UUID with the first answer, so a press that arrives twice counts once.
"""

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from production.floor import TRANSITIONS, FloorError, PressResult, downtime_end, downtime_start, report_event_record
from production.floor_selectors import OperationCard, operation_card, work_center_queue
from production.models import Downtime, ReportEvent, WorkOrder, WorkOrderOperation
from production.models.execution import OPERATION_CODE_PREFIX, DowntimeReason, PauseReason, ScrapReason

FLOOR_PERMISSION = "production.add_reportevent"
DOWNTIME_PERMISSIONS = ("production.add_downtime", "production.change_downtime")
CLOSED = (WorkOrder.Status.COMPLETED, WorkOrder.Status.CANCELLED)
PRESS_MESSAGES = {
    ReportEvent.Action.START: gettext_lazy("Started."),
    ReportEvent.Action.PAUSE: gettext_lazy("Paused."),
    ReportEvent.Action.RESUME: gettext_lazy("Running again."),
    ReportEvent.Action.REPORT: gettext_lazy("Recorded. In all: good %(good)s, scrap %(scrap)s, rework %(rework)s."),
    ReportEvent.Action.COMPLETE: gettext_lazy("Completed. In all: good %(good)s, scrap %(scrap)s, rework %(rework)s."),
}


def floor_access(*extra_perms: str) -> Callable:
    """Operators and team leaders only; others get 403, and a tablet nobody is signed in on asks for a badge."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(_back_to_floor(request, kwargs.get("code")), "accounts:tablet-login")
            if not request.user.has_perms([FLOOR_PERMISSION, *extra_perms]):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _back_to_floor(request: HttpRequest, code: str | None) -> str:
    # After the badge sign-in the operator lands on the full page (never on a bare partial or a JSON endpoint).
    code = code or (request.GET.get("code", "") if request.method == "GET" else "")
    page_url = reverse("floor:page")
    return f"{page_url}?{urlencode({'code': code})}" if code else page_url


@require_GET
@floor_access()
def page(request: HttpRequest) -> HttpResponse:
    """The tablet page; `?code=` opens that code at once (after a reload, or a scan with JavaScript off)."""
    code = request.GET.get("code", "").strip().upper()[:64]
    context = {
        "code": code,
        "config": _client_config(),
        "pause_reasons": PauseReason.choices,
        "scrap_reasons": ScrapReason.choices,
        "downtime_reasons": DowntimeReason.choices,
    }
    if code:
        template, found, _status = _lookup(code)
        context.update(found, view_template=template)
    return render(request, "floor/page.html", context)


@require_GET
@floor_access()
def scan(request: HttpRequest) -> HttpResponse:
    """A scanned or typed code: the operation's card, the work centre's queue, or a 'not found' note (404)."""
    template, context, status = _lookup(request.GET.get("code", ""))
    return render(request, template, context, status=status)


@require_GET
@floor_access()
def card(request: HttpRequest, code: str) -> HttpResponse:
    """One operation's card, as a partial the page swaps in."""
    found = operation_card(code)
    if found is None:
        return render(request, "floor/_not_found.html", {"code": code.upper()}, status=404)
    return render(request, "floor/_card.html", _card_context(found))


@require_GET
@floor_access()
def work_center(request: HttpRequest, code: str) -> HttpResponse:
    """A work centre's queue of operations to do, each opened with one tap."""
    center, operations = work_center_queue(code)
    if center is None:
        return render(request, "floor/_not_found.html", {"code": code.upper()}, status=404)
    return render(request, "floor/_queue.html", {"work_center": center, "operations": operations})


@require_POST
@floor_access()
def press(request: HttpRequest) -> JsonResponse:
    """One press (start, pause, resume, report, complete): the service's answer and the refreshed card."""
    data: dict[str, Any] = {}
    try:
        data, photo = _read_press(request)
        result = report_event_record(
            operation_code=_text(data, "operation_code"),
            operator=request.user,
            action=_text(data, "action"),
            client_uuid=data.get("client_uuid"),
            good_qty=data.get("good_qty"),
            scrap_qty=data.get("scrap_qty"),
            rework_qty=data.get("rework_qty"),
            reason=_text(data, "reason"),
            note=_text(data, "note"),
            photo=photo,
            client_at=_client_at(data.get("client_at")),
        )
    except FloorError as exc:
        return _refused(request, exc, _text(data, "operation_code"))
    answer = {"ok": True, "message": _press_message(result), "result": result.as_dict()}
    return JsonResponse({**answer, "card_html": _card_html(request, result.operation_code)})


@require_POST
@floor_access(*DOWNTIME_PERMISSIONS)
def downtime(request: HttpRequest) -> JsonResponse:
    """A work centre stops (`action=start` with a reason) or runs again (`action=end`)."""
    data: dict[str, Any] = {}
    try:
        data, photo = _read_press(request)
        code, action = _text(data, "work_center_code").strip().upper(), _text(data, "action")
        if action == "start":
            record = downtime_start(
                work_center_code=code,
                reason=_text(data, "reason"),
                operator=request.user,
                client_uuid=data.get("client_uuid"),
                note=_text(data, "note"),
                photo=photo,
            )
        elif action == "end":
            record = downtime_end(work_center_code=code, operator=request.user, client_uuid=data.get("client_uuid"))
        else:
            raise FloorError(_("Unknown action."), code="action_invalid")
    except FloorError as exc:
        return _refused(request, exc, _text(data, "operation_code"))
    answer = {"ok": True, "message": _downtime_message(record, code), "downtime": _downtime_fields(record, code)}
    return JsonResponse({**answer, "card_html": _card_html(request, _text(data, "operation_code"))})


def _lookup(code: str) -> tuple[str, dict[str, Any], int]:
    """What a code opens: an operation card (LLOP-…), else a work centre's queue, else a 'not found' note."""
    code = code.strip().upper()[:64]
    if code and not code.startswith(OPERATION_CODE_PREFIX):
        center, operations = work_center_queue(code)
        if center is not None:
            return "floor/_queue.html", {"work_center": center, "operations": operations}, 200
    found = operation_card(code) if code else None
    if found is None:
        return "floor/_not_found.html", {"code": code}, 404
    return "floor/_card.html", _card_context(found), 200


def _card_context(found: OperationCard) -> dict[str, Any]:
    closed = found.work_order_status in CLOSED
    # The buttons the state machine allows now; the tablet greys out the others.
    allowed = [] if closed else [action for action, before in TRANSITIONS if before == found.status]
    events = [{**event, "action_label": ReportEvent.Action(event["action"]).label} for event in found.recent_events]
    for event in events:
        reasons = PauseReason if event["action"] == ReportEvent.Action.PAUSE else ScrapReason
        event["reason_label"] = reasons(event["reason"]).label if event["reason"] in reasons.values else ""
    return {
        "card": found,
        "allowed": allowed,
        "closed": closed,
        "work_order_status_label": WorkOrder.Status(found.work_order_status).label,
        "events": events,
    }


def _card_html(request: HttpRequest, code: str) -> str:
    found = operation_card(code) if code else None
    return render_to_string("floor/_card.html", _card_context(found), request=request) if found else ""


def _client_config() -> dict[str, Any]:
    """What floor.js needs to grey out buttons while a press waits offline: the state machine and status labels."""
    transitions: dict[str, dict[str, str]] = {}
    for (action, before), after in TRANSITIONS.items():
        transitions.setdefault(str(action), {})[str(before)] = str(after)
    return {"transitions": transitions, "statuses": dict(WorkOrderOperation.Status.choices)}


def _read_press(request: HttpRequest) -> tuple[dict[str, Any], UploadedFile | None]:
    """The fields of a press: a JSON object, or a multipart form when a photo goes with it."""
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return request.POST.dict(), request.FILES.get("photo")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise FloorError(_("The press could not be read; press again."), code="bad_request") from exc
    if not isinstance(data, dict):
        raise FloorError(_("The press could not be read; press again."), code="bad_request")
    return data, None


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _client_at(value: Any) -> datetime | None:
    """The tablet's clock at the press, kept for the audit trail; an unreadable one is dropped, not refused."""
    try:
        moment = parse_datetime(str(value or ""))
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _press_message(result: PressResult) -> str:
    totals = {"good": result.good_qty, "scrap": result.scrap_qty, "rework": result.rework_qty}
    message = str(PRESS_MESSAGES[result.action]) % totals
    if result.duplicate:
        message += " " + _("(This press had already been recorded.)")
    return message


def _downtime_message(record: Downtime, code: str) -> str:
    if record.ended_at is None:
        return _("Work centre %(code)s is stopped: %(reason)s.") % {"code": code, "reason": record.get_reason_display()}
    return _("Work centre %(code)s runs again.") % {"code": code}


def _downtime_fields(record: Downtime, code: str) -> dict[str, Any]:
    return {
        "id": record.pk,
        "work_center_code": code,
        "reason": record.reason,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "open": record.ended_at is None,
    }


def _refused(request: HttpRequest, exc: FloorError, operation_code: str) -> JsonResponse:
    # The refreshed card goes with the refusal: the operation may have moved on (another tablet completed it).
    error = {"code": exc.code, "message": exc.message, "extra": exc.extra}
    body = {"ok": False, "message": exc.message, "error": error, "card_html": _card_html(request, operation_code)}
    return JsonResponse(body, status=exc.status)
