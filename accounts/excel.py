"""Cells and sheets of the Excel exports (pages, API, audit trail, analytics workbooks), written in openpyxl's
write-only mode so a long export streams row by row instead of filling memory.

Text is typed as text, stripped of what XML cannot hold and cut to Excel's cell limit: names and messages come
from marketplaces, ERP and people, and "=…" must never become a formula in someone's Excel. Excel has no time
zones, so moments are written as the wall-clock time where the factory is (settings.TIME_ZONE).
"""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXCEL_CELL_LIMIT = 32_767  # Excel refuses longer cells
SECONDS = "yyyy-mm-dd hh:mm:ss"
MINUTES = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"
MONEY = "#,##0.00"


def local(moment: datetime | None) -> datetime | None:
    """The wall-clock time at the factory, without a zone (Excel has none)."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(tzinfo=None) if moment else None


def text_cell(sheet: WriteOnlyWorksheet, value: str | None, *, wrap: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value or "")[:EXCEL_CELL_LIMIT])
    cell.data_type = "s"
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def moment_cell(sheet: WriteOnlyWorksheet, value: datetime | None, number_format: str = SECONDS) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, local(value))
    cell.number_format = number_format
    return cell


def day_cell(sheet: WriteOnlyWorksheet, value: date | None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = DAY
    return cell


def number_cell(
    sheet: WriteOnlyWorksheet, value: Decimal | float | int | None, number_format: str = "0"
) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = number_format
    return cell


def add_sheet(workbook: Workbook, title: str, columns: list[tuple[str, int]]) -> WriteOnlyWorksheet:
    """A sheet with a frozen bold header of these (label, width) columns."""
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    for index, (_label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for label, _width in columns:
        cell = text_cell(sheet, str(label))
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
        header.append(cell)
    sheet.append(header)
    return sheet


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
