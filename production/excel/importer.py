"""Upload of master data from .xlsx: every row is checked first, then all rows are written in one transaction, or none.

Reading the workbook and checking each cell needs no database; the checks across rows (duplicates, references,
BOM loops) and the writes run in one transaction that loads each table's existing keys with one query and
writes with bulk_create / bulk_update in batches.
"""

import os
import time
from typing import Any, BinaryIO

from django.db import connection, transaction
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from accounts.models import User
from accounts.services import audit_record
from accounts.uploads import CSV, XLS, XLSX, UploadRefused, check_upload, sniff
from production.errors import ProductionError
from production.excel.columns import (
    HEADER_ROW,
    KEY_ROW,
    SHEETS,
    CellError,
    Column,
    SheetSpec,
    cell_text,
    normalise,
    parse_cell,
)
from production.excel.parsed import ImportReport, Row, Sheet
from production.excel.upserts import LOCKED_MODELS, UPSERTS

MAX_FILE_MB = 20
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024


class ExcelFileError(ProductionError):
    """The upload is not a workbook Loopline can read (not .xlsx, damaged or too large)."""

    code = "excel_file"


def open_workbook(file: BinaryIO) -> Workbook:
    """The workbook in `file`, read-only; ExcelFileError if it is too large or not an .xlsx, judged by content."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(0)
    if size > MAX_FILE_BYTES:
        raise ExcelFileError(_("The file is larger than %(size)d MB.") % {"size": MAX_FILE_MB})
    try:
        check_upload(file, allowed={XLSX}, max_bytes=MAX_FILE_BYTES, what=_("an Excel .xlsx workbook"))
    except UploadRefused as exc:
        found = sniff(file)
        if found == XLS:
            raise ExcelFileError(
                _("This is an old .xls workbook: save it as .xlsx in Excel and upload it again.")
            ) from exc
        if found == CSV:
            raise ExcelFileError(
                _(
                    "This file is not an Excel .xlsx workbook but CSV text: "
                    "open it in Excel, save it as .xlsx and upload that."
                )
            ) from exc
        if exc.code == "upload_type":
            raise ExcelFileError(_("This file is not an Excel .xlsx workbook.")) from exc
        raise ExcelFileError(exc.message) from exc
    try:
        return load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:
        # openpyxl fails in many ways on damaged content (BadZipFile, KeyError, InvalidFileException, …).
        raise ExcelFileError(_("This file is not an Excel .xlsx workbook.")) from exc


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _header_index(header: tuple, spec: SheetSpec, report: ImportReport) -> dict[str, tuple[int, str]]:
    """Position and spelling of each known column of the header row; unknown, doubled and missing ones reported."""
    by_spelling = {spelling: column for column in spec.columns for spelling in column.spellings}
    expected = "、".join(column.header for column in spec.columns)
    found: dict[str, tuple[int, str]] = {}
    for position, raw in enumerate(header):
        text = cell_text(raw)
        if not text:
            continue
        column = by_spelling.get(normalise(text))
        if column is None:
            report.error(
                HEADER_ROW, text, text, _("Unknown column; the columns are: %(columns)s.") % {"columns": expected}
            )
        elif column.key in found:
            report.error(HEADER_ROW, text, text, _("This column appears twice."))
        else:
            found[column.key] = (position, text)
    for column in spec.columns:
        if column.required and column.key not in found:
            report.error(HEADER_ROW, column.header, "", _("Required column missing."))
    return found


def _is_key_row(values: tuple, index: dict[str, tuple[int, str]]) -> bool:
    # Templates and exports carry the English keys in row 2, under the Chinese headers.
    cells = [(key, values[position] if position < len(values) else None) for key, (position, _t) in index.items()]
    filled = [(key, raw) for key, raw in cells if not _blank(raw)]
    return bool(filled) and all(normalise(cell_text(raw)) == normalise(key) for key, raw in filled)


def read_sheet(workbook: Workbook, spec: SheetSpec, report: ImportReport) -> Sheet | None:
    """The parsed rows of the sheet for `spec`; None (with the problems in `report`) if the header is wrong."""
    worksheet = workbook[spec.title] if spec.title in workbook.sheetnames else workbook.worksheets[0]
    lines = worksheet.iter_rows(values_only=True)
    header = next(lines, None)
    if header is None:
        report.error(HEADER_ROW, "", "", _("The sheet is empty."))
        return None
    index = _header_index(header, spec, report)
    if not report.ok:
        return None
    columns: list[tuple[str, int, Column]] = [(key, pos, spec.column(key)) for key, (pos, _t) in index.items()]
    sheet = Sheet(spec=spec, headers={key: text for key, (_p, text) in index.items()}, rows=[])
    for number, values in enumerate(lines, start=HEADER_ROW + 1):
        if number == KEY_ROW and _is_key_row(values, index):
            continue
        raw = {key: values[pos] if pos < len(values) else None for key, pos, _c in columns}
        if all(_blank(cell) for cell in raw.values()):
            continue
        row = Row(number=number, values={}, raw=raw)
        for key, _pos, column in columns:
            cell = raw[key]
            if _blank(cell):
                if column.required:
                    sheet.fail(report, row, key, _("A value is required."))
                else:
                    row.values[key] = column.default
                continue
            try:
                row.values[key] = parse_cell(column, cell)
            except CellError as exc:
                sheet.fail(report, row, key, str(exc))
        sheet.rows.append(row)
    if not sheet.rows:
        report.error(HEADER_ROW + 1, "", "", _("The sheet has no rows to import."))
    report.rows = len(sheet.rows)
    return sheet


def _lock(kind: str) -> None:
    """Keep other writers of the tables out until commit, so the checks (BOM loops above all) stay true."""
    if connection.vendor != "postgresql":
        return  # SQLite's transactions here take the write lock up front (transaction_mode IMMEDIATE).
    with connection.cursor() as cursor:
        for model in LOCKED_MODELS[kind]:
            # SHARE ROW EXCLUSIVE: readers go on; other writers, and a second import, wait for the commit.
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} IN SHARE ROW EXCLUSIVE MODE")


def masterdata_import(
    *, kind: str, file: BinaryIO, by: User | None, filename: str = "", dry_run: bool = False
) -> ImportReport:
    """Check every row of an .xlsx of `kind` and upsert them all in one transaction; any problem writes nothing."""
    started = time.perf_counter()
    report = ImportReport(kind=kind, filename=filename, dry_run=dry_run)
    workbook = open_workbook(file)
    try:
        sheet = read_sheet(workbook, SHEETS[kind], report)
    except Exception as exc:
        # read-only mode parses lazily: a damaged sheet surfaces only while its rows are read.
        raise ExcelFileError(_("This file is not an Excel .xlsx workbook.")) from exc
    finally:
        workbook.close()
    if sheet is not None and sheet.rows:
        with transaction.atomic():
            if not dry_run:
                _lock(kind)
            UPSERTS[kind](sheet, report, write=not dry_run)
            if report.written:
                audit_record(
                    actor=by,
                    verb=f"masterdata.import_{kind}",
                    changes={"kind": kind, "file": filename[:200], **report.counts()},
                )
        # Problems in reading order: by row, then by the column's place in the file.
        place = {text: position for position, text in enumerate(sheet.headers.values())}
        report.errors.sort(key=lambda error: (error.row, place.get(error.column, -1 if not error.column else 999)))
    report.seconds = time.perf_counter() - started
    return report
