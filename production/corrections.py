"""Corrections of what the floor reported: the quantities of one press, and a downtime's reason and times.

Who may correct what: holders of production.correct_reportevent (the production manager) at every work centre;
holders of production.correct_team_reportevent (team leaders) only at the work centres of the teams they lead
(Team.leader, the same link that routes a team's alerts to its leader). A press or downtime outside that scope
is as absent as one that does not exist. A press is never edited: a ReportCorrection records the differences,
and the operation's totals move by them, in one locked transaction with an AuditEvent.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import DecimalField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from production.floor import FloorError, input_limit
from production.models import Downtime, ReportCorrection, ReportEvent, WorkCenter, WorkOrderOperation
from production.models.execution import DowntimeReason

CORRECT_ANY = "production.correct_reportevent"
CORRECT_TEAM = "production.correct_team_reportevent"
QTY_FIELDS = ("good_qty", "scrap_qty", "rework_qty")
CORRECTION_REACH = timedelta(days=31)  # how far back a downtime may be moved


class NotCorrectable(FloorError):
    code = "not_found"
    status = 404


def correctable_work_centers(user: User) -> QuerySet[WorkCenter]:
    """The work centres whose reports and downtime `user` may correct."""
    if not user.is_authenticated or not user.is_active:
        return WorkCenter.objects.none()
    if user.has_perm(CORRECT_ANY):
        return WorkCenter.objects.all()
    if user.has_perm(CORRECT_TEAM):
        return WorkCenter.objects.filter(team__leader=user)
    return WorkCenter.objects.none()


def may_correct(user: User) -> bool:
    """Whether the correction endpoints open for `user` at all (the objects are then restricted)."""
    return user.is_authenticated and (user.has_perm(CORRECT_ANY) or user.has_perm(CORRECT_TEAM))


def correctable_events(user: User) -> QuerySet[ReportEvent]:
    return ReportEvent.objects.filter(operation__work_center__in=correctable_work_centers(user))


def correctable_downtimes(user: User) -> QuerySet[Downtime]:
    return Downtime.objects.filter(work_center__in=correctable_work_centers(user))


ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=3))


def correction_candidates(*, user: User, work_order: str = "", limit: int = 100) -> list[ReportEvent]:
    """The latest presses with quantities `user` may correct, each with what it counts for now (`good_now`,
    `scrap_now`, `rework_now`: reported plus corrections), in one query."""
    events = (
        correctable_events(user)
        .filter(action__in=[ReportEvent.Action.REPORT, ReportEvent.Action.COMPLETE])
        .select_related("operation__work_order", "operation__work_center", "operator")
        .annotate(
            good_now=F("good_qty") + Coalesce(Sum("corrections__good_delta"), ZERO),
            scrap_now=F("scrap_qty") + Coalesce(Sum("corrections__scrap_delta"), ZERO),
            rework_now=F("rework_qty") + Coalesce(Sum("corrections__rework_delta"), ZERO),
        )
        .defer("result")
        .order_by("-at", "-id")
    )
    if work_order:
        events = events.filter(operation__work_order__number=work_order)
    return list(events[:limit])


def _scoped(queryset: QuerySet, pk: int, message: str):
    # Locked and re-checked in the same transaction: the scope is what it is when the correction is written.
    try:
        return queryset.select_for_update(of=("self",)).get(pk=pk)
    except queryset.model.DoesNotExist as exc:
        raise NotCorrectable(message % {"id": pk}) from exc


def event_quantities(event: ReportEvent) -> dict[str, Decimal]:
    """What the press counts for now: its reported quantities plus every correction of it."""
    deltas = event.corrections.aggregate(
        good_qty=Sum("good_delta"), scrap_qty=Sum("scrap_delta"), rework_qty=Sum("rework_delta")
    )
    return {name: getattr(event, name) + (deltas[name] or 0) for name in QTY_FIELDS}


@transaction.atomic
def report_event_correct(
    *, event_id: int, by: User, good_qty: Decimal, scrap_qty: Decimal, rework_qty: Decimal, reason: str
) -> ReportCorrection:
    """Set what press `event_id` should have reported; the operation's totals move by the difference.

    Refused when the reason is missing, when the step would then have processed more than it received, or when
    it would keep fewer good pieces than the next step has already processed.
    """
    if len(reason.strip()) < 4:
        raise FloorError(_("Say why the report is corrected (at least 4 characters)."), code="reason_required")
    event = _scoped(correctable_events(by), event_id, _("No report event %(id)s that you may correct."))
    operation = WorkOrderOperation.objects.select_for_update().select_related("work_order").get(pk=event.operation_id)
    now_counted = event_quantities(event)
    wanted = {"good_qty": good_qty, "scrap_qty": scrap_qty, "rework_qty": rework_qty}
    deltas = {name: wanted[name] - now_counted[name] for name in QTY_FIELDS}
    if not any(deltas.values()):
        raise FloorError(_("The corrected quantities are the ones already counted."), code="unchanged")
    totals = {name: getattr(operation, name) + deltas[name] for name in QTY_FIELDS}
    limit, _previous = input_limit(operation)
    if sum(totals.values()) > limit:
        raise FloorError(
            _("The step would have processed %(total)s but received only %(limit)s.")
            % {"total": f"{sum(totals.values()).normalize():f}", "limit": f"{limit.normalize():f}"},
            code="qty_exceeds_input",
        )
    following = (
        WorkOrderOperation.objects.filter(work_order_id=operation.work_order_id, sequence__gt=operation.sequence)
        .order_by("sequence")
        .first()
    )
    if following is not None and totals["good_qty"] < following.processed_qty:
        raise FloorError(
            _("The next step has already processed %(qty)s; this step cannot keep fewer good pieces.")
            % {"qty": f"{following.processed_qty.normalize():f}"},
            code="qty_below_next_step",
        )
    for name, value in totals.items():
        setattr(operation, name, value)
    operation.save(update_fields=list(QTY_FIELDS))
    correction = ReportCorrection.objects.create(
        event=event,
        good_delta=deltas["good_qty"],
        scrap_delta=deltas["scrap_qty"],
        rework_delta=deltas["rework_qty"],
        reason=reason.strip(),
        by=by,
    )
    audit_record(
        actor=by,
        verb="report_event.correct",
        obj=event,
        changes={
            **{name: [str(now_counted[name]), str(wanted[name])] for name in QTY_FIELDS if deltas[name]},
            "operation": operation.code,
            "reason": reason.strip(),
        },
    )
    return correction


@transaction.atomic
def downtime_correct(
    *,
    downtime_id: int,
    by: User,
    reason: str | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    note: str | None = None,
) -> Downtime:
    """Correct a downtime's reason, note or times (e.g. a stop reported late); the old values are audited."""
    downtime = _scoped(correctable_downtimes(by), downtime_id, _("No downtime %(id)s that you may correct."))
    if reason is not None and reason not in DowntimeReason.values:
        raise FloorError(_("Choose a downtime reason from the list."), code="reason_required")
    wanted = {"reason": reason, "started_at": started_at, "ended_at": ended_at, "note": note}
    changes = {}
    for name, value in wanted.items():
        if value is not None and value != getattr(downtime, name):
            changes[name] = [str(getattr(downtime, name)), str(value)]
            setattr(downtime, name, value)
    if not changes:
        raise FloorError(_("Nothing to correct: give a new reason, note or time."), code="unchanged")
    if downtime.ended_at is not None and downtime.ended_at < downtime.started_at:
        raise FloorError(_("A downtime cannot end before it started."), code="invalid")
    if downtime.started_at > timezone.now() or (downtime.ended_at and downtime.ended_at > timezone.now()):
        raise FloorError(_("A downtime cannot be corrected into the future."), code="invalid")
    # A correction is for a stop reported late or ended late, not for rewriting last year.
    if downtime.started_at < timezone.now() - CORRECTION_REACH:
        raise FloorError(
            _("A downtime can be corrected to start at most %(days)s days ago.") % {"days": CORRECTION_REACH.days},
            code="invalid",
        )
    downtime.save(update_fields=[name for name in wanted if name in changes])
    audit_record(actor=by, verb="downtime.correct", obj=downtime, changes=changes)
    return downtime
