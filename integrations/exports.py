"""Excel exports of the intake: the sync run log, with typed cells so Excel sorts, filters and sums them."""

import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.permissions import PRICING_FIELDS
from integrations.models import SyncRun
from orders.models import SalesOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Excel refuses cells longer than this; a run keeps up to 200 errors of up to 500 characters each.
EXCEL_CELL_LIMIT = 32_767
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(moment: datetime | None) -> datetime | None:
    # Excel has no time zones: write the wall-clock time in Shanghai, where the factory and the marketplaces are.
    return moment.astimezone(SHANGHAI).replace(tzinfo=None) if moment else None


def _text(sheet: WriteOnlyWorksheet, value: str, *, wrap: bool = False) -> WriteOnlyCell:
    # Marketplace messages are foreign text: strip what XML cannot hold, and never let "=…" become a formula.
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value)[:EXCEL_CELL_LIMIT])
    cell.data_type = "s"
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _moment(sheet: WriteOnlyWorksheet, value: datetime | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, _local(value))
    cell.number_format = DATETIME_FORMAT
    return cell


def _number(sheet: WriteOnlyWorksheet, value: float | int | None, number_format: str = "0") -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = number_format
    return cell


def errors_text(errors: list[dict[str, Any]]) -> str:
    """A run's errors as lines of "CODE: message (external id)"."""
    lines = []
    for error in errors:
        line = f"{error.get('code', '')}: {error.get('message', '')}"
        if error.get("external_id"):
            line += f" ({error['external_id']})"
        lines.append(line)
    return "\n".join(lines)


def sync_runs_xlsx(runs: Iterable[SyncRun]) -> bytes:
    """The given sync runs as an .xlsx: one row per run, a frozen bold header, dates as Excel dates in Shanghai."""
    columns = [
        (_("Started at"), 20),
        (_("Finished at"), 20),
        (_("Duration (s)"), 12),
        (_("Shop"), 24),
        (_("Shop code"), 10),
        (_("Marketplace"), 14),
        (_("Trigger"), 14),
        (_("Status"), 16),
        (_("Window start"), 20),
        (_("Window end"), 20),
        (_("Pages"), 8),
        (_("HTTP calls"), 10),
        (_("Retries"), 9),
        (_("Fetched"), 9),
        (_("Created"), 9),
        (_("Updated"), 9),
        (_("Unchanged"), 11),
        (_("Orders with new issues"), 14),
        (_("Errors"), 80),
    ]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Sync runs")[:31])
    sheet.freeze_panes = "A2"
    for index, (_label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for label, _width in columns:
        cell = _text(sheet, str(label))
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
        header.append(cell)
    sheet.append(header)
    for run in runs:
        duration = run.duration_seconds
        sheet.append(
            [
                _moment(sheet, run.started_at),
                _moment(sheet, run.finished_at),
                _number(sheet, round(duration, 1) if duration is not None else None, "0.0"),
                _text(sheet, run.source_name),
                _text(sheet, run.account.code if run.account_id else ""),
                _text(sheet, str(run.account.get_kind_display() if run.account_id else run.get_kind_display())),
                _text(sheet, str(run.get_trigger_display())),
                _text(sheet, str(run.get_status_display())),
                _moment(sheet, run.window_start),
                _moment(sheet, run.window_end),
                _number(sheet, run.pages),
                _number(sheet, run.http_calls),
                _number(sheet, run.retries),
                _number(sheet, run.fetched),
                _number(sheet, run.created),
                _number(sheet, run.updated),
                _number(sheet, run.unchanged),
                _number(sheet, run.anomalies),
                _text(sheet, errors_text(run.errors or []), wrap=True),
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet(workbook: Workbook, title: str, columns: list[tuple[str, int]]) -> WriteOnlyWorksheet:
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    for index, (_label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for label, _width in columns:
        cell = _text(sheet, str(label))
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
        header.append(cell)
    sheet.append(header)
    return sheet


def _day(sheet: WriteOnlyWorksheet, value) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = "yyyy-mm-dd"
    return cell


def reconciliation_xlsx(rows: Iterable, trend: list[dict[str, Any]], period: str) -> bytes:
    """Item-days (ERP qty, WMS qty, difference) and the trend per period, as numbers and dates Excel can sum."""
    workbook = Workbook(write_only=True)
    qty = "#,##0.####"
    sheet = _sheet(
        workbook,
        _("Item-days"),
        [(_("Day"), 12), (_("Material code"), 16), (_("Name"), 36), (_("ERP outbound qty"), 16),
         (_("WMS shipped qty"), 16), (_("Difference (ERP − WMS)"), 20)],
    )  # fmt: skip
    for row in rows:
        sheet.append(
            [_day(sheet, row.day), _text(sheet, row.item_code), _text(sheet, row.item_name),
             _number(sheet, row.erp_qty, qty), _number(sheet, row.wms_qty, qty),
             _number(sheet, row.difference, qty)]
        )  # fmt: skip
    sheet = _sheet(
        workbook,
        _("Deviation per %(period)s") % {"period": period},
        [(_("Period start"), 14), (_("ERP outbound qty"), 16), (_("WMS shipped qty"), 16),
         (_("Σ |ERP − WMS|"), 16), (_("Deviation rate"), 16)],
    )  # fmt: skip
    for row in trend:
        rate = row["deviation_rate"]
        sheet.append(
            [_day(sheet, row["period_start"]), _number(sheet, row["erp_qty"], qty),
             _number(sheet, row["wms_qty"], qty), _number(sheet, row["abs_difference"], qty),
             _number(sheet, rate, "0.00%") if rate is not None else _text(sheet, "")]
        )  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _money(sheet: WriteOnlyWorksheet, value: Decimal | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = "#,##0.00"
    return cell


def orders_xlsx(orders: Iterable[SalesOrder], *, pricing: bool) -> bytes:
    """Sales orders as an .xlsx, one row per line with its order's figures, for reconciliation.

    Without `pricing` the columns of prices and discounts (and the goods total they can be worked out from) are
    not in the workbook at all.
    """
    columns: list[tuple[str, str, int]] = [
        ("number", _("Order"), 22),
        ("shop", _("Shop code"), 10),
        ("status", _("Status"), 14),
        ("received_at", _("Received at"), 20),
        ("paid_at", _("Paid at"), 20),
        ("buyer", _("Buyer"), 18),
        ("currency", _("Currency"), 9),
        ("goods_amount", _("Goods amount"), 13),
        ("discount_amount", _("Order discount"), 13),
        ("shipping_amount", _("Shipping"), 11),
        ("paid_amount", _("Paid amount"), 13),
        ("erp_number", _("ERP bill number"), 16),
        ("line_no", _("Line"), 6),
        ("external_sku", _("Marketplace SKU"), 18),
        ("title", _("Title"), 30),
        ("item", _("Item"), 16),
        ("qty", _("Qty"), 9),
        ("unit_price", _("Unit price"), 12),
        ("discount", _("Line discount"), 12),
    ]
    if not pricing:
        columns = [column for column in columns if column[0] not in PRICING_FIELDS]
    keys = [key for key, _label, _width in columns]
    workbook = Workbook(write_only=True)
    sheet = _sheet(workbook, _("Sales orders"), [(label, width) for _key, label, width in columns])
    for order in orders:
        figures = {
            "number": _text(sheet, order.number),
            "shop": _text(sheet, order.channel_account.code),
            "status": _text(sheet, str(order.get_status_display())),
            "received_at": _moment(sheet, order.received_at),
            "paid_at": _moment(sheet, order.paid_at),
            "buyer": _text(sheet, order.buyer),
            "currency": _text(sheet, order.currency),
            "shipping_amount": _money(sheet, order.shipping_amount),
            "paid_amount": _money(sheet, order.paid_amount),
            "erp_number": _text(sheet, order.erp_number),
        }
        if pricing:
            figures["goods_amount"] = _money(sheet, order.goods_amount)
            figures["discount_amount"] = _money(sheet, order.discount_amount)
        for line in order.lines.all() or [None]:
            row = dict(figures)
            if line is not None:
                row.update(
                    line_no=_number(sheet, line.line_no),
                    external_sku=_text(sheet, line.external_sku),
                    title=_text(sheet, line.title),
                    item=_text(sheet, line.item.code if line.item_id else ""),
                    qty=_number(sheet, line.qty, "0.####"),
                )
                if pricing:
                    row.update(unit_price=_money(sheet, line.unit_price), discount=_money(sheet, line.discount))
            sheet.append([row.get(key) for key in keys])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
