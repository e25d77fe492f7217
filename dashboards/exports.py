"""Excel exports of the Gantt and of order progress: typed cells (dates, numbers, percentages) and set widths."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.excel import MINUTES, add_sheet, day_cell, moment_cell, number_cell, text_cell, workbook_bytes
from dashboards.gantt import Bar
from dashboards.progress import OrderProgress


def _moment(sheet: WriteOnlyWorksheet, value: datetime | None) -> WriteOnlyCell:
    return moment_cell(sheet, value, MINUTES)


def _percent(sheet: WriteOnlyWorksheet, value: Decimal | None) -> WriteOnlyCell:
    return number_cell(sheet, value / 100 if value is not None else None, "0.0%")


def _workbook(title: str, columns: list[tuple[str, int]]) -> tuple[Workbook, WriteOnlyWorksheet]:
    workbook = Workbook(write_only=True)
    return workbook, add_sheet(workbook, title, columns)


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
                text_cell(sheet, bar.work_order),
                number_cell(sheet, bar.sequence, "0"),
                text_cell(sheet, bar.name),
                text_cell(sheet, bar.work_center),
                text_cell(sheet, bar.status_label),
                _moment(sheet, bar.planned_start),
                _moment(sheet, bar.planned_end),
                _moment(sheet, bar.actual_start),
                _moment(sheet, bar.actual_end),
                number_cell(sheet, bar.qty, "0.###"),
                number_cell(sheet, bar.good_qty, "0.###"),
                number_cell(sheet, bar.scrap_qty, "0.###"),
                _percent(sheet, bar.progress),
                _moment(sheet, bar.projected_end),
                text_cell(sheet, yes if bar.late else no),
                text_cell(sheet, yes if bar.at_risk else no),
            ]
        )
    return workbook_bytes(workbook)


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
                    text_cell(sheet, order.number),
                    text_cell(sheet, order.external_number),
                    text_cell(sheet, order.buyer),
                    text_cell(sheet, order.shop),
                    text_cell(sheet, order.status_label),
                    day_cell(sheet, order.promised_date),
                    number_cell(sheet, line.line_no, "0"),
                    text_cell(sheet, line.sku),
                    text_cell(sheet, line.item_code),
                    number_cell(sheet, line.qty, "0.###"),
                    text_cell(sheet, ", ".join(line.work_orders)),
                    text_cell(sheet, current),
                    _percent(sheet, line.pct_done),
                    _moment(sheet, line.projected),
                    text_cell(sheet, line.risk_label),
                ]
            )
    return workbook_bytes(workbook)
