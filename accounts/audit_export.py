"""The audit trail as an Excel workbook, streamed row by row so a long trail does not fill memory."""

import json
from collections.abc import Iterable

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from accounts.excel import moment_cell, text_cell, workbook_bytes
from accounts.models import AuditEvent


def audit_xlsx(events: Iterable[AuditEvent]) -> bytes:
    """One row per audit event: time (local), who, API key, action, object type, object, id, changes, IP."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Audit trail"))
    headers = [_("Time"), _("Who"), _("API key"), _("Action"), _("Object type"), _("Object"), _("Object id")]
    headers += [_("Changes"), _("IP address")]
    for letter, width in zip("ABCDEFGHI", [20, 24, 20, 26, 18, 36, 12, 60, 16], strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    header_cells = []
    for title in headers:
        cell = WriteOnlyCell(sheet, title)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    for event in events:
        sheet.append(
            [
                moment_cell(sheet, event.at),
                text_cell(sheet, event.actor_label),
                text_cell(sheet, event.api_key.name if event.api_key else ""),
                text_cell(sheet, event.verb),
                text_cell(sheet, event.content_type.name if event.content_type else ""),
                text_cell(sheet, event.object_repr),
                text_cell(sheet, event.object_id),
                text_cell(
                    sheet, json.dumps(event.changes, ensure_ascii=False, sort_keys=True) if event.changes else ""
                ),
                text_cell(sheet, event.ip or ""),
            ]
        )
    return workbook_bytes(workbook)
