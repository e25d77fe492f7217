"""Shop-floor writes: an operator's press on a tablet or scanner, and work-centre downtime.

Every press carries a client-generated UUID. The first time it arrives it is applied to the operation in one
transaction with the operation row locked (two tablets on one operation never lose an update); a repeated UUID
(a retry on flaky Wi-Fi, the offline queue replaying) is answered with the first answer and changes nothing.
The ReportEvent rows are the audit trail of the presses: append-only, with operator, time, device time and the
address the press came from. A downtime's start and end are AuditEvents.
"""

import json
import uuid
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.context import current_ip
from accounts.models import User
from accounts.services import audit_record
from accounts.uploads import PHOTO_KINDS, UploadRefused, check_upload
from config.prepared import PreparedStatement
from production.errors import ProductionError
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from production.models.execution import DowntimeReason, PauseReason, ScrapReason

Action = ReportEvent.Action
OpStatus = WorkOrderOperation.Status
MAX_QTY = Decimal("1000000")
PIECE_UNITS = ("PCS", "个", "件", "套", "副", "片", "只")  # counted in whole numbers
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}

# (action, status before) → status after. Anything else is refused with the reason.
TRANSITIONS: dict[tuple[str, str], str] = {
    (Action.START, OpStatus.PENDING): OpStatus.RUNNING,
    (Action.PAUSE, OpStatus.RUNNING): OpStatus.PAUSED,
    (Action.RESUME, OpStatus.PAUSED): OpStatus.RUNNING,
    (Action.REPORT, OpStatus.RUNNING): OpStatus.RUNNING,
    (Action.COMPLETE, OpStatus.RUNNING): OpStatus.DONE,
}


class FloorError(ProductionError):
    """A press that cannot be applied; the message tells the operator why, in their language."""


@dataclass
class PressResult:
    """What the tablet shows after a press; stored with the event so a replay gets the same answer."""

    event_id: int
    operation_code: str
    action: str
    status: str
    good_qty: str
    scrap_qty: str
    rework_qty: str
    labour_minutes: str
    work_order_status: str
    at: str
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_client_uuid(value: Any) -> uuid.UUID:
    """The press's UUID; anything else is refused (a press without one could be counted twice)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise FloorError(_("The press has no valid id; reload the page and press again."), code="bad_uuid") from exc


def parse_qty(value: Any, label: str) -> Decimal:
    """A reported quantity: a number from 0 up, whole for pieces; text, negatives and NaN are refused."""
    if value in (None, ""):
        return Decimal(0)
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise FloorError(_("%(label)s must be a number.") % {"label": label}, code="qty_invalid") from exc
    if not qty.is_finite():
        raise FloorError(_("%(label)s must be a number.") % {"label": label}, code="qty_invalid")
    if qty < 0:
        raise FloorError(_("%(label)s cannot be negative.") % {"label": label}, code="qty_negative")
    if qty > MAX_QTY:
        raise FloorError(_("%(label)s is too large.") % {"label": label}, code="qty_invalid")
    return qty


def check_photo(photo: UploadedFile | None) -> None:
    """Accept JPEG, PNG or WebP pictures up to the configured size, checked by content, not by file name."""
    if photo is None:
        return
    from PIL import Image, UnidentifiedImageError

    try:
        check_upload(
            photo, allowed=PHOTO_KINDS, max_bytes=settings.LOOPLINE_PHOTO_MAX_BYTES, what=_("a JPEG, PNG or WebP photo")
        )
    except UploadRefused as exc:
        if exc.code == "upload_too_large":
            raise FloorError(
                _("The photo is too large (at most %(mb)s MB).")
                % {"mb": settings.LOOPLINE_PHOTO_MAX_BYTES // 1_000_000},
                code="photo_too_large",
            ) from exc
        raise FloorError(
            _("The photo is not a picture this system can read: send a JPEG, PNG or WebP photo."),
            code="photo_invalid",
        ) from exc
    try:
        photo.seek(0)
        with Image.open(photo) as image:
            image_format = image.format
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise FloorError(
            _("The photo is not a picture this system can read: send a JPEG, PNG or WebP photo."),
            code="photo_invalid",
        ) from exc
    finally:
        photo.seek(0)
    if image_format not in PHOTO_FORMATS:
        raise FloorError(_("Send the photo as JPEG, PNG or WebP."), code="photo_invalid")


def input_limit(operation: WorkOrderOperation) -> tuple[Decimal, WorkOrderOperation | None]:
    """How much this step may process in all: what the previous step delivered good, or the order's quantity
    (plus the allowed overrun) for the first step. Returns the limit and the previous step, if any."""
    previous = (
        WorkOrderOperation.objects.filter(work_order_id=operation.work_order_id, sequence__lt=operation.sequence)
        .order_by("-sequence")
        .only("good_qty", "sequence", "operation__name")
        .select_related("operation")
        .first()
    )
    if previous is not None:
        return previous.good_qty, previous
    overrun = Decimal(settings.LOOPLINE_FIRST_STEP_OVERRUN_PCT) / 100
    return operation.work_order.qty * (1 + overrun), None


def _minutes(since: datetime | None, until: datetime) -> Decimal:
    if since is None:
        return Decimal(0)
    return (Decimal((until - since).total_seconds()) / 60).quantize(Decimal("0.01"))


def _check_transition(operation: WorkOrderOperation, action: str) -> str:
    if operation.work_order.status in (WorkOrder.Status.CANCELLED, WorkOrder.Status.COMPLETED):
        raise FloorError(
            _("Work order %(number)s is %(status)s; nothing more can be reported on it.")
            % {"number": operation.work_order.number, "status": operation.work_order.get_status_display()},
            code="work_order_closed",
        )
    after = TRANSITIONS.get((action, operation.status))
    if after is None:
        raise FloorError(
            _("Cannot %(action)s: the operation is %(status)s.")
            % {"action": Action(action).label, "status": operation.get_status_display()},
            code="transition_not_allowed",
        )
    return after


def _check_quantities(operation: WorkOrderOperation, good: Decimal, scrap: Decimal, rework: Decimal) -> None:
    if good + scrap + rework == 0:
        return
    if operation.work_order.item.unit.upper() in PIECE_UNITS:
        for qty in (good, scrap, rework):
            if qty != qty.to_integral_value():
                raise FloorError(_("Pieces are counted in whole numbers."), code="qty_invalid")
    after = operation.processed_qty + good + scrap + rework
    # The previous step's good total came with the locked row (`previous_good`), read as the statement began,
    # like the one-statement path's. Reports only raise it; a correction that lowers it checks this step's
    # total first. Only a refusal reads it again: for the step's name in the message, and in case it grew.
    previous_good = getattr(operation, "previous_good", None)
    if previous_good is not None:
        limit = previous_good
    elif hasattr(operation, "previous_good"):
        limit = operation.work_order.qty * (1 + Decimal(settings.LOOPLINE_FIRST_STEP_OVERRUN_PCT) / 100)
    else:
        limit, _previous = input_limit(operation)
    if after <= limit:
        return
    limit, previous = input_limit(operation)
    if after > limit:
        left = max(limit - operation.processed_qty, Decimal(0))
        if previous is not None:
            message = _(
                "The previous step (%(step)s) has delivered %(delivered)s good; this step has processed "
                "%(done)s, so at most %(left)s more can be reported."
            ) % {
                "step": previous.operation.name,
                "delivered": f"{previous.good_qty.normalize():f}",
                "done": f"{operation.processed_qty.normalize():f}",
                "left": f"{left.normalize():f}",
            }
        else:
            message = _(
                "The work order is for %(target)s; this step has processed %(done)s, so at most %(left)s more "
                "can be reported."
            ) % {
                "target": f"{operation.work_order.qty.normalize():f}",
                "done": f"{operation.processed_qty.normalize():f}",
                "left": f"{left.normalize():f}",
            }
        raise FloorError(message, code="qty_exceeds_input", extra={"max_qty": f"{left.normalize():f}"})


def _replay(client_uuid: uuid.UUID) -> PressResult | None:
    event = ReportEvent.objects.filter(client_uuid=client_uuid).values_list("pk", "result").first()
    if event is None:
        return None
    return _replayed(*event)


def _replayed(event_id: int, result: dict) -> PressResult:
    # The answer is stored with the event as it is inserted, before its id exists: the id comes from the row.
    return PressResult(**{**result, "event_id": event_id, "duplicate": True})


def _locked_operation(operations: QuerySet, code: str, press_id: uuid.UUID) -> WorkOrderOperation | None:
    """The operation with this code, locked, with everything a press needs in the same round trip: its work
    order and item, the previous step's good total and an earlier answer to this press, if any."""
    previous = WorkOrderOperation.objects.filter(
        work_order_id=OuterRef("work_order_id"), sequence__lt=OuterRef("sequence")
    ).order_by("-sequence")
    earlier = ReportEvent.objects.filter(client_uuid=press_id)
    return (
        operations.select_for_update(of=("self",))
        .select_related("work_order__item")
        .annotate(
            previous_good=Subquery(previous.values("good_qty")[:1]),
            replay_id=Subquery(earlier.values("pk")[:1]),
            replay_result=Subquery(earlier.values("result")[:1]),
        )
        .filter(code=code)
        .first()
    )


# A report press (quantities on a running operation) is most of the floor's traffic: on PostgreSQL it is applied
# in this one statement, in autocommit, so the operation's row is locked only while PostgreSQL runs it. Every
# rule is in its WHERE: an earlier press with this UUID (answered instead, see `earlier`), the state machine
# (running, order not closed), whole pieces, and the quantity flow (what this step has processed plus this press
# within what the previous step delivered good, or the order's quantity plus the overrun at the first step).
# PostgreSQL re-checks the WHERE against the newest version of a row another press updated meanwhile, and the
# quantities are added to that version: nothing is lost. When any rule refuses, nothing is written and the press
# takes the locked path below, which says why (or applies it, if the state changed in between). A twin of this
# press committed after this statement's snapshot stops it at the unique UUID, and the twin's answer is given.
REPORT_SQL = f"""
WITH earlier AS (
    SELECT id, result FROM production_reportevent WHERE client_uuid = %(press)s
), applied AS (
    UPDATE production_workorderoperation AS o
    SET good_qty = o.good_qty + %(good)s, scrap_qty = o.scrap_qty + %(scrap)s,
        rework_qty = o.rework_qty + %(rework)s, last_event_at = %(now)s
    FROM production_workorder AS w, production_item AS i
    WHERE o.code = %(code)s AND w.id = o.work_order_id AND i.id = w.item_id
      AND NOT EXISTS (SELECT 1 FROM earlier)
      AND o.status = '{OpStatus.RUNNING}'
      AND w.status NOT IN ('{WorkOrder.Status.CANCELLED}', '{WorkOrder.Status.COMPLETED}')
      AND (%(whole)s OR upper(i.unit) <> ALL(ARRAY[{", ".join(f"'{unit}'" for unit in PIECE_UNITS)}]))
      AND o.good_qty + o.scrap_qty + o.rework_qty + %(qty)s <= COALESCE(
          (SELECT p.good_qty FROM production_workorderoperation AS p
           WHERE p.work_order_id = o.work_order_id AND p.sequence < o.sequence ORDER BY p.sequence DESC LIMIT 1),
          w.qty * %(first_step_factor)s)
    RETURNING o.id, o.code, o.status, o.good_qty, o.scrap_qty, o.rework_qty, o.labour_minutes,
              w.status AS work_order_status
), recorded AS (
    INSERT INTO production_reportevent (operation_id, operator_id, action, good_qty, scrap_qty, rework_qty, reason,
                                        note, photo, client_uuid, client_at, at, result, ip)
    SELECT id, %(operator)s, '{Action.REPORT}', %(good)s, %(scrap)s, %(rework)s, %(reason)s, %(note)s, '',
           %(press)s, %(client_at)s, %(now)s,
           jsonb_build_object('operation_code', code, 'action', '{Action.REPORT}', 'status', status,
                              'good_qty', trim_scale(good_qty)::text, 'scrap_qty', trim_scale(scrap_qty)::text,
                              'rework_qty', trim_scale(rework_qty)::text, 'labour_minutes', labour_minutes::text,
                              'work_order_status', work_order_status, 'at', %(at)s),
           %(ip)s
    FROM applied
    RETURNING id, result
)
SELECT id, result, false FROM recorded
UNION ALL
SELECT id, result, true FROM earlier
"""
# Prepared once per connection: planning this statement took longer than running it.
REPORT_STATEMENT = PreparedStatement(
    "floor_report",
    REPORT_SQL,
    {
        "press": "uuid", "code": "text", "good": "numeric", "scrap": "numeric", "rework": "numeric",
        "qty": "numeric", "now": "timestamptz", "whole": "boolean", "first_step_factor": "numeric",
        "operator": "bigint", "reason": "text", "note": "text", "client_at": "timestamptz", "at": "text",
        "ip": "inet",
    },
)  # fmt: skip


def _report_in_one_statement(
    *, code: str, operator: User, press_id: uuid.UUID, good: Decimal, scrap: Decimal, rework: Decimal,
    reason: str, note: str, client_at: datetime | None, now: datetime,
) -> PressResult | None:  # fmt: skip
    """Apply a report press with REPORT_SQL; None when a rule refuses it (nothing was written)."""
    params = {
        "press": press_id,
        "code": code,
        "good": good,
        "scrap": scrap,
        "rework": rework,
        "qty": good + scrap + rework,
        "now": now,
        "whole": all(qty == qty.to_integral_value() for qty in (good, scrap, rework)),
        "first_step_factor": 1 + Decimal(settings.LOOPLINE_FIRST_STEP_OVERRUN_PCT) / 100,
        "operator": operator.pk,
        "reason": reason[:32],
        "note": (note or "")[:500],
        "client_at": client_at,
        "at": now.isoformat(),
        "ip": current_ip.get(),
    }
    # Inside a caller's transaction the statement gets a savepoint, so a twin's unique UUID does not spoil it.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        REPORT_STATEMENT.execute(cursor, params)
        row = cursor.fetchone()
    if row is None:
        return None
    event_id, result, duplicate = row
    result = json.loads(result) if isinstance(result, str) else result
    return _replayed(event_id, result) if duplicate else PressResult(**{**result, "event_id": event_id})


def report_event_record(
    *,
    operation_code: str,
    operator: User,
    action: str,
    client_uuid: Any,
    good_qty: Any = 0,
    scrap_qty: Any = 0,
    rework_qty: Any = 0,
    reason: str = "",
    note: str = "",
    photo: UploadedFile | None = None,
    client_at: datetime | None = None,
    now: datetime | None = None,
    operations: QuerySet[WorkOrderOperation] | None = None,
) -> PressResult:
    """Apply one press (start, pause, resume, report, complete) to an operation; a repeated UUID changes nothing.

    `operations` are the ones the caller may press on (all by default); another code is unknown.
    """
    press_id = parse_client_uuid(client_uuid)
    if action not in Action.values:
        raise FloorError(_("Unknown action."), code="action_invalid")
    good = parse_qty(good_qty, _("Good quantity"))
    scrap = parse_qty(scrap_qty, _("Scrap quantity"))
    rework = parse_qty(rework_qty, _("Rework quantity"))
    if action not in (Action.REPORT, Action.COMPLETE) and good + scrap + rework:
        raise FloorError(_("Quantities are reported with Report or Complete."), code="qty_not_expected")
    if action == Action.PAUSE and reason not in PauseReason.values:
        raise FloorError(_("Choose why the operation is paused."), code="reason_required")
    if scrap and reason not in ScrapReason.values:
        raise FloorError(_("Choose the reason for the scrap."), code="reason_required")
    check_photo(photo)
    code = (operation_code or "").strip().upper()
    try:
        if (
            action == Action.REPORT
            and photo is None
            and connection.vendor == "postgresql"
            and (operations is None or not operations.query.has_filters())
        ):
            result = _report_in_one_statement(
                code=code, operator=operator, press_id=press_id, good=good, scrap=scrap, rework=rework,
                reason=reason, note=note, client_at=client_at, now=now or timezone.now(),
            )  # fmt: skip
            if result is not None:
                return result
        with transaction.atomic():
            # One round trip takes the lock and finds an earlier answer; the lock is held only for the insert
            # of the event and the update of the operation that follow. A twin of this press that commits while
            # this one waits for the lock is not in that snapshot: its unique UUID stops the insert below.
            operation = _locked_operation(
                WorkOrderOperation.objects.all() if operations is None else operations, code, press_id
            )
            if operation is None:
                raise FloorError(_("No operation has the code %(code)s.") % {"code": code[:40]}, code="unknown_code")
            if operation.replay_id is not None:
                return _replayed(operation.replay_id, operation.replay_result)
            result = _apply(operation, operator, action, press_id, good, scrap, rework, reason, note, photo,
                            client_at, now or timezone.now())  # fmt: skip
    except IntegrityError:
        replay = _replay(press_id)
        if replay is None:
            raise
        return replay
    return result


def _apply(operation, operator, action, press_id, good, scrap, rework, reason, note, photo, client_at, now):
    after = _check_transition(operation, action)
    _check_quantities(operation, good, scrap, rework)
    before = operation.status
    changes: dict[str, Any] = {"status": after, "last_event_at": now}
    if action == Action.START:
        operation.actual_start = changes["actual_start"] = operation.actual_start or now
        operation.running_since = changes["running_since"] = now
    elif action == Action.RESUME:
        operation.running_since = changes["running_since"] = now
    elif action in (Action.PAUSE, Action.COMPLETE) and before == OpStatus.RUNNING:
        worked = _minutes(operation.running_since, now)
        operation.labour_minutes += worked
        changes["labour_minutes"] = F("labour_minutes") + worked
        operation.running_since = changes["running_since"] = None
    if action == Action.COMPLETE:
        operation.actual_end = changes["actual_end"] = now
    for field, qty in (("good_qty", good), ("scrap_qty", scrap), ("rework_qty", rework)):
        if qty:
            setattr(operation, field, getattr(operation, field) + qty)
            # Relative to the row, not to what was read: right even if the lock were ever forgotten.
            changes[field] = F(field) + qty
    operation.status = after
    operation.last_event_at = now
    work_order = operation.work_order
    new_status = work_order.status
    if action == Action.START and work_order.status == WorkOrder.Status.PLANNED:
        new_status = WorkOrder.Status.IN_PROGRESS
    if (
        action == Action.COMPLETE
        and not work_order.operations.exclude(pk=operation.pk).exclude(status=OpStatus.DONE).exists()
    ):
        new_status = WorkOrder.Status.COMPLETED
    if new_status != work_order.status:
        WorkOrder.objects.filter(pk=work_order.pk).update(status=new_status)
        work_order.status = new_status
    result = PressResult(
        event_id=0,
        operation_code=operation.code,
        action=action,
        status=operation.status,
        good_qty=f"{operation.good_qty.normalize():f}",
        scrap_qty=f"{operation.scrap_qty.normalize():f}",
        rework_qty=f"{operation.rework_qty.normalize():f}",
        labour_minutes=f"{operation.labour_minutes:f}",
        work_order_status=work_order.status,
        at=now.isoformat(),
    )
    answer = result.as_dict()
    del answer["event_id"], answer["duplicate"]
    event = ReportEvent(
        operation=operation,
        operator=operator,
        action=action,
        good_qty=good,
        scrap_qty=scrap,
        rework_qty=rework,
        reason=reason[:32],
        note=(note or "")[:500],
        client_uuid=press_id,
        client_at=client_at,
        at=now,
        result=answer,
        ip=current_ip.get(),
    )
    if photo is not None:
        event.photo.save(f"{press_id}.{(photo.name or 'photo.jpg').rsplit('.', 1)[-1][:5]}", photo, save=False)
    # The event first: a twin press that got here first stops this one at the unique UUID before the
    # operation changes.
    event.save()
    WorkOrderOperation.objects.filter(pk=operation.pk).update(**changes)
    result.event_id = event.pk
    return result


def downtime_start(
    *,
    work_center_code: str,
    reason: str,
    operator: User,
    client_uuid: Any,
    note: str = "",
    photo: UploadedFile | None = None,
    now: datetime | None = None,
) -> Downtime:
    """Report that a work centre stopped, and why; a second report while it is down returns the open one."""
    press_id = parse_client_uuid(client_uuid)
    existing = Downtime.objects.filter(client_uuid=press_id).first()
    if existing is not None:
        return existing
    if reason not in DowntimeReason.values:
        raise FloorError(_("Choose why the work centre stopped."), code="reason_required")
    check_photo(photo)
    work_center = WorkCenter.objects.filter(code=(work_center_code or "").strip().upper()).first()
    if work_center is None:
        raise FloorError(
            _("No work centre has the code %(code)s.") % {"code": work_center_code[:40]}, code="unknown_code"
        )
    try:
        with transaction.atomic():
            open_downtime = Downtime.objects.select_for_update().filter(work_center=work_center, ended_at__isnull=True)
            if open_downtime.exists():
                return open_downtime.get()
            downtime = Downtime(
                work_center=work_center,
                reason=reason,
                note=(note or "")[:500],
                started_at=now or timezone.now(),
                reported_by=operator,
                client_uuid=press_id,
            )
            if photo is not None:
                downtime.photo.save(f"{press_id}.jpg", photo, save=False)
            downtime.save()
            audit_record(
                actor=operator,
                verb="downtime.start",
                obj=downtime,
                changes={"work_center": work_center.code, "reason": reason},
            )
            return downtime
    except IntegrityError:  # a twin press, or another tablet reporting the same stop at the same moment
        return Downtime.objects.filter(
            Q(client_uuid=press_id) | Q(work_center=work_center, ended_at__isnull=True)
        ).first()


def downtime_end(*, work_center_code: str, operator: User, client_uuid: Any, now: datetime | None = None) -> Downtime:
    """The work centre runs again; ends its open downtime (a repeated press returns the same record)."""
    press_id = parse_client_uuid(client_uuid)
    done = Downtime.objects.filter(end_client_uuid=press_id).first()
    if done is not None:
        return done
    with transaction.atomic():
        downtime = (
            Downtime.objects.select_for_update()
            .filter(work_center__code=(work_center_code or "").strip().upper(), ended_at__isnull=True)
            .first()
        )
        if downtime is None:
            raise FloorError(_("This work centre is not stopped."), code="not_stopped")
        downtime.ended_at = max(now or timezone.now(), downtime.started_at)
        downtime.ended_by = operator
        downtime.end_client_uuid = press_id
        downtime.save(update_fields=["ended_at", "ended_by", "end_client_uuid"])
        audit_record(actor=operator, verb="downtime.end", obj=downtime, changes={"ended_at": downtime.ended_at})
        return downtime
