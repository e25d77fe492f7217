"""Machine load, downtime Pareto and OEE per work centre over a range of days.

Days are calendar days in Asia/Shanghai; a work centre's working window on a day is the scheduler's: from 08:00
for its capacity hours per day.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import F, Q, Sum
from django.utils.translation import gettext_lazy as _

from config.db_router import read_database
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from production.models.execution import DowntimeReason
from production.scheduling import FACTORY_TZ, WORKDAY_START

# A longer range makes the day-by-day table unreadable and the page slow; the monthly workbook stays inside it.
MAX_RANGE_DAYS = 62

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
