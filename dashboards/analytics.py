"""Machine load, downtime Pareto, OEE and the trend KPIs: the reads behind the analytics pages, API and workbooks.

Every selector runs a fixed number of queries whatever the data size: it fetches plain rows (`.values()` or
grouped aggregates) from the database the dashboards read (the replica when one is configured) and does the
calendar arithmetic in Python. Days are calendar days in Asia/Shanghai; a work centre's working window on a
day is the scheduler's: from 08:00 for its capacity hours per day.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils.translation import gettext_lazy as _

from config.db_router import read_database
from integrations.models import SyncRun
from integrations.reconciliation import deviation_rate_by_period
from orders.models import ErpPush, SalesOrder
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from production.models.execution import DowntimeReason
from production.scheduling import FACTORY_TZ, WORKDAY_START

# A longer range makes the day-by-day table unreadable and the page slow; the monthly workbook stays inside it.
MAX_RANGE_DAYS = 62
KPI_WEEKS = 12
KPI_MONTHS = 12
# Trend KPIs move slowly: a minute-old figure is fine, and the page then costs one cache read.
KPI_CACHE_SECONDS = 60

DEFINITIONS = {
    "planned_hours": _(
        "Planned hours: the part of each operation's planned start–end that falls in the work centre's working "
        "hours of the day (from 08:00, for its capacity hours per day), summed over its operations."
    ),
    "load": _("Load = planned hours ÷ capacity hours. Over 100 % the plan asks more than the work centre can do."),
    "bottleneck": _("Bottleneck: the work centre with the highest load over the whole range."),
    "pareto": _(
        "Downtime minutes inside the date range (a stop still open counts up to now), per reason, largest first; "
        "cumulative % adds the reasons' shares from the top."
    ),
    "availability": _(
        "Availability = (planned time − downtime) ÷ planned time. Planned time is the work centre's working "
        "hours on the days of the range, up to now; downtime counts only inside those hours."
    ),
    "performance": _(
        "Performance = Σ (standard minutes per unit × (good + scrap)) ÷ run time, run time being planned time "
        "minus downtime; from the quantities reported in the range. Trial runs are left out."
    ),
    "quality": _("Quality = good ÷ (good + scrap), from the quantities reported in the range; trial runs left out."),
    "oee": _("OEE = availability × performance × quality."),
}


def _rate(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _pct(value: float | None) -> float | None:
    return round(100 * value, 1) if value is not None else None


def day_start(day: date) -> datetime:
    """Midnight at the start of a calendar day in the factory's time zone."""
    return datetime.combine(day, time(0), FACTORY_TZ)


def working_window(day: date, capacity_hours: Decimal | float) -> tuple[datetime, datetime]:
    """A work centre's working hours on a day, as the scheduler plans them: from 08:00 for its capacity."""
    start = datetime.combine(day, WORKDAY_START, FACTORY_TZ)
    return start, start + timedelta(hours=float(capacity_hours))


def _overlap_seconds(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> float:
    return max((min(a_end, b_end) - max(a_start, b_start)).total_seconds(), 0.0)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    # Two stops of one machine may overlap (one reported late): the machine was down once, not twice.
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class AnalyticsRange:
    """The days (both inclusive, Asia/Shanghai) and the workshop an analytics page or workbook looks at."""

    start: date
    end: date
    workshop_id: int | None = None

    @property
    def days(self) -> list[date]:
        return _days(self.start, self.end)

    @property
    def start_at(self) -> datetime:
        return day_start(self.start)

    @property
    def end_at(self) -> datetime:
        return day_start(self.end + timedelta(days=1))


def _work_centers(period: AnalyticsRange) -> list[dict]:
    centers = WorkCenter.objects.using(read_database()).filter(active=True)
    if period.workshop_id:
        centers = centers.filter(workshop_id=period.workshop_id)
    return list(
        centers.order_by("workshop__code", "code").values(
            "id", "code", "name", "capacity_hours_per_day", "workshop__code", "workshop__name"
        )
    )


# --- Machine load ----------------------------------------------------------------------------------------


@dataclass
class LoadCell:
    """One work centre on one day."""

    day: date
    planned_hours: float
    capacity_hours: float

    @property
    def load_pct(self) -> float | None:
        return _pct(_rate(self.planned_hours, self.capacity_hours))

    @property
    def over_capacity(self) -> bool:
        return self.planned_hours > self.capacity_hours + 1e-9


@dataclass
class LoadRow:
    """One work centre over the range: a cell per day and the totals."""

    work_center_id: int
    code: str
    name: str
    workshop_code: str
    workshop_name: str
    capacity_hours_per_day: float
    cells: list[LoadCell]
    bottleneck: bool = False

    @property
    def planned_hours(self) -> float:
        return sum(cell.planned_hours for cell in self.cells)

    @property
    def capacity_hours(self) -> float:
        return sum(cell.capacity_hours for cell in self.cells)

    @property
    def load_pct(self) -> float | None:
        return _pct(_rate(self.planned_hours, self.capacity_hours))

    @property
    def over_capacity(self) -> bool:
        return self.planned_hours > self.capacity_hours + 1e-9


@dataclass
class MachineLoad:
    """Planned hours against capacity per work centre per day, with the bottleneck marked."""

    days: list[date]
    rows: list[LoadRow]

    @property
    def bottleneck(self) -> LoadRow | None:
        return next((row for row in self.rows if row.bottleneck), None)


def machine_load(*, period: AnalyticsRange) -> MachineLoad:
    """Planned hours vs capacity for each active work centre and day of the range; two queries."""
    return _machine_load(period, _work_centers(period))


def _machine_load(period: AnalyticsRange, centers: list[dict]) -> MachineLoad:
    days = period.days
    hours: dict[tuple[int, date], float] = defaultdict(float)
    by_id = {center["id"]: center for center in centers}
    # Shanghai keeps no daylight saving: each day's window opens exactly 86,400 s after the day before's, so the
    # overlaps are sums of plain numbers (this loop runs once per operation and day at factory scale).
    first_opening = working_window(period.start, 0)[0].timestamp()
    capacity = {center["id"]: float(center["capacity_hours_per_day"]) * 3600 for center in centers}
    operations = (
        WorkOrderOperation.objects.using(read_database())
        .filter(
            work_center_id__in=list(by_id),
            planned_start__lt=period.end_at + timedelta(days=1),
            planned_end__gt=period.start_at - timedelta(days=1),
        )
        .exclude(work_order__status=WorkOrder.Status.CANCELLED)
        .values_list("work_center_id", "planned_start", "planned_end")
    )
    last_index = len(days) - 1
    for center_id, start, end in operations.iterator(chunk_size=5000):
        length = capacity[center_id]
        start_s, end_s = start.timestamp(), end.timestamp()
        # A window may run past midnight (capacity over 16 h), so the day before the operation's start counts too.
        first = max(int((start_s - first_opening) // 86400) - 1, 0)
        last = min(int((end_s - first_opening) // 86400), last_index)
        for index in range(first, last + 1):
            opening = first_opening + index * 86400
            seconds = min(end_s, opening + length) - max(start_s, opening)
            if seconds > 0:
                hours[center_id, days[index]] += seconds / 3600
    rows = [
        LoadRow(
            work_center_id=center["id"],
            code=center["code"],
            name=center["name"],
            workshop_code=center["workshop__code"],
            workshop_name=center["workshop__name"],
            capacity_hours_per_day=float(center["capacity_hours_per_day"]),
            cells=[
                LoadCell(day, round(hours[center["id"], day], 4), float(center["capacity_hours_per_day"]))
                for day in days
            ],
        )
        for center in centers
    ]
    loaded = [row for row in rows if row.load_pct is not None and row.planned_hours > 0]
    if loaded:
        max(loaded, key=lambda row: (row.load_pct, row.planned_hours)).bottleneck = True
    return MachineLoad(days=days, rows=rows)


# --- Downtime: Pareto and the minutes inside working hours ----------------------------------------------------


@dataclass
class ParetoRow:
    """One downtime reason: its minutes and stops in the range, its share and the cumulative share."""

    reason: str
    label: str
    minutes: float
    count: int
    share_pct: float
    cumulative_pct: float


def _downtimes(period: AnalyticsRange, centers: list[dict], now: datetime) -> list[tuple[int, str, datetime, datetime]]:
    """Stops of the given work centres touching the range (plus a day for late windows), open ones ending now."""
    rows = (
        Downtime.objects.using(read_database())
        .filter(work_center_id__in=[center["id"] for center in centers], started_at__lt=period.end_at + timedelta(1))
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=period.start_at))
        .filter(started_at__lt=now)
        .values_list("work_center_id", "reason", "started_at", "ended_at")
    )
    return [(center_id, reason, start, min(end or now, now)) for center_id, reason, start, end in rows]


def _pareto(period: AnalyticsRange, downtimes: list[tuple[int, str, datetime, datetime]]) -> list[ParetoRow]:
    minutes: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for _center, reason, start, end in downtimes:
        seconds = _overlap_seconds(start, end, period.start_at, period.end_at)
        if seconds or (period.start_at <= start < period.end_at):
            minutes[reason] += seconds / 60
            counts[reason] += 1
    total = sum(minutes.values())
    labels = dict(DowntimeReason.choices)
    rows, running = [], 0.0
    for reason in sorted(minutes, key=lambda r: (-minutes[r], -counts[r], r)):
        running += minutes[reason]
        rows.append(
            ParetoRow(
                reason=reason,
                label=str(labels.get(reason, reason)),
                minutes=round(minutes[reason], 2),
                count=counts[reason],
                share_pct=round(100 * minutes[reason] / total, 1) if total else 0.0,
                cumulative_pct=round(100 * running / total, 1) if total else 0.0,
            )
        )
    return rows


def downtime_pareto(*, period: AnalyticsRange, now: datetime) -> list[ParetoRow]:
    """Downtime minutes and stops per reason in the range, largest first, with cumulative %; two queries."""
    return _pareto(period, _downtimes(period, _work_centers(period), now))


# --- OEE ---------------------------------------------------------------------------------------------------


@dataclass
class OeeRow:
    """One work centre's availability, performance, quality and OEE over the range up to now."""

    work_center_id: int
    code: str
    name: str
    workshop_code: str
    planned_minutes: float
    downtime_minutes: float
    earned_minutes: float
    good_qty: Decimal
    scrap_qty: Decimal

    @property
    def run_minutes(self) -> float:
        return self.planned_minutes - self.downtime_minutes

    @property
    def availability(self) -> float | None:
        return _rate(self.run_minutes, self.planned_minutes)

    @property
    def performance(self) -> float | None:
        return _rate(self.earned_minutes, self.run_minutes)

    @property
    def quality(self) -> float | None:
        return _rate(float(self.good_qty), float(self.good_qty + self.scrap_qty))

    @property
    def oee(self) -> float | None:
        parts = (self.availability, self.performance, self.quality)
        return parts[0] * parts[1] * parts[2] if None not in parts else None

    @property
    def availability_pct(self) -> float | None:
        return _pct(self.availability)

    @property
    def performance_pct(self) -> float | None:
        return _pct(self.performance)

    @property
    def quality_pct(self) -> float | None:
        return _pct(self.quality)

    @property
    def oee_pct(self) -> float | None:
        return _pct(self.oee)


def _output(period: AnalyticsRange, centers: list[dict], now: datetime) -> dict[int, dict]:
    """Good, scrap and earned standard minutes reported per work centre in the range, trial runs left out."""
    rows = (
        ReportEvent.objects.using(read_database())
        .filter(
            operation__work_center_id__in=[center["id"] for center in centers],
            at__gte=period.start_at,
            at__lt=min(period.end_at, now),
        )
        .filter(Q(good_qty__gt=0) | Q(scrap_qty__gt=0))
        .exclude(operation__work_order__kind=WorkOrder.Kind.TRIAL)
        .order_by()
        .values("operation__work_center_id")
        .annotate(
            good=Sum("good_qty"),
            scrap=Sum("scrap_qty"),
            earned=Sum(F("operation__std_minutes_per_unit") * (F("good_qty") + F("scrap_qty"))),
        )
    )
    return {row["operation__work_center_id"]: row for row in rows}


def _oee_rows(
    period: AnalyticsRange, centers: list[dict], downtimes: list[tuple[int, str, datetime, datetime]], now: datetime
) -> list[OeeRow]:
    output = _output(period, centers, now)
    stops: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for center_id, _reason, start, end in downtimes:
        stops[center_id].append((start, end))
    rows = []
    for center in centers:
        planned = down = 0.0
        merged = _merged(stops[center["id"]])
        for day in period.days:
            window_start, window_end = working_window(day, center["capacity_hours_per_day"])
            window_end = min(window_end, now)
            if window_end <= window_start:
                continue
            planned += (window_end - window_start).total_seconds()
            down += sum(_overlap_seconds(start, end, window_start, window_end) for start, end in merged)
        made = output.get(center["id"], {})
        rows.append(
            OeeRow(
                work_center_id=center["id"],
                code=center["code"],
                name=center["name"],
                workshop_code=center["workshop__code"],
                planned_minutes=round(planned / 60, 2),
                downtime_minutes=round(down / 60, 2),
                earned_minutes=float(made.get("earned") or 0),
                good_qty=made.get("good") or Decimal(0),
                scrap_qty=made.get("scrap") or Decimal(0),
            )
        )
    return rows


def oee(*, period: AnalyticsRange, now: datetime) -> list[OeeRow]:
    """Availability, performance, quality and OEE per active work centre over the range up to now; three queries."""
    centers = _work_centers(period)
    return _oee_rows(period, centers, _downtimes(period, centers, now), now)


@dataclass
class LoadAnalysis:
    """Everything on the machine-load page: load, downtime Pareto and OEE for one range."""

    period: AnalyticsRange
    load: MachineLoad
    pareto: list[ParetoRow]
    oee: list[OeeRow]


def load_analysis(*, period: AnalyticsRange, now: datetime) -> LoadAnalysis:
    """Load, Pareto and OEE for one range in four queries (work centres, operations, downtime, reports)."""
    centers = _work_centers(period)
    downtimes = _downtimes(period, centers, now)
    return LoadAnalysis(
        period=period,
        load=_machine_load(period, centers),
        pareto=_pareto(period, downtimes),
        oee=_oee_rows(period, centers, downtimes, now),
    )


# --- Trend KPIs ----------------------------------------------------------------------------------------------


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
