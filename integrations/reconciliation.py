"""Reconciliation (对账): the ERP's sales outbound quantities against the WMS's shipped quantities, per day and item.

Definitions, used by the page, the API, the Excel export and the KPI page alike:
- An *item-day* is one item on one calendar day in Asia/Shanghai on which the ERP has audited sales outbound
  (SAL_OUTSTOCK, by the bill's date) or the WMS reported shipments (by the day of `shipped_at`), or both.
  ERP qty and WMS qty are the sums of those lines; difference = ERP qty − WMS qty.
- The *deviation rate* of a set of item-days (a day, a week, a month, the page's range) is
  Σ |ERP qty − WMS qty| ÷ Σ ERP qty over those item-days, a fraction (0.02 = 2 %). It is None (no rate) when
  Σ ERP qty is 0. Differences of opposite sign never cancel out: 10 too many of one item and 10 too few of
  another are 20 of deviation.
Weeks start on Monday; a period's figures cover only the item-days inside the asked range.

The WMS lines arrive through the API (POST /api/v1/wms-shipments/) or an Excel/CSV upload; both go through
`wms_shipments_record`, which checks every line first and writes all or nothing.
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.services import audit_record
from integrations.models import ChannelAccount, ErpOutboundLine, WmsShipmentLine
from orders.models import SalesOrder
from production.models import Item

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIODS = ("day", "week", "month")
QTY_PLACES = 4
MAX_QTY = Decimal(10) ** 14
MAX_LINES = 5000
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_TYPES = {
    ".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/octet-stream"},
    ".csv": {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"},
}
# Column keys of an upload, with the headings accepted for each (the export's headings included).
UPLOAD_COLUMNS = {
    "line_id": ("line_id", "WMS line id", "WMS 发货行号", "发货行号"),
    "shipped_at": ("shipped_at", "shipped at", "发货时间"),
    "item": ("item", "material code", "物料编码"),
    "qty": ("qty", "quantity", "数量", "发货数量"),
    "warehouse": ("warehouse", "仓库"),
    "order_number": ("order_number", "order number", "订单号"),
    "customer": ("customer", "客户"),
}
TODAY_CACHE_SECONDS = 15 * 60


NUL = "\x00"


class ReconciliationError(ApplicationError):
    """WMS shipments that cannot be taken; `extra["errors"]` lists each refused row."""

    code = "invalid_rows"
    default_message = gettext_lazy("Some shipment lines are invalid; nothing was written.")


# --- WMS shipments in ----------------------------------------------------------------------------------------


@dataclass
class WmsRecordResult:
    """What one batch of WMS lines did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores an id typed as 1001 as 1001.0
    return str(value).strip()


def _moment(value: Any) -> datetime | None:
    """A shipping time from ISO text, an Excel date/time or a bare date; naive means Asia/Shanghai."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
    else:
        text = _text(value).replace("/", "-")
        try:
            moment = parse_datetime(text) or (datetime.combine(day, time.min) if (day := parse_date(text)) else None)
        except ValueError:  # well-formed but impossible, e.g. 2026-02-30
            moment = None
        if moment is None:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def _qty(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        qty = Decimal(_text(value))
    except InvalidOperation:
        return None
    return qty if qty.is_finite() else None


def _parse_lines(lines: list[dict[str, Any]], first_row: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines as model values, and the errors: {row, column, value, reason}, row counted from `first_row`."""
    errors: list[dict[str, Any]] = []
    codes = {_text(line.get("item")) for line in lines if isinstance(line, dict)}
    # A NUL character cannot be in a stored code (PostgreSQL refuses it even in a query).
    items = Item.objects.in_bulk([code for code in codes if code and NUL not in code], field_name="code")
    parsed, seen = [], {}
    for n, line in enumerate(lines):
        row = n + first_row

        def fail(column: str, reason: str, line=line, row=row) -> None:
            value = line.get(column) if isinstance(line, dict) else line
            errors.append({"row": row, "column": column, "value": _text(value)[:100], "reason": str(reason)})

        if not isinstance(line, dict):
            fail("", _("A line must be an object with line_id, shipped_at, item and qty."))
            continue
        for column, value in line.items():
            if NUL in _text(value):
                fail(str(column), _("A NUL character cannot be stored."))
        line_id = _text(line.get("line_id"))
        if not line_id:
            fail("line_id", _("The WMS line id is required."))
        elif len(line_id) > 64:
            fail("line_id", _("At most 64 characters."))
        elif line_id in seen:
            fail("line_id", _("The same line id is already in row %(row)s.") % {"row": seen[line_id]})
        else:
            seen[line_id] = row
        moment = _moment(line.get("shipped_at"))
        if moment is None:
            fail("shipped_at", _("Not a date or time; write e.g. 2026-11-24 14:30 or 2026-11-24T14:30:00+08:00."))
        item = items.get(_text(line.get("item")))
        if item is None:
            fail("item", _("No item has this material code."))
        qty = _qty(line.get("qty"))
        if qty is None:
            fail("qty", _("Not a number."))
        elif qty < 0:
            fail("qty", _("A shipped quantity cannot be negative."))
        elif qty >= MAX_QTY or -qty.as_tuple().exponent > QTY_PLACES:
            fail("qty", _("At most 14 digits before the point and 4 after."))
        texts = {}
        for key, limit in (("warehouse", 64), ("order_number", 64), ("customer", 100)):
            texts[key] = _text(line.get(key))
            if len(texts[key]) > limit:
                fail(key, _("At most %(limit)s characters.") % {"limit": limit})
        if errors and errors[-1]["row"] == row:
            continue
        parsed.append(
            {
                "line_id": line_id,
                "shipped_at": moment,
                "ship_date": moment.astimezone(SHANGHAI).date(),
                "item": item,
                "qty": qty.quantize(Decimal(1).scaleb(-QTY_PLACES)),
                "warehouse_code": texts["warehouse"],
                "order_number": texts["order_number"],
                "customer": texts["customer"],
            }
        )
    return parsed, errors


@transaction.atomic
def wms_shipments_record(
    *, lines: list[dict[str, Any]], by: User | None, source: str = WmsShipmentLine.Source.API, first_row: int = 1
) -> WmsRecordResult:
    """Record WMS shipment lines, all or none; a line id seen before updates its line (the WMS corrected it)."""
    if not lines:
        raise ReconciliationError(_("No shipment lines were sent."), code="empty", extra={"errors": []})
    if len(lines) > MAX_LINES:
        raise ReconciliationError(
            _("At most %(max)s lines at a time.") % {"max": MAX_LINES}, code="too_many", extra={"errors": []}
        )
    parsed, errors = _parse_lines(lines, first_row)
    if errors:
        raise ReconciliationError(extra={"errors": errors})
    existing = {
        line.line_id: line
        for line in WmsShipmentLine.objects.select_for_update().filter(line_id__in=[p["line_id"] for p in parsed])
    }
    result = WmsRecordResult()
    fields = ["shipped_at", "ship_date", "item", "qty", "warehouse_code", "order_number", "customer"]
    new, changed = [], []
    for values in parsed:
        line = existing.get(values["line_id"])
        if line is None:
            new.append(WmsShipmentLine(**values, source=source, created_by=by))
        elif any(getattr(line, name) != values[name] for name in fields):
            for name in fields:
                setattr(line, name, values[name])
            line.updated_at = timezone.now()
            changed.append(line)
        else:
            result.unchanged += 1
    # ignore_conflicts: a concurrent batch with the same new line id wrote it first; this one is then a repeat.
    WmsShipmentLine.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    WmsShipmentLine.objects.bulk_update(changed, [*fields, "updated_at"], batch_size=1000)
    result.created, result.updated = len(new), len(changed)
    audit_record(
        actor=by,
        verb="wms_shipments.record",
        changes={"source": source, "created": result.created, "updated": result.updated, "lines": len(lines)},
    )
    return result


def read_upload(file: BinaryIO, *, name: str, content_type: str, size: int) -> list[dict[str, Any]]:
    """The rows of an uploaded .xlsx or .csv as dicts by column key; a ReconciliationError for a bad file."""
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in UPLOAD_TYPES or content_type.split(";")[0].strip().lower() not in UPLOAD_TYPES[suffix]:
        raise ReconciliationError(
            _("Upload an Excel workbook (.xlsx) or a CSV file (.csv)."), code="bad_file", extra={"errors": []}
        )
    if size > UPLOAD_MAX_BYTES:
        raise ReconciliationError(
            _("The file is larger than %(mb)s MB.") % {"mb": UPLOAD_MAX_BYTES // (1024 * 1024)},
            code="bad_file",
            extra={"errors": []},
        )
    try:
        if suffix == ".csv":
            raw = file.read().decode("utf-8-sig")
            table = list(csv.reader(io.StringIO(raw)))
        else:
            from openpyxl import load_workbook

            workbook = load_workbook(file, read_only=True, data_only=True)
            table = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    except Exception:  # openpyxl raises many kinds of errors on a broken file
        raise ReconciliationError(
            _("The file cannot be read as %(kind)s.") % {"kind": suffix}, code="bad_file", extra={"errors": []}
        ) from None
    table = [row for row in table if any(_text(cell) for cell in row)]
    if not table:
        raise ReconciliationError(_("The file is empty."), code="bad_file", extra={"errors": []})
    spellings = {spelling.lower(): key for key, names in UPLOAD_COLUMNS.items() for spelling in names}
    header = [spellings.get(_text(cell).lower()) for cell in table[0]]
    missing = [key for key in ("line_id", "shipped_at", "item", "qty") if key not in header]
    if missing:
        errors = [{"row": 1, "column": key, "value": "", "reason": _("This column is missing.")} for key in missing]
        raise ReconciliationError(_("Required columns are missing."), code="bad_columns", extra={"errors": errors})
    return [{key: cell for key, cell in zip(header, row, strict=False) if key} for row in table[1:]]


# --- Reconciliation ------------------------------------------------------------------------------------------


@dataclass
class ItemDay:
    """One item on one day: what the ERP and the WMS say was shipped."""

    day: date
    item_id: int
    item_code: str
    item_name: str
    erp_qty: Decimal = Decimal(0)
    wms_qty: Decimal = Decimal(0)

    @property
    def difference(self) -> Decimal:
        return self.erp_qty - self.wms_qty


def deviation(erp_qty: Decimal, abs_difference: Decimal) -> Decimal | None:
    """Σ|ERP − WMS| ÷ Σ ERP, or None when the ERP shipped nothing."""
    return (abs_difference / erp_qty).quantize(Decimal("0.000001")) if erp_qty else None


def item_days(*, start: date, end: date, item_code: str = "", differs: bool | None = None) -> list[ItemDay]:
    """Every item-day between `start` and `end` (inclusive), by day then material code (three queries)."""
    erp = ErpOutboundLine.objects.filter(bill_date__range=(start, end))
    wms = WmsShipmentLine.objects.filter(ship_date__range=(start, end))
    if item_code:
        erp, wms = erp.filter(item__code=item_code), wms.filter(item__code=item_code)
    rows: dict[tuple[date, int], ItemDay] = {}
    for day_field, queryset, attribute in (("bill_date", erp, "erp_qty"), ("ship_date", wms, "wms_qty")):
        for day, item_id, qty in (
            queryset.order_by()
            .values_list(day_field, "item")
            .annotate(total=Sum("qty"))
            .values_list(day_field, "item", "total")
        ):
            row = rows.setdefault((day, item_id), ItemDay(day=day, item_id=item_id, item_code="", item_name=""))
            setattr(row, attribute, qty or Decimal(0))
    names = {item.pk: item for item in Item.objects.filter(pk__in={key[1] for key in rows}).only("code", "name")}
    result = []
    for row in rows.values():
        row.item_code, row.item_name = names[row.item_id].code, names[row.item_id].name
        if differs is None or (row.difference != 0) == differs:
            result.append(row)
    return sorted(result, key=lambda row: (row.day, row.item_code))


def period_start(day: date, period: str) -> date:
    """The first day of the day's week (Monday) or month, or the day itself."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _periods(start: date, end: date, period: str) -> list[date]:
    firsts, day = [], period_start(start, period)
    while day <= end:
        firsts.append(day)
        day = (
            day + timedelta(days=1 if period == "day" else 7)
            if period != "month"
            else (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        )
    return firsts


def summarise(rows: list[ItemDay]) -> dict[str, Any]:
    """Totals of some item-days: ERP, WMS, Σ|difference|, the deviation rate, how many item-days and differ."""
    erp = sum((row.erp_qty for row in rows), Decimal(0))
    wms = sum((row.wms_qty for row in rows), Decimal(0))
    gap = sum((abs(row.difference) for row in rows), Decimal(0))
    return {
        "erp_qty": erp,
        "wms_qty": wms,
        "abs_difference": gap,
        "deviation_rate": deviation(erp, gap),
        "item_days": len(rows),
        "differing_item_days": sum(1 for row in rows if row.difference != 0),
    }


def deviation_rate_by_period(start: date, end: date, period: str) -> list[dict]:
    """The deviation per day, week or month from `start` to `end` (inclusive), every period listed, oldest first.

    Each dict: period_start (date), erp_qty, wms_qty, abs_difference (Decimal), deviation_rate (Decimal fraction,
    or None when the ERP shipped nothing in the period). See the module docstring for the definition.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    grouped: dict[date, list[ItemDay]] = defaultdict(list)
    for row in item_days(start=start, end=end):
        grouped[period_start(row.day, period)].append(row)
    result = []
    for first in _periods(start, end, period):
        totals = summarise(grouped.get(first, []))
        result.append(
            {
                "period_start": first,
                "erp_qty": totals["erp_qty"],
                "wms_qty": totals["wms_qty"],
                "abs_difference": totals["abs_difference"],
                "deviation_rate": totals["deviation_rate"],
            }
        )
    return result


def period_end(first: date, period: str, end: date) -> date:
    """The last day of the period starting `first`, not past `end`."""
    following = _periods(first, first + timedelta(days=31), period)
    last = following[1] - timedelta(days=1) if len(following) > 1 else first
    return min(last, end)


def source_lines(*, day: date, item_code: str) -> dict[str, list]:
    """The ERP outbound lines and WMS lines behind one item-day, for drilling into a figure."""
    return {
        "erp": list(ErpOutboundLine.objects.filter(bill_date=day, item__code=item_code).order_by("bill_number")),
        "wms": list(WmsShipmentLine.objects.filter(ship_date=day, item__code=item_code).order_by("shipped_at")),
    }


# --- Today's shipments ---------------------------------------------------------------------------------------


@dataclass
class TodayShipments:
    """Today's shipments per customer, channel and item, as computed at `computed_at`."""

    day: date
    computed_at: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)


def _today_key(day: date) -> str:
    return f"integrations:today-shipments:{day.isoformat()}"


def compute_today_shipments(day: date) -> TodayShipments:
    """ERP outbound and WMS shipments of one day summed per customer, channel (shop) and item (five queries)."""
    shops = {a.erp_customer_number: a.name for a in ChannelAccount.objects.exclude(erp_customer_number="")}
    erp = list(
        ErpOutboundLine.objects.filter(bill_date=day)
        .order_by()
        .values_list("customer_number", "sale_order_number", "item__code", "item__name")
        .annotate(total=Sum("qty"))
    )
    wms = list(
        WmsShipmentLine.objects.filter(ship_date=day)
        .order_by()
        .values_list("customer", "order_number", "item__code", "item__name")
        .annotate(total=Sum("qty"))
    )
    by_erp_number = {
        number: (shop, customer)
        for number, shop, customer in SalesOrder.objects.filter(
            erp_number__in={row[1] for row in erp if row[1]}
        ).values_list("erp_number", "channel_account__name", "channel_account__erp_customer_number")
    }
    order_numbers = {row[1] for row in wms if row[1]}
    by_order: dict[str, tuple[str, str]] = {}
    for number, external, shop, customer in SalesOrder.objects.filter(
        Q(number__in=order_numbers) | Q(external_number__in=order_numbers)
    ).values_list("number", "external_number", "channel_account__name", "channel_account__erp_customer_number"):
        by_order[number] = by_order[external] = (shop, customer)
    totals: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(customer: str, shop: str, code: str, name: str, key: str, qty: Decimal) -> None:
        row = totals.setdefault(
            (customer, shop, code),
            {"customer": customer, "channel": shop, "item_code": code, "item_name": name,
             "erp_qty": Decimal(0), "wms_qty": Decimal(0)},
        )  # fmt: skip
        row[key] += qty

    for customer, sale_order, code, name, qty in erp:
        shop, _customer = by_erp_number.get(sale_order, (shops.get(customer, ""), customer))
        add(customer, shop or "", code, name, "erp_qty", qty)
    for customer, order_number, code, name, qty in wms:
        shop, shop_customer = by_order.get(order_number, ("", ""))
        add(shop_customer or customer, shop or "", code, name, "wms_qty", qty)
    rows = sorted(totals.values(), key=lambda row: (row["customer"], row["channel"], row["item_code"]))
    return TodayShipments(day=day, computed_at=timezone.now(), rows=rows)


def today_shipments_refresh(day: date | None = None) -> TodayShipments:
    """Compute the day's shipments (today in Asia/Shanghai by default) and keep them in the cache."""
    day = day or timezone.localdate(timezone=SHANGHAI)
    summary = compute_today_shipments(day)
    cache.set(_today_key(day), summary, TODAY_CACHE_SECONDS)
    return summary


def today_shipments(day: date | None = None) -> TodayShipments:
    """Today's shipments from the cache (refreshed every 5 minutes by beat), computed on a miss."""
    day = day or timezone.localdate(timezone=SHANGHAI)
    cached = cache.get(_today_key(day))
    return cached if isinstance(cached, TodayShipments) else today_shipments_refresh(day)
