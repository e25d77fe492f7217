"""Master data in and out of Excel, for factories whose ERP cannot be reached: items, BOMs, work centres, routings.

`masterdata_import` checks a whole .xlsx and writes all of its rows or none; `masterdata_xlsx` exports in the
same format (an export imports back unchanged); `template_xlsx` is a blank workbook with help and drop-downs.
"""

from production.excel.columns import KINDS, SHEETS
from production.excel.export import masterdata_xlsx, template_xlsx
from production.excel.importer import MAX_FILE_BYTES, ExcelFileError, masterdata_import
from production.excel.parsed import ImportReport, RowError

__all__ = [
    "KINDS",
    "MAX_FILE_BYTES",
    "SHEETS",
    "ExcelFileError",
    "ImportReport",
    "RowError",
    "masterdata_import",
    "masterdata_xlsx",
    "template_xlsx",
]
