"""Selectors of the live Gantt and the work-order drill-down: plain rows, fetched up front, a fixed number of queries.

Late and at risk, as the pages and the API mark them:

* An operation is **late** when it is not done and its planned end has passed.
* An operation is **at risk** when it is not late yet but either its projected finish is after its planned end, or
  its work order's plan already ends after the work order's due date. The projected finish of a started operation
  comes from its own rate: the quantity processed so far over the labour time spent (the minutes it has been
  running), applied to the quantity left. An operation not started yet is projected from its planned start (or
  now, if that has passed) plus its standard time (setup + standard minutes × quantity left).
* A work order is late when one of its operations is late or its due date has passed while it is open; at risk
  when one of its operations is at risk.

Projections run on the clock, not on the work centres' calendars, so they are an early warning, not a plan.
Every read goes to `read_database()`: the replica when `DATABASE_REPLICA_URL` is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import AuditEvent
from config.db_router import read_database
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from production.models.execution import DowntimeReason

FACTORY_TZ = ZoneInfo("Asia/Shanghai")
OpStatus = WorkOrderOperation.Status
WOStatus = WorkOrder.Status
OPEN_WORK_ORDERS = (WOStatus.PLANNED, WOStatus.IN_PROGRESS)
STARTED = (OpStatus.RUNNING, OpStatus.PAUSED)
PAGE_SIZE = 50
ZOOMS = ("day", "week", "month")
GROUPS = ("work_order", "work_center")

OPERATION_FIELDS = (
    "id",
    "code",
    "work_order_id",
    "sequence",
    "status",
    "operation__name",
    "work_center_id",
    "work_center__code",
    "work_center__name",
    "std_minutes_per_unit",
    "setup_minutes",
    "planned_start",
    "planned_end",
    "actual_start",
    "actual_end",
    "running_since",
    "labour_minutes",
    "good_qty",
    "scrap_qty",
    "rework_qty",
    "last_event_at",
    "work_order__number",
    "work_order__qty",
    "work_order__due_date",
    "work_order__planned_end",
    "work_order__status",
)

WORK_ORDER_FIELDS = (
    "id",
    "number",
    "status",
    "kind",
    "qty",
    "due_date",
    "planned_start",
    "planned_end",
    "item__code",
    "item__name",
    "item__unit",
    "item__category",
    "order_line__order__number",
)


def reads(model) -> QuerySet:
    """The model's rows on the database dashboards read from (the replica when one is configured)."""
    return model._default_manager.using(read_database())


# --- Outlook: late, at risk, projected finish ------------------------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """Where an operation is heading: its projected finish and whether it is late or at risk."""

    projected_end: datetime | None
    late: bool
    at_risk: bool


@lru_cache(maxsize=8192)
def local_date(moment: datetime) -> date:
    """The factory's calendar day of a moment (cached: the operations of a work order share its planned end)."""
    return moment.astimezone(FACTORY_TZ).date()


def operation_outlook(op: dict, now: datetime) -> Outlook:
    """The outlook of one operation row (OPERATION_FIELDS); see the module docstring for the rules."""
    if op["status"] == OpStatus.DONE:
        return Outlook(projected_end=op["actual_end"] or op["planned_end"], late=False, at_risk=False)
    qty = op["work_order__qty"]
    processed = op["good_qty"] + op["scrap_qty"] + op["rework_qty"]
    left = max(qty - processed, Decimal(0))
    worked = float(op["labour_minutes"]) * 60
    if op["status"] == OpStatus.RUNNING and op["running_since"]:
        worked += max((now - op["running_since"]).total_seconds(), 0)
    if op["status"] in STARTED and processed > 0 and worked > 0:
        projected = now + timedelta(seconds=worked * float(left / processed))
    else:
        seconds = float(op["std_minutes_per_unit"] * left) * 60
        if op["status"] not in STARTED:
            seconds += float(op["setup_minutes"]) * 60
        begin = now if op["status"] in STARTED else max(op["planned_start"] or now, now)
        projected = begin + timedelta(seconds=seconds)
    planned_end = op["planned_end"]
    late = planned_end is not None and now > planned_end
    due = op["work_order__due_date"]
    plan_misses_due = bool(due and op["work_order__planned_end"] and local_date(op["work_order__planned_end"]) > due)
    at_risk = not late and ((planned_end is not None and projected > planned_end) or plan_misses_due)
    return Outlook(projected_end=projected, late=late, at_risk=at_risk)


def progress_pct(op: dict) -> Decimal:
    """Share of the work order's quantity this operation has processed (good + scrap + rework), 0–100."""
    qty = op["work_order__qty"]
    if op["status"] == OpStatus.DONE:
        return Decimal(100)
    if not qty:
        return Decimal(0)
    processed = op["good_qty"] + op["scrap_qty"] + op["rework_qty"]
    return min(processed / qty * 100, Decimal(100)).quantize(Decimal("0.1"))


# --- The time window ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The stretch of time the chart shows, [start, end), in the factory's time zone."""

    zoom: str
    start: datetime
    end: datetime

    def __post_init__(self):
        # Plain floats once: span() runs for every bar of a page, thousands of times on a busy week.
        object.__setattr__(self, "_first", self.start.timestamp())
        object.__setattr__(self, "_last", self.end.timestamp())

    @property
    def seconds(self) -> float:
        return self._last - self._first

    def pct(self, moment: datetime) -> float:
        return min(max((moment.timestamp() - self._first) / (self._last - self._first) * 100, 0.0), 100.0)

    def span(self, start: datetime | None, end: datetime | None) -> tuple[str, str] | None:
        """CSS left and width (percent strings) of [start, end) clipped to the window; None when outside it."""
        if start is None or end is None:
            return None
        first, last = start.timestamp(), end.timestamp()
        if last <= self._first or first >= self._last:
            return None
        scale = 100 / (self._last - self._first)
        left = max(first - self._first, 0.0) * scale
        right = min(last - self._first, self._last - self._first) * scale
        # A bar shorter than a pixel would vanish: give it a sliver so a quick operation is still seen.
        return f"{left:.3f}", f"{max(right - left, 0.15):.3f}"


def gantt_window(*, zoom: str, anchor: date, start: date | None = None, end: date | None = None) -> Window:
    """The window of a zoom around an anchor day (day; Monday-based week; month), or an explicit date range."""
    if start and end and end >= start:
        first, after = start, end + timedelta(days=1)
        zoom = zoom if zoom in ZOOMS else "week"
    elif zoom == "day":
        first, after = anchor, anchor + timedelta(days=1)
    elif zoom == "month":
        first = anchor.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    else:
        zoom = "week"
        first = anchor - timedelta(days=anchor.weekday())
        after = first + timedelta(days=7)
    return Window(
        zoom=zoom,
        start=datetime.combine(first, time.min, FACTORY_TZ),
        end=datetime.combine(after, time.min, FACTORY_TZ),
    )


def shift_anchor(zoom: str, anchor: date, steps: int) -> date:
    """The anchor one zoom step earlier (steps=-1) or later (steps=1)."""
    if zoom == "day":
        return anchor + timedelta(days=steps)
    if zoom == "month":
        month = anchor.month - 1 + steps
        return date(anchor.year + month // 12, month % 12 + 1, 1)
    return anchor + timedelta(days=7 * steps)


@dataclass(frozen=True)
class Tick:
    left: str
    label: str
    weekend: bool = False


def window_ticks(window: Window) -> list[Tick]:
    """Labels along the time axis: every 2 hours for a day, every day for a week or a month."""
    ticks = []
    if window.seconds <= 86_400:
        moment = window.start
        while moment < window.end:
            ticks.append(Tick(left=f"{window.pct(moment):.3f}", label=f"{moment.astimezone(FACTORY_TZ):%H:%M}"))
            moment += timedelta(hours=2)
        return ticks
    days = round(window.seconds / 86_400)
    label_every = 1 if days <= 14 else 1 if days <= 31 else math.ceil(days / 31)
    day = window.start.astimezone(FACTORY_TZ).date()
    for index in range(days):
        current = day + timedelta(days=index)
        moment = datetime.combine(current, time.min, FACTORY_TZ)
        if index % label_every:
            continue
        label = date_format(current, "m-d D") if days <= 14 else current.strftime("%d")
        ticks.append(Tick(left=f"{window.pct(moment):.3f}", label=label, weekend=current.weekday() >= 5))
    return ticks


# --- Filters ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GanttFilters:
    """What the user narrowed the chart to; empty values mean "all"."""

    workshop: str = ""
    team: int | None = None
    category: str = ""
    status: str = "open"
    group: str = "work_order"


def _work_order_statuses(status: str) -> list[str] | None:
    if status == "all":
        return None
    if status in WOStatus.values:
        return [status]
    return list(OPEN_WORK_ORDERS)


def _operation_place(filters: GanttFilters) -> Q:
    place = Q()
    if filters.workshop:
        place &= Q(work_center__workshop__code=filters.workshop)
    if filters.team:
        place &= Q(work_center__team_id=filters.team)
    return place


def overlaps(window: Window) -> Q:
    """Operations whose plan or actual run (an open run until now) falls in the window."""
    planned = Q(planned_start__lt=window.end, planned_end__gt=window.start)
    actual = Q(actual_start__lt=window.end) & (
        Q(actual_end__gt=window.start) | Q(actual_end__isnull=True, status__in=STARTED)
    )
    return planned | actual


def _work_order_scope(filters: GanttFilters) -> Q:
    scope = Q()
    statuses = _work_order_statuses(filters.status)
    if statuses:
        scope &= Q(work_order__status__in=statuses)
    if filters.category:
        scope &= Q(work_order__item__category=filters.category)
    return scope


# --- Rows ---------------------------------------------------------------------------------------------


@dataclass
class Bar:
    """One operation on the chart: where its plan and its actual run sit, and how it is doing."""

    id: int
    code: str
    sequence: int
    name: str
    work_center: str
    work_order: str
    status: str
    status_label: str
    planned_start: datetime | None
    planned_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    progress: Decimal
    good_qty: Decimal
    scrap_qty: Decimal
    qty: Decimal
    projected_end: datetime | None
    late: bool
    at_risk: bool
    planned: tuple[str, str] | None = None
    actual: tuple[str, str] | None = None


@dataclass
class DowntimeBar:
    reason: str
    reason_label: str
    started_at: datetime
    ended_at: datetime | None
    place: tuple[str, str] | None


@dataclass
class Row:
    """One line of the chart: a work order with its operations, or a work centre with its operations and stops."""

    key: str
    label: str
    detail: str
    status: str = ""
    status_label: str = ""
    due_date: date | None = None
    order_number: str = ""
    overdue: bool = False
    bars: list[Bar] = field(default_factory=list)
    downtimes: list[DowntimeBar] = field(default_factory=list)

    @property
    def late(self) -> bool:
        return self.overdue or any(bar.late for bar in self.bars)

    @property
    def at_risk(self) -> bool:
        return not self.late and any(bar.at_risk for bar in self.bars)


@dataclass
class Gantt:
    """A page of the chart."""

    window: Window
    filters: GanttFilters
    rows: list[Row]
    count: int
    page: int
    num_pages: int
    now: datetime
    now_left: str | None
    ticks: list[Tick]


def status_labels() -> dict[str, str]:
    """Operation status labels, translated once per page rather than once per bar."""
    return {value: str(label) for value, label in OpStatus.choices}


def make_bar(op: dict, window: Window | None, now: datetime, labels: dict[str, str] | None = None) -> Bar:
    """A Bar from an operation row; its geometry is computed when a window is given."""
    outlook = operation_outlook(op, now)
    labels = labels or status_labels()
    actual_end = op["actual_end"] or (now if op["actual_start"] and op["status"] in STARTED else None)
    bar = Bar(
        id=op["id"],
        code=op["code"],
        sequence=op["sequence"],
        name=op["operation__name"],
        work_center=op["work_center__code"],
        work_order=op["work_order__number"],
        status=op["status"],
        status_label=labels[op["status"]],
        planned_start=op["planned_start"],
        planned_end=op["planned_end"],
        actual_start=op["actual_start"],
        actual_end=op["actual_end"],
        progress=progress_pct(op),
        good_qty=op["good_qty"],
        scrap_qty=op["scrap_qty"],
        qty=op["work_order__qty"],
        projected_end=outlook.projected_end,
        late=outlook.late,
        at_risk=outlook.at_risk,
    )
    if window is not None:
        bar.planned = window.span(op["planned_start"], op["planned_end"])
        bar.actual = window.span(op["actual_start"], actual_end)
    return bar


def page_bounds(count: int, page: int, size: int) -> tuple[int, int]:
    num_pages = max(math.ceil(count / size), 1)
    return min(max(page, 1), num_pages), num_pages


def gantt_rows(
    *, window: Window, filters: GanttFilters, page: int = 1, page_size: int = PAGE_SIZE, now: datetime | None = None
) -> Gantt:
    """A page of the chart: work orders (or work centres) with a bar per operation in the window.

    Work-order rows: the work orders with an operation in the window (at the workshop/team filtered to), by
    planned start; each row shows those operations. Work-centre rows: the work centres of the workshop/team
    with their operations and downtime in the window. Four queries whatever the size.
    """
    now = now or timezone.now()
    if filters.group == "work_center":
        rows, count, page, num_pages = _work_center_rows(window, filters, page, page_size, now)
    else:
        rows, count, page, num_pages = _work_order_rows(window, filters, page, page_size, now)
    return Gantt(
        window=window,
        filters=filters,
        rows=rows,
        count=count,
        page=page,
        num_pages=num_pages,
        now=now,
        now_left=f"{window.pct(now):.3f}" if window.start <= now < window.end else None,
        ticks=window_ticks(window),
    )


def _work_order_rows(window: Window, filters: GanttFilters, page: int, page_size: int, now: datetime):
    place = _operation_place(filters)
    in_window = reads(WorkOrderOperation).filter(place, overlaps(window), work_order=OuterRef("pk"))
    work_orders = reads(WorkOrder).filter(Exists(in_window))
    statuses = _work_order_statuses(filters.status)
    if statuses:
        work_orders = work_orders.filter(status__in=statuses)
    if filters.category:
        work_orders = work_orders.filter(item__category=filters.category)
    count = work_orders.count()
    page, num_pages = page_bounds(count, page, page_size)
    first = (page - 1) * page_size
    ordered = work_orders.order_by(F("planned_start").asc(nulls_last=True), "number")
    orders = list(ordered.values(*WORK_ORDER_FIELDS)[first : first + page_size])
    rows: dict[int, Row] = {}
    for order in orders:
        rows[order["id"]] = Row(
            key=order["number"],
            label=order["number"],
            detail=f"{order['item__code']} {order['item__name']}",
            status=order["status"],
            status_label=str(WOStatus(order["status"]).label),
            due_date=order["due_date"],
            order_number=order["order_line__order__number"] or "",
            overdue=bool(
                order["status"] in OPEN_WORK_ORDERS and order["due_date"] and local_date(now) > order["due_date"]
            ),
        )
    operations = (
        reads(WorkOrderOperation)
        .filter(place, overlaps(window), work_order_id__in=list(rows))
        .order_by("work_order_id", "sequence")
        .values(*OPERATION_FIELDS)
    )
    labels = status_labels()
    for op in operations:
        rows[op["work_order_id"]].bars.append(make_bar(op, window, now, labels))
    return list(rows.values()), count, page, num_pages


def _work_center_rows(window: Window, filters: GanttFilters, page: int, page_size: int, now: datetime):
    centres = reads(WorkCenter).filter(active=True)
    if filters.workshop:
        centres = centres.filter(workshop__code=filters.workshop)
    if filters.team:
        centres = centres.filter(team_id=filters.team)
    count = centres.count()
    page, num_pages = page_bounds(count, page, page_size)
    first = (page - 1) * page_size
    rows: dict[int, Row] = {}
    for centre in centres.order_by("code").values("id", "code", "name", "workshop__name", "team__name")[
        first : first + page_size
    ]:
        detail = centre["workshop__name"] + (f" · {centre['team__name']}" if centre["team__name"] else "")
        rows[centre["id"]] = Row(key=centre["code"], label=f"{centre['code']} {centre['name']}", detail=detail)
    operations = (
        reads(WorkOrderOperation)
        .filter(_work_order_scope(filters), overlaps(window), work_center_id__in=list(rows))
        .order_by("work_center_id", "planned_start", "id")
        .values(*OPERATION_FIELDS)
    )
    labels = status_labels()
    for op in operations:
        rows[op["work_center_id"]].bars.append(make_bar(op, window, now, labels))
    stops = (
        reads(Downtime)
        .filter(work_center_id__in=list(rows), started_at__lt=window.end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=window.start))
        .order_by("started_at")
        .values("work_center_id", "reason", "started_at", "ended_at")
    )
    for stop in stops:
        rows[stop["work_center_id"]].downtimes.append(
            DowntimeBar(
                reason=stop["reason"],
                reason_label=str(DowntimeReason(stop["reason"]).label),
                started_at=stop["started_at"],
                ended_at=stop["ended_at"],
                place=window.span(stop["started_at"], stop["ended_at"] or now),
            )
        )
    return list(rows.values()), count, page, num_pages


def gantt_operations(*, window: Window, filters: GanttFilters, now: datetime | None = None) -> list[Bar]:
    """Every operation of the chart's filters in the window (all pages), for the Excel export; one query."""
    now = now or timezone.now()
    operations = (
        reads(WorkOrderOperation)
        .filter(_operation_place(filters), _work_order_scope(filters), overlaps(window))
        .order_by("work_order__planned_start", "work_order__number", "sequence")
        .values(*OPERATION_FIELDS)
    )
    labels = status_labels()
    return [make_bar(op, None, now, labels) for op in operations.iterator(chunk_size=2000)]


# --- Filter choices and the change fingerprint -----------------------------------------------------------


def gantt_choices() -> dict[str, list[tuple]]:
    """Workshops, teams and product categories to filter by; three small queries."""
    from accounts.models import Team
    from production.models import Item, Workshop

    return {
        "workshops": list(reads(Workshop).order_by("code").values_list("code", "name")),
        "teams": list(reads(Team).order_by("name").values_list("id", "name")),
        "categories": list(
            reads(Item)
            .exclude(category="")
            .filter(kind__in=[Item.Kind.FINISHED, Item.Kind.SEMI])
            .order_by("category")
            .values_list("category", flat=True)
            .distinct()
        ),
    }


def gantt_fingerprint(now: datetime | None = None) -> str:
    """A short value that changes whenever what the chart shows may have changed; one cheap query.

    A report or downtime press adds a row (max id); ending a downtime sets its end (max ended_at); releases,
    re-planning and other services write an AuditEvent (max id); new work orders add rows. The minute is in it
    too, so the now-line and "late" markers move on even when nobody reports.
    """
    now = now or timezone.now()
    alias = read_database()
    tables = {
        "event": ReportEvent._meta.db_table,
        "stop": Downtime._meta.db_table,
        "audit": AuditEvent._meta.db_table,
        "order": WorkOrder._meta.db_table,
    }
    quote = connections[alias].ops.quote_name
    sql = (
        f"SELECT (SELECT MAX(id) FROM {quote(tables['event'])}),"
        f" (SELECT MAX(id) FROM {quote(tables['stop'])}),"
        f" (SELECT MAX(ended_at) FROM {quote(tables['stop'])}),"
        f" (SELECT MAX(id) FROM {quote(tables['audit'])}),"
        f" (SELECT MAX(id) FROM {quote(tables['order'])})"
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(sql)
        values = cursor.fetchone()
    stamp = [str(value) if value is not None else "-" for value in values]
    stamp.append(f"{now:%Y%m%d%H%M}")
    return ".".join(stamp).replace(" ", "T").replace(":", "")


# --- The drill-down -----------------------------------------------------------------------------------


@dataclass
class EventRow:
    at: datetime
    sequence: int
    operation: str
    action: str
    action_label: str
    operator: str
    good_qty: Decimal
    scrap_qty: Decimal
    rework_qty: Decimal
    reason: str
    note: str


@dataclass
class WorkOrderDetail:
    """A work order with its operations (as bars on their own window), their report events and downtime."""

    work_order: dict
    bars: list[Bar]
    events: list[EventRow]
    downtimes: list[dict]
    window: Window | None
    now_left: str | None
    late: bool
    at_risk: bool


def work_order_detail(number: str, *, now: datetime | None = None) -> WorkOrderDetail | None:
    """The drill-down of one work order; None when no such number. Four queries."""
    now = now or timezone.now()
    work_order = (
        reads(WorkOrder).filter(number=number).values(*WORK_ORDER_FIELDS, "parent__number", "erp_number").first()
    )
    if work_order is None:
        return None
    operations = list(
        reads(WorkOrderOperation).filter(work_order_id=work_order["id"]).order_by("sequence").values(*OPERATION_FIELDS)
    )
    moments = [
        moment
        for op in operations
        for moment in (op["planned_start"], op["planned_end"], op["actual_start"], op["actual_end"])
        if moment
    ]
    window = None
    if moments:
        first, last = min(moments), max([*moments, now] if any(o["status"] in STARTED for o in operations) else moments)
        padding = max((last - first) / 20, timedelta(minutes=30))
        window = Window(zoom="custom", start=first - padding, end=last + padding)
    labels = status_labels()
    bars = [make_bar(op, window, now, labels) for op in operations]
    events = [
        EventRow(
            at=event["at"],
            sequence=event["operation__sequence"],
            operation=event["operation__operation__name"],
            action=event["action"],
            action_label=str(ReportEvent.Action(event["action"]).label),
            operator=(f"{event['operator__last_name']}{event['operator__first_name']}" or event["operator__username"]),
            good_qty=event["good_qty"],
            scrap_qty=event["scrap_qty"],
            rework_qty=event["rework_qty"],
            reason=event["reason"],
            note=event["note"],
        )
        for event in reads(ReportEvent)
        .filter(operation__work_order_id=work_order["id"])
        .order_by("at", "id")
        .values(
            "at",
            "action",
            "good_qty",
            "scrap_qty",
            "rework_qty",
            "reason",
            "note",
            "operation__sequence",
            "operation__operation__name",
            "operator__username",
            "operator__first_name",
            "operator__last_name",
        )
    ]
    downtimes = []
    started = [op["actual_start"] for op in operations if op["actual_start"]]
    if started:
        centres = {op["work_center_id"] for op in operations}
        ends = [op["actual_end"] or now for op in operations if op["actual_start"]]
        for stop in (
            reads(Downtime)
            .filter(work_center_id__in=centres, started_at__lt=max(ends))
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=min(started)))
            .order_by("started_at")
            .values("work_center__code", "reason", "note", "started_at", "ended_at")
        ):
            stop["reason_label"] = str(DowntimeReason(stop["reason"]).label)
            end = stop["ended_at"] or now
            stop["minutes"] = round((end - stop["started_at"]).total_seconds() / 60)
            stop["place"] = window.span(stop["started_at"], end) if window else None
            downtimes.append(stop)
    work_order["status_label"] = str(WOStatus(work_order["status"]).label)
    work_order["kind_label"] = str(WorkOrder.Kind(work_order["kind"]).label)
    open_ = work_order["status"] in OPEN_WORK_ORDERS
    overdue = bool(open_ and work_order["due_date"] and local_date(now) > work_order["due_date"])
    late = overdue or any(bar.late for bar in bars)
    return WorkOrderDetail(
        work_order=work_order,
        bars=bars,
        events=events,
        downtimes=downtimes,
        window=window,
        now_left=f"{window.pct(now):.3f}" if window and window.start <= now < window.end else None,
        late=late,
        at_risk=not late and any(bar.at_risk for bar in bars),
    )
