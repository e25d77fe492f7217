"""The alert rules: each looks at the floor, the orders or the integrations and says what is wrong right now.

A rule returns findings (conditions that hold now) and the dedupe keys it checked and found clear; the services
turn that into alerts: a new finding opens an alert and notifies, a repeated one updates the open alert and
notifies nobody, a cleared key resolves its alert by itself. Each rule runs a fixed number of queries.

Definitions (also on the rules page):
- Stalled operation: running or paused, and no report for more than `threshold` hours (the last press, or the
  start if there was none). It clears with the next press, or when the operation is done.
- Daily completion of a team or workshop, judged at `check_hour` each day: good quantity reported on the
  operations planned to end today up to that hour (each counted at most up to its work order's quantity), divided
  by those operations' work-order quantity; trial runs and cancelled work orders are left out. A day with no such
  operations is not judged and neither breaks nor extends a streak. Below `threshold` % opens (or keeps) the
  alert and counts a day; `escalate_after_days` working days in a row escalate to the production manager. A day
  at or above the threshold resolves it.
- Order at risk: a confirmed or in-production order with a promised date whose projected finish (the latest
  planned end of its unfinished operations, or now if that has passed) leaves less than `threshold` days before
  the promised date; a confirmed order not yet released is at risk once its promised date is that close.
- Sync failing: the last `threshold` finished runs of an enabled shop, or of one kind of pull from an enabled
  ERP connection (materials, stock, BOMs, outbound), all failed (connection tests and runs
  skipped for overlap do not count). It clears with the next run that is not a failure.
- ERP pushes failed: at least `threshold` orders sit in the ERP outbox as dead letters waiting for IT.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Max, Q, Sum, Window
from django.db.models.functions import Coalesce, Least, RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dashboards.models import Alert, AlertKind, AlertRule
from integrations.models import SyncRun
from orders.models import ErpPush, SalesOrder
from production.models import WorkOrder, WorkOrderOperation

Subject = Alert.SubjectType
OpStatus = WorkOrderOperation.Status


@dataclass
class Finding:
    """A condition that holds now, for one subject."""

    dedupe_key: str
    subject_type: str
    subject_id: str
    subject_label: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    team_id: int | None = None
    workshop_id: int | None = None
    # Daily completion: the day judged below the threshold (counts towards escalation once per day).
    breach_date: date | None = None


@dataclass
class Evaluation:
    """What one rule found: the conditions that hold, and which other keys it checked and found clear."""

    findings: list[Finding]
    # None: every unresolved alert of the kind that is not among the findings has cleared.
    cleared_keys: set[str] | None = None


def dedupe_key(kind: str, subject_type: str, subject_id: Any) -> str:
    return f"{kind}:{subject_type}:{subject_id}"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


def stalled_operations(rule: AlertRule, now: datetime) -> Evaluation:
    """Running or paused operations without a press for longer than the threshold."""
    cutoff = now - timedelta(hours=float(rule.threshold))
    rows = (
        WorkOrderOperation.objects.filter(status__in=[OpStatus.RUNNING, OpStatus.PAUSED])
        .exclude(work_order__status__in=[WorkOrder.Status.COMPLETED, WorkOrder.Status.CANCELLED])
        .annotate(quiet_since=Coalesce("last_event_at", "actual_start"))
        .filter(quiet_since__lt=cutoff)
        .values(
            "id",
            "code",
            "sequence",
            "status",
            "quiet_since",
            "work_order__number",
            "operation__name",
            "work_center__code",
            "work_center__team_id",
            "work_center__workshop_id",
        )
    )
    findings = []
    for row in rows:
        label = f"{row['work_order__number']} #{row['sequence']} {row['operation__name']}"
        status = str(OpStatus(row["status"]).label)
        findings.append(
            Finding(
                dedupe_key=dedupe_key(AlertKind.OPERATION_STALLED, Subject.OPERATION, row["id"]),
                subject_type=Subject.OPERATION,
                subject_id=str(row["id"]),
                subject_label=label,
                message=_("%(label)s at %(wc)s: no report for %(hours)s h (%(status)s).")
                % {
                    "label": label,
                    "wc": row["work_center__code"],
                    "hours": _hours(now - row["quiet_since"]),
                    "status": status,
                },
                data={"operation_code": row["code"], "quiet_since": row["quiet_since"].isoformat()},
                team_id=row["work_center__team_id"],
                workshop_id=row["work_center__workshop_id"],
            )
        )
    return Evaluation(findings)


def completion_window(rule: AlertRule, now: datetime) -> tuple[datetime, datetime] | None:
    """Today's judged window [midnight, check hour], or None before the check hour."""
    local = timezone.localtime(now)
    check_hour = rule.check_hour if rule.check_hour is not None else 17
    if local.hour < check_hour:
        return None
    day_start = timezone.make_aware(datetime.combine(local.date(), time.min))
    return day_start, day_start + timedelta(hours=check_hour)


QTY_PLACES = Decimal("0.001")


def daily_completion(rule: AlertRule, now: datetime) -> Evaluation:
    """Teams and workshops below the threshold today, judged from the check hour on."""
    window = completion_window(rule, now)
    if window is None:
        return Evaluation([], cleared_keys=set())
    start, end = window
    today = timezone.localtime(now).date()
    operations = (
        WorkOrderOperation.objects.filter(planned_end__gte=start, planned_end__lte=end)
        .exclude(work_order__status=WorkOrder.Status.CANCELLED)
        .exclude(work_order__kind=WorkOrder.Kind.TRIAL)
    )
    sums = {
        "planned": Sum("work_order__qty"),
        "good": Sum(Least("good_qty", "work_order__qty")),
        "operations": Count("id"),
    }
    groups = [
        (Subject.TEAM, "work_center__team_id", "work_center__team__name"),
        (Subject.WORKSHOP, "work_center__workshop_id", "work_center__workshop__name"),
    ]
    threshold = Decimal(rule.threshold)
    findings: list[Finding] = []
    cleared: set[str] = set()
    for subject_type, id_field, name_field in groups:
        rows = operations.filter(**{f"{id_field}__isnull": False}).values(id_field, name_field).annotate(**sums)
        for row in rows:
            if not row["planned"]:
                continue
            pct = (Decimal(row["good"] or 0) * 100 / Decimal(row["planned"])).quantize(Decimal("0.1"))
            key = dedupe_key(AlertKind.LOW_DAILY_COMPLETION, subject_type, row[id_field])
            if pct >= threshold:
                cleared.add(key)
                continue
            findings.append(
                Finding(
                    dedupe_key=key,
                    subject_type=subject_type,
                    subject_id=str(row[id_field]),
                    subject_label=row[name_field],
                    message=_(
                        "%(name)s completed %(pct)s%% of today's plan by %(hour)s:00 (threshold %(threshold)s%%)."
                    )
                    % {
                        "name": row[name_field],
                        "pct": pct,
                        "hour": f"{timezone.localtime(end).hour:02d}",
                        "threshold": f"{threshold:g}",
                    },
                    data={
                        "date": today.isoformat(),
                        "completion_pct": str(pct),
                        # SQLite sums decimals without their scale; three places, as the fields store them.
                        "good_qty": str(Decimal(row["good"] or 0).quantize(QTY_PLACES)),
                        "planned_qty": str(Decimal(row["planned"]).quantize(QTY_PLACES)),
                        "operations": row["operations"],
                    },
                    team_id=row[id_field] if subject_type == Subject.TEAM else None,
                    workshop_id=row[id_field] if subject_type == Subject.WORKSHOP else None,
                    breach_date=today,
                )
            )
    return Evaluation(findings, cleared_keys=cleared)


def orders_at_risk(rule: AlertRule, now: datetime) -> Evaluation:
    """Orders whose projected finish leaves less than the lead before their promised date."""
    lead = timedelta(days=float(rule.threshold))
    today = timezone.localtime(now).date()
    active = [SalesOrder.Status.CONFIRMED, SalesOrder.Status.IN_PRODUCTION]
    projected = (
        WorkOrderOperation.objects.filter(
            work_order__order_line__order__status__in=active,
            work_order__order_line__order__promised_date__isnull=False,
        )
        .exclude(status=OpStatus.DONE)
        .exclude(work_order__status=WorkOrder.Status.CANCELLED)
        .values("work_order__order_line__order_id")
        .annotate(finish=Max("planned_end"))
        .values_list("work_order__order_line__order_id", "finish")
    )
    finish_by_order = dict(projected)
    # Every active order with a promised date (a few thousand rows at most): cheaper than an IN list of ids.
    orders = SalesOrder.objects.filter(status__in=active, promised_date__isnull=False)
    released = set(
        WorkOrder.objects.filter(order_line__order__status__in=active, order_line__order__promised_date__isnull=False)
        .values_list("order_line__order_id", flat=True)
        .distinct()
    )
    findings = []
    for order_id, number, promised, status in orders.values_list("id", "number", "promised_date", "status"):
        latest_ok = timezone.make_aware(datetime.combine(promised, time.min)) - lead + timedelta(days=1)
        if order_id in finish_by_order:
            finish = max(finish_by_order[order_id] or now, now)
            if finish < latest_ok:
                continue
            message = _("Order %(number)s is projected to finish %(finish)s, promised for %(promised)s.") % {
                "number": number,
                "finish": f"{timezone.localtime(finish):%Y-%m-%d %H:%M}",
                "promised": promised.isoformat(),
            }
            data = {"promised_date": promised.isoformat(), "projected_finish": finish.isoformat()}
        elif order_id not in released and status == SalesOrder.Status.CONFIRMED and promised <= today + lead:
            message = _("Order %(number)s is promised for %(promised)s and not yet released to production.") % {
                "number": number,
                "promised": promised.isoformat(),
            }
            data = {"promised_date": promised.isoformat(), "projected_finish": None}
        else:
            continue  # released and every operation done: it is waiting to ship, not at risk
        findings.append(
            Finding(
                dedupe_key=dedupe_key(AlertKind.ORDER_AT_RISK, Subject.SALES_ORDER, order_id),
                subject_type=Subject.SALES_ORDER,
                subject_id=str(order_id),
                subject_label=number,
                message=message,
                data=data,
            )
        )
    return Evaluation(findings)


def failing_syncs(rule: AlertRule, now: datetime) -> Evaluation:
    """Shops, and each kind of ERP pull, whose last N finished runs all failed."""
    needed = max(1, int(rule.threshold))
    runs = (
        SyncRun.objects.filter(Q(account__enabled=True) | Q(erp_connection__enabled=True))
        .exclude(status__in=[SyncRun.Status.RUNNING, SyncRun.Status.SKIPPED])
        .exclude(trigger=SyncRun.Trigger.TEST)
        .annotate(
            recent=Window(
                RowNumber(),
                partition_by=[F("account_id"), F("erp_connection_id"), F("kind")],
                order_by=[F("started_at").desc(), F("id").desc()],
            )
        )
        .filter(recent__lte=needed)
        .values("account_id", "account__name", "erp_connection_id", "erp_connection__name", "kind", "status",
                "errors", "started_at")
        .order_by("account_id", "erp_connection_id", "kind", "recent")
    )  # fmt: skip
    by_source: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        by_source[(run["account_id"], run["erp_connection_id"], run["kind"])].append(run)
    findings = []
    for (account_id, connection_id, kind), recent in by_source.items():
        if len(recent) < needed or any(run["status"] != SyncRun.Status.FAILED for run in recent):
            continue
        errors = recent[0]["errors"] or []
        last_error = errors[-1] if errors and isinstance(errors[-1], dict) else {}
        if account_id is not None:
            subject_type, subject_id, name = Subject.CHANNEL_ACCOUNT, str(account_id), recent[0]["account__name"]
        else:
            subject_type, subject_id = Subject.ERP_SYNC, f"{connection_id}:{kind}"
            name = f"{recent[0]['erp_connection__name']} · {SyncRun.Kind(kind).label}"
        findings.append(
            Finding(
                dedupe_key=dedupe_key(AlertKind.SYNC_FAILING, subject_type, subject_id),
                subject_type=subject_type,
                subject_id=subject_id,
                subject_label=name,
                message=_("The last %(count)s syncs of %(name)s failed; last error: %(error)s")
                % {
                    "count": needed,
                    "name": name,
                    "error": f"{last_error.get('code', '')} {last_error.get('message', '')}".strip() or "-",
                },
                data={"runs": needed, "last_error": last_error, "last_run_at": recent[0]["started_at"].isoformat()},
            )
        )
    return Evaluation(findings)


def dead_erp_pushes(rule: AlertRule, now: datetime) -> Evaluation:
    """Orders the ERP refused for good, waiting in the outbox for IT."""
    dead = list(
        ErpPush.objects.filter(status=ErpPush.Status.DEAD)
        .order_by("created_at")
        .values_list("order__number", "last_error_code")[:200]
    )
    if len(dead) < max(1, int(rule.threshold)):
        return Evaluation([])
    numbers = [number for number, _code in dead]
    message = _("%(count)s orders could not be pushed into the ERP and wait for IT: %(numbers)s") % {
        "count": len(dead),
        "numbers": ", ".join(numbers[:10]) + (" …" if len(numbers) > 10 else ""),
    }
    return Evaluation(
        [
            Finding(
                dedupe_key=dedupe_key(AlertKind.ERP_PUSH_DEAD, Subject.ERP_OUTBOX, "erp"),
                subject_type=Subject.ERP_OUTBOX,
                subject_id="erp",
                subject_label="ERP",
                message=message,
                data={"count": len(dead), "orders": numbers[:50]},
            )
        ]
    )


RULES = {
    AlertKind.OPERATION_STALLED: stalled_operations,
    AlertKind.LOW_DAILY_COMPLETION: daily_completion,
    AlertKind.ORDER_AT_RISK: orders_at_risk,
    AlertKind.SYNC_FAILING: failing_syncs,
    AlertKind.ERP_PUSH_DEAD: dead_erp_pushes,
}


def evaluate(rule: AlertRule, now: datetime) -> Evaluation:
    """Run one rule; messages are written in the site's language (they go out by SMS and robot as they are)."""
    with translation.override(settings.LANGUAGE_CODE):
        return RULES[rule.kind](rule, now)
