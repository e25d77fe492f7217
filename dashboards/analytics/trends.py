"""Trend KPIs per week and per month: order processing time, error-order rate, plan achievement, sync pull
success, ERP-vs-WMS deviation and labour minutes per unit, each with its definition.

Weeks start on Monday and months on the 1st, in Asia/Shanghai. One query per KPI serves both series.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils.translation import gettext_lazy as _

from config.db_router import read_database
from dashboards.analytics.load import day_start
from integrations.models import SyncRun
from integrations.reconciliation import deviation_rate_by_period
from orders.models import ErpPush, SalesOrder
from production.models import WorkOrder, WorkOrderOperation
from production.scheduling import FACTORY_TZ

KPI_WEEKS = 12
KPI_MONTHS = 12
# Trend KPIs move slowly: a minute-old figure is fine, and the page then costs one cache read.
KPI_CACHE_SECONDS = 60


@dataclass
class KpiPoint:
    """One period of a KPI: its start, the value, and what it was computed from."""

    period_start: date
    value: float | None
    numerator: float = 0.0
    denominator: float = 0.0


@dataclass
class Kpi:
    """One KPI with its definition and a point per week and per month."""

    code: str
    name: str
    unit: str
    definition: str
    higher_is_better: bool
    weekly: list[KpiPoint] = field(default_factory=list)
    monthly: list[KpiPoint] = field(default_factory=list)

    def points(self, period: str) -> list[KpiPoint]:
        return self.weekly if period == "week" else self.monthly


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def kpi_periods(today: date, *, weeks: int = KPI_WEEKS, months: int = KPI_MONTHS) -> tuple[list[date], list[date]]:
    """The starts of the last `weeks` weeks (Mondays) and `months` months, oldest first, the current one last."""
    this_week, this_month = week_start(today), month_start(today)
    return (
        [this_week - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)],
        [_add_months(this_month, -n) for n in range(months - 1, -1, -1)],
    )


def _bucketed(queryset: QuerySet, moment: str, since: datetime, until: datetime, **aggregates) -> list[dict]:
    """Aggregates per (week, month) of `moment`: one query serves both the weekly and the monthly series."""
    return list(
        queryset.using(read_database())
        .filter(**{f"{moment}__gte": since, f"{moment}__lt": until})
        .annotate(week=TruncWeek(moment, tzinfo=FACTORY_TZ), month=TruncMonth(moment, tzinfo=FACTORY_TZ))
        .order_by()
        .values("week", "month")
        .annotate(**aggregates)
    )


def _as_date(value: date | datetime) -> date:
    return value.astimezone(FACTORY_TZ).date() if isinstance(value, datetime) else value


def _series(
    rows: list[dict], starts: list[date], key: str, numerator: str, denominator: str, scale: float
) -> list[KpiPoint]:
    sums: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows:
        bucket = sums[_as_date(row[key])]
        bucket[0] += _number(row[numerator])
        bucket[1] += _number(row[denominator])
    points = []
    for start in starts:
        num, den = sums.get(start, [0.0, 0.0])
        points.append(KpiPoint(start, round(num / den * scale, 2) if den else None, round(num, 4), round(den, 4)))
    return points


def _number(value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _kpi_rows(since: datetime, until: datetime, now: datetime) -> dict[str, tuple[list[dict], str, str, float]]:
    done = ErpPush.Status.DONE
    processing = _bucketed(
        SalesOrder.objects.filter(erp_push__status=done, erp_push__pushed_at__isnull=False),
        "erp_push__pushed_at",
        since,
        until,
        total=Sum(
            ExpressionWrapper(F("erp_push__pushed_at") - F("received_at"), output_field=DurationField()),
        ),
        orders=Count("id"),
    )
    errors = _bucketed(
        SalesOrder.objects.all(),
        "received_at",
        since,
        until,
        with_issue=Count("id", filter=Q(issues__isnull=False), distinct=True),
        orders=Count("id", distinct=True),
    )
    plan = _bucketed(
        WorkOrderOperation.objects.filter(planned_end__lte=now).exclude(work_order__status=WorkOrder.Status.CANCELLED),
        "planned_end",
        since,
        until,
        on_time=Count("id", filter=Q(status=WorkOrderOperation.Status.DONE, actual_end__lte=F("planned_end"))),
        planned=Count("id"),
    )
    pulls = _bucketed(
        SyncRun.objects.exclude(trigger=SyncRun.Trigger.TEST).exclude(
            status__in=[SyncRun.Status.SKIPPED, SyncRun.Status.RUNNING]
        ),
        "started_at",
        since,
        until,
        succeeded=Count("id", filter=Q(status=SyncRun.Status.SUCCEEDED)),
        runs=Count("id"),
    )
    labour = _bucketed(
        WorkOrderOperation.objects.filter(status=WorkOrderOperation.Status.DONE, actual_end__isnull=False).exclude(
            work_order__kind=WorkOrder.Kind.TRIAL
        ),
        "actual_end",
        since,
        until,
        minutes=Sum("labour_minutes"),
        good=Sum("good_qty"),
    )
    # The reconciliation owns the definition; its per-day totals are additive, so one call serves weeks and months.
    deviation = [
        {
            "week": week_start(row["period_start"]),
            "month": month_start(row["period_start"]),
            "difference": row["abs_difference"],
            "erp": row["erp_qty"],
        }
        for row in deviation_rate_by_period(_as_date(since), _as_date(until) - timedelta(days=1), "day")
        if row["erp_qty"] or row["abs_difference"]
    ]
    return {
        "erp_wms_deviation_rate": (deviation, "difference", "erp", 100.0),
        "order_processing_hours": (processing, "total", "orders", 1 / 3600),
        "error_order_rate": (errors, "with_issue", "orders", 100.0),
        "plan_achievement_rate": (plan, "on_time", "planned", 100.0),
        "sync_success_rate": (pulls, "succeeded", "runs", 100.0),
        "labour_minutes_per_unit": (labour, "minutes", "good", 1.0),
    }


KPI_DEFINITIONS = [
    (
        "order_processing_hours",
        _("Order processing time"),
        _("h"),
        _(
            "Average hours from an order's arrival in Loopline to its sales order being saved in the ERP, over the "
            "orders that reached the ERP in the period."
        ),
        False,
    ),
    (
        "error_order_rate",
        _("Error-order rate"),
        "%",
        _("Orders received in the period that raised at least one issue ÷ orders received in the period."),
        False,
    ),
    (
        "plan_achievement_rate",
        _("Plan achievement rate"),
        "%",
        _(
            "Operations completed by their planned end ÷ operations planned to end in the period (up to now; "
            "cancelled work orders left out)."
        ),
        True,
    ),
    (
        "sync_success_rate",
        _("Sync pull success rate"),
        "%",
        _(
            "Marketplace pulls that succeeded ÷ pulls started in the period; connection tests and polls skipped "
            "for a running one are left out, a partly failed pull counts as not succeeded."
        ),
        True,
    ),
    (
        "erp_wms_deviation_rate",
        _("ERP-vs-WMS deviation rate"),
        "%",
        _(
            "Σ |ERP outbound quantity − WMS shipped quantity| per item and day ÷ Σ ERP outbound quantity, over the "
            "days of the period (as on the reconciliation page); opposite differences do not cancel out."
        ),
        False,
    ),
    (
        "labour_minutes_per_unit",
        _("Labour minutes per unit"),
        _("min"),
        _(
            "Labour minutes booked on the operations completed in the period ÷ their good quantity; trial runs "
            "are left out."
        ),
        False,
    ),
]


def _kpi_window(now: datetime, weeks: int, months: int) -> tuple[list[date], list[date], datetime, datetime, str]:
    week_starts, month_starts = kpi_periods(now.astimezone(FACTORY_TZ).date(), weeks=weeks, months=months)
    since = day_start(min(week_starts[0], month_starts[0]))
    until = day_start(max(week_starts[-1] + timedelta(days=7), _add_months(month_starts[-1], 1)))
    return week_starts, month_starts, since, until, f"analytics:kpis:v1:{since:%Y%m%d}:{until:%Y%m%d}"


def kpis_forget(*, now: datetime, weeks: int = KPI_WEEKS, months: int = KPI_MONTHS) -> None:
    """Drop the cached KPI rows, so the next read computes them afresh."""
    cache.delete(_kpi_window(now, weeks, months)[-1])


def kpis(*, now: datetime, weeks: int = KPI_WEEKS, months: int = KPI_MONTHS) -> list[Kpi]:
    """Every trend KPI per week and per month, one query per KPI, cached for a minute."""
    week_starts, month_starts, since, until, key = _kpi_window(now, weeks, months)
    # The rows are cached, not the KPIs: names and definitions follow the reader's language.
    data = cache.get(key)
    if data is None:
        data = _kpi_rows(since, until, now)
        cache.set(key, data, KPI_CACHE_SECONDS)
    result = []
    for code, name, unit, definition, higher_is_better in KPI_DEFINITIONS:
        rows, numerator, denominator, scale = data[code]
        result.append(
            Kpi(
                code=code,
                name=str(name),
                unit=str(unit),
                definition=str(definition),
                higher_is_better=higher_is_better,
                weekly=_series(rows, week_starts, "week", numerator, denominator, scale),
                monthly=_series(rows, month_starts, "month", numerator, denominator, scale),
            )
        )
    return result
