"""Master data out to .xlsx: exports that import back unchanged, and blank templates with drop-downs and help."""

import io
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from accounts.models import Team
from production.excel.columns import (
    BOOLEAN,
    CHOICE,
    DECIMAL,
    INSTRUCTIONS_TITLE,
    INTEGER,
    KIND_LABELS,
    LISTS_TITLE,
    NO,
    SHEETS,
    UNITS,
    YES,
    Column,
    SheetSpec,
)
from production.models import BomLine, Item, Operation, RoutingStep, WorkCenter, Workshop

FIRST_DATA_ROW = 3
LAST_ROW = 1_048_576  # Excel's last row: drop-downs cover every row a user may fill
# Excel keeps 15 significant digits; longer decimals go out as text so that they come back exact.
EXCEL_DIGITS = 15
HEADER_FONT, HEADER_FILL = Font(bold=True), PatternFill("solid", fgColor="EEF1F4")
REQUIRED_FILL = PatternFill("solid", fgColor="FDE9D9")
KEY_FONT = Font(italic=True, color="808080", size=9)


def _rows(kind: str) -> QuerySet:
    """The stored rows of `kind` as tuples in column order, ordered by natural key."""
    if kind == "items":
        fields = ("code", "name", "specification", "category", "unit", "kind", "active")
        return Item.objects.order_by("code").values_list(*fields)
    if kind == "boms":
        fields = ("parent__code", "child__code", "sequence", "qty_per", "scrap_pct")
        return BomLine.objects.order_by("parent__code", "sequence", "child__code").values_list(*fields)
    if kind == "workcenters":
        fields = (
            "code",
            "name",
            "workshop__code",
            "workshop__name",
            "team__code",
            "erp_code",
            "capacity_hours_per_day",
            "active",
        )
        return WorkCenter.objects.order_by("code").values_list(*fields)
    fields = ("item__code", "sequence", "operation__name", "work_center__code", "std_minutes_per_unit", "setup_minutes")
    return RoutingStep.objects.order_by("item__code", "sequence").values_list(*fields)


def _text_cell(sheet: Worksheet, value: str) -> Cell:
    # Codes such as "00123" must stay text, and "=…" must never become a formula.
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


def _cell(sheet: Worksheet, column: Column, value: Any) -> Cell | None:
    """A typed cell: numbers as numbers, kinds and flags with the file's Chinese words."""
    if value is None or value == "":
        return None
    if column.type == CHOICE:
        return _text_cell(sheet, KIND_LABELS[value])
    if column.type == BOOLEAN:
        return _text_cell(sheet, YES if value else NO)
    if column.type == INTEGER:
        return WriteOnlyCell(sheet, int(value))
    if column.type == DECIMAL:
        number = Decimal(value).normalize()
        if len(number.as_tuple().digits) > EXCEL_DIGITS:
            return _text_cell(sheet, f"{number:f}")
        return WriteOnlyCell(sheet, int(number) if number == number.to_integral_value() else float(number))
    return _text_cell(sheet, str(value))


def _header(sheet: Worksheet, spec: SheetSpec) -> None:
    """Chinese headers (required ones shaded), the English keys below, widths, frozen above the data."""
    sheet.freeze_panes = f"A{FIRST_DATA_ROW}"
    for position, column in enumerate(spec.columns, start=1):
        sheet.column_dimensions[get_column_letter(position)].width = column.width
    headers, keys = [], []
    for column in spec.columns:
        header = _text_cell(sheet, column.header)
        header.font, header.fill = HEADER_FONT, REQUIRED_FILL if column.required else HEADER_FILL
        headers.append(header)
        key = _text_cell(sheet, column.key)
        key.font = KEY_FONT
        keys.append(key)
    sheet.append(headers)
    sheet.append(keys)


def masterdata_xlsx(kind: str) -> bytes:
    """Every stored row of `kind` in the upload format; importing the file back changes nothing."""
    spec = SHEETS[kind]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=spec.title)
    _header(sheet, spec)
    for values in _rows(kind).iterator(chunk_size=5000):
        sheet.append([_cell(sheet, column, value) for column, value in zip(spec.columns, values, strict=True)])
    return _save(workbook)


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- Templates ------------------------------------------------------------------------------------------


def _lists(kind: str) -> dict[str, list[str]]:
    """The drop-down lists a template offers, by column key (typing another value only warns)."""
    if kind == "items":
        used = Item.objects.order_by().values_list("unit", flat=True).distinct()
        return {"unit": [*UNITS, *sorted(set(used) - set(UNITS))]}
    if kind == "workcenters":
        return {
            "workshop": list(Workshop.objects.values_list("code", flat=True)),
            "team": list(Team.objects.values_list("code", flat=True)),
        }
    if kind == "routings":
        return {
            "operation": list(Operation.objects.values_list("name", flat=True)),
            "work_center": list(WorkCenter.objects.filter(active=True).values_list("code", flat=True)),
        }
    return {}


def _write_lists(workbook: Workbook, lists: dict[str, list[str]]) -> dict[str, str]:
    """Long drop-down lists go to a hidden sheet (an inline list is limited to 255 characters); their ranges."""
    lists = {key: values for key, values in lists.items() if values}
    if not lists:
        return {}
    sheet = workbook.create_sheet(LISTS_TITLE)
    sheet.sheet_state = "hidden"
    ranges = {}
    for position, (key, values) in enumerate(lists.items(), start=1):
        for row, value in enumerate(values, start=1):
            sheet.cell(row=row, column=position, value=value).data_type = "s"
        letter = get_column_letter(position)
        ranges[key] = f"{quote_sheetname(LISTS_TITLE)}!${letter}$1:${letter}${len(values)}"
    return ranges


def _validation(column: Column, ranges: dict[str, str]) -> DataValidation | None:
    """The data validation for one column: a list, a number range, or none."""
    if column.type == CHOICE:
        rule = DataValidation(type="list", formula1='"{}"'.format(",".join(KIND_LABELS.values())))
    elif column.type == BOOLEAN:
        rule = DataValidation(type="list", formula1=f'"{YES},{NO}"')
    elif column.key in ranges:
        rule = DataValidation(type="list", formula1=ranges[column.key])
    elif column.type in (DECIMAL, INTEGER) and column.minimum is not None:
        kind = "whole" if column.type == INTEGER else "decimal"
        low = column.minimum + (Decimal("0.000001") if column.minimum_exclusive else 0)
        high = column.maximum if column.maximum is not None else Decimal("1e12")
        rule = DataValidation(type=kind, operator="between", formula1=str(low), formula2=str(high))
    else:
        return None
    # Warnings, not stops: the importer accepts more spellings than a drop-down can show, and checks them all.
    rule.errorStyle = "warning"
    rule.allow_blank = True
    rule.showErrorMessage = rule.showInputMessage = True
    rule.prompt = rule.error = str(column.help)[:255]
    return rule


def _instructions(sheet: Worksheet, spec: SheetSpec) -> None:
    """How to fill in the data sheet: each column explained, the rules of the import, and example rows."""
    bold = Font(bold=True)
    sheet.append([_("How to fill in the sheet %(sheet)s") % {"sheet": spec.title}])
    sheet["A1"].font = Font(bold=True, size=13)
    notes = [
        _("Row 1 holds the column headers, in Chinese or as the English key of row 2; row 2 may be kept or deleted."),
        _("An existing %(key)s updates that row, a new one adds a row; rows missing from the file are kept.")
        % {"key": " + ".join(spec.column(key).header for key in spec.key)},
        _("Every row is checked first: if any row is wrong nothing is imported, and each problem is listed."),
        _("Optional columns may be left out of the file: stored values of a left-out column are kept."),
    ]
    if spec.kind == "boms":
        notes.append(_("A multi-level BOM is simply more rows: list each parent with its direct components."))
    for note in notes:
        sheet.append([note])
    sheet.append([])
    sheet.append([_("Column"), _("Key"), _("Required"), _("Description"), _("Example")])
    for cell in sheet[sheet.max_row]:
        cell.font = bold
    for column in spec.columns:
        required = _("yes") if column.required else ""
        sheet.append([column.header, column.key, required, str(column.help), column.example])
    sheet.append([])
    sheet.append([_("Example rows")])
    sheet[f"A{sheet.max_row}"].font = bold
    sheet.append([column.header for column in spec.columns])
    sheet.append([column.key for column in spec.columns])
    for example in spec.examples:
        sheet.append(list(example))
    for letter, width in zip("ABCDEF", (18, 26, 10, 70, 18, 14), strict=True):
        sheet.column_dimensions[letter].width = width


def template_xlsx(kind: str) -> bytes:
    """A blank workbook for `kind`: headers, widths, frozen header rows, drop-downs and an instructions sheet."""
    spec = SHEETS[kind]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = spec.title
    _header(sheet, spec)
    for cell in (*sheet[1], *sheet[2]):
        cell.alignment = Alignment(vertical="center")
    instructions = workbook.create_sheet(INSTRUCTIONS_TITLE)
    ranges = _write_lists(workbook, _lists(kind))
    for position, column in enumerate(spec.columns, start=1):
        rule = _validation(column, ranges)
        if rule is not None:
            letter = get_column_letter(position)
            rule.add(f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_ROW}")
            sheet.add_data_validation(rule)
    _instructions(instructions, spec)
    return _save(workbook)
