"""Excel exports of the Gantt and of order progress: typed cells (dates, numbers, percentages) and set widths."""

import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from dashboards.gantt import Bar
from dashboards.progress import OrderProgress

SHANGHAI = ZoneInfo("Asia/Shanghai")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"


def _text(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    # Titles and SKUs come from marketplaces: strip what XML cannot hold, and never let "=…" become a formula.
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value or "")[:32_767])
    cell.data_type = "s"
    return cell


def _moment(sheet: WriteOnlyWorksheet, value: datetime | None) -> WriteOnlyCell:
    # Excel has no time zones: the wall-clock time in Shanghai, where the factory is.
    cell = WriteOnlyCell(sheet, value.astimezone(SHANGHAI).replace(tzinfo=None) if value else None)
    cell.number_format = DATETIME_FORMAT
    return cell


def _day(sheet: WriteOnlyWorksheet, value: date | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = DATE_FORMAT
    return cell


def _number(sheet: WriteOnlyWorksheet, value: Decimal | int | None, number_format: str = "0.###") -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = number_format
    return cell


def _percent(sheet: WriteOnlyWorksheet, value: Decimal | None) -> WriteOnlyCell:
    return _number(sheet, value / 100 if value is not None else None, "0.0%")


def _workbook(title: str, columns: list[tuple[str, int]]) -> tuple[Workbook, WriteOnlyWorksheet]:
    workbook = Workbook(write_only=True)
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
    return workbook, sheet


def _bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def gantt_xlsx(bars: Iterable[Bar]) -> bytes:
    """One row per operation: work order, step, work centre, plan, actual, progress, projection, late/at risk."""
    columns = [
        (_("Work order"), 18),
        (_("Sequence"), 8),
        (_("Operation"), 14),
        (_("Work centre"), 12),
        (_("Status"), 10),
        (_("Planned start"), 17),
        (_("Planned end"), 17),
        (_("Actual start"), 17),
        (_("Actual end"), 17),
        (_("Quantity"), 10),
        (_("Good"), 10),
        (_("Scrap"), 10),
        (_("Progress"), 9),
        (_("Projected finish"), 17),
        (_("Late"), 7),
        (_("At risk"), 8),
    ]
    workbook, sheet = _workbook(_("Gantt"), columns)
    yes, no = _("yes"), ""
    for bar in bars:
        sheet.append(
            [
                _text(sheet, bar.work_order),
                _number(sheet, bar.sequence, "0"),
                _text(sheet, bar.name),
                _text(sheet, bar.work_center),
                _text(sheet, bar.status_label),
                _moment(sheet, bar.planned_start),
                _moment(sheet, bar.planned_end),
                _moment(sheet, bar.actual_start),
                _moment(sheet, bar.actual_end),
                _number(sheet, bar.qty),
                _number(sheet, bar.good_qty),
                _number(sheet, bar.scrap_qty),
                _percent(sheet, bar.progress),
                _moment(sheet, bar.projected_end),
                _text(sheet, yes if bar.late else no),
                _text(sheet, yes if bar.at_risk else no),
            ]
        )
    return _bytes(workbook)


def order_progress_xlsx(orders: Iterable[OrderProgress]) -> bytes:
    """One row per order line: order, buyer, promised date, current operation, % done, projection, risk."""
    columns = [
        (_("Order number"), 20),
        (_("Marketplace order number"), 22),
        (_("Buyer"), 16),
        (_("Shop"), 16),
        (_("Order status"), 12),
        (_("Promised date"), 12),
        (_("Line"), 6),
        (_("SKU"), 18),
        (_("Item"), 16),
        (_("Quantity"), 10),
        (_("Work orders"), 24),
        (_("Current operation"), 22),
        (_("Done"), 8),
        (_("Projected completion"), 18),
        (_("Late risk"), 10),
    ]
    workbook, sheet = _workbook(_("Order progress"), columns)
    for order in orders:
        for line in order.lines:
            current = " ".join(
                part for part in (line.current_work_order, line.current_operation, line.current_work_center) if part
            )
            sheet.append(
                [
                    _text(sheet, order.number),
                    _text(sheet, order.external_number),
                    _text(sheet, order.buyer),
                    _text(sheet, order.shop),
                    _text(sheet, order.status_label),
                    _day(sheet, order.promised_date),
                    _number(sheet, line.line_no, "0"),
                    _text(sheet, line.sku),
                    _text(sheet, line.item_code),
                    _number(sheet, line.qty),
                    _text(sheet, ", ".join(line.work_orders)),
                    _text(sheet, current),
                    _percent(sheet, line.pct_done),
                    _moment(sheet, line.projected),
                    _text(sheet, line.risk_label),
                ]
            )
    return _bytes(workbook)
