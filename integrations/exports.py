"""Excel exports of the intake: the sync run log, with typed cells so Excel sorts, filters and sums them."""

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from accounts.excel import MONEY, add_sheet, day_cell, moment_cell, number_cell, text_cell, workbook_bytes
from accounts.permissions import PRICING_FIELDS
from integrations.models import SyncRun
from orders.models import SalesOrder


def money_cell(sheet: WriteOnlyWorksheet, value: Decimal | None) -> WriteOnlyCell:
    return number_cell(sheet, value, MONEY)


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
    sheet = add_sheet(workbook, _("Sync runs"), columns)
    for run in runs:
        duration = run.duration_seconds
        sheet.append(
            [
                moment_cell(sheet, run.started_at),
                moment_cell(sheet, run.finished_at),
                number_cell(sheet, round(duration, 1) if duration is not None else None, "0.0"),
                text_cell(sheet, run.source_name),
                text_cell(sheet, run.account.code if run.account_id else ""),
                text_cell(sheet, str(run.account.get_kind_display() if run.account_id else run.get_kind_display())),
                text_cell(sheet, str(run.get_trigger_display())),
                text_cell(sheet, str(run.get_status_display())),
                moment_cell(sheet, run.window_start),
                moment_cell(sheet, run.window_end),
                number_cell(sheet, run.pages),
                number_cell(sheet, run.http_calls),
                number_cell(sheet, run.retries),
                number_cell(sheet, run.fetched),
                number_cell(sheet, run.created),
                number_cell(sheet, run.updated),
                number_cell(sheet, run.unchanged),
                number_cell(sheet, run.anomalies),
                text_cell(sheet, errors_text(run.errors or []), wrap=True),
            ]
        )
    return workbook_bytes(workbook)


def reconciliation_xlsx(rows: Iterable, trend: list[dict[str, Any]], period: str) -> bytes:
    """Item-days (ERP qty, WMS qty, difference) and the trend per period, as numbers and dates Excel can sum."""
    workbook = Workbook(write_only=True)
    qty = "#,##0.####"
    sheet = add_sheet(
        workbook,
        _("Item-days"),
        [(_("Day"), 12), (_("Material code"), 16), (_("Name"), 36), (_("ERP outbound qty"), 16),
         (_("WMS shipped qty"), 16), (_("Difference (ERP − WMS)"), 20)],
    )  # fmt: skip
    for row in rows:
        sheet.append(
            [day_cell(sheet, row.day), text_cell(sheet, row.item_code), text_cell(sheet, row.item_name),
             number_cell(sheet, row.erp_qty, qty), number_cell(sheet, row.wms_qty, qty),
             number_cell(sheet, row.difference, qty)]
        )  # fmt: skip
    sheet = add_sheet(
        workbook,
        _("Deviation per %(period)s") % {"period": period},
        [(_("Period start"), 14), (_("ERP outbound qty"), 16), (_("WMS shipped qty"), 16),
         (_("Σ |ERP − WMS|"), 16), (_("Deviation rate"), 16)],
    )  # fmt: skip
    for row in trend:
        rate = row["deviation_rate"]
        sheet.append(
            [day_cell(sheet, row["period_start"]), number_cell(sheet, row["erp_qty"], qty),
             number_cell(sheet, row["wms_qty"], qty), number_cell(sheet, row["abs_difference"], qty),
             number_cell(sheet, rate, "0.00%") if rate is not None else text_cell(sheet, "")]
        )  # fmt: skip
    return workbook_bytes(workbook)


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
    sheet = add_sheet(workbook, _("Sales orders"), [(label, width) for _key, label, width in columns])
    for order in orders:
        figures = {
            "number": text_cell(sheet, order.number),
            "shop": text_cell(sheet, order.channel_account.code),
            "status": text_cell(sheet, str(order.get_status_display())),
            "received_at": moment_cell(sheet, order.received_at),
            "paid_at": moment_cell(sheet, order.paid_at),
            "buyer": text_cell(sheet, order.buyer),
            "currency": text_cell(sheet, order.currency),
            "shipping_amount": money_cell(sheet, order.shipping_amount),
            "paid_amount": money_cell(sheet, order.paid_amount),
            "erp_number": text_cell(sheet, order.erp_number),
        }
        if pricing:
            figures["goods_amount"] = money_cell(sheet, order.goods_amount)
            figures["discount_amount"] = money_cell(sheet, order.discount_amount)
        for line in order.lines.all() or [None]:
            row = dict(figures)
            if line is not None:
                row.update(
                    line_no=number_cell(sheet, line.line_no),
                    external_sku=text_cell(sheet, line.external_sku),
                    title=text_cell(sheet, line.title),
                    item=text_cell(sheet, line.item.code if line.item_id else ""),
                    qty=number_cell(sheet, line.qty, "0.####"),
                )
                if pricing:
                    row.update(unit_price=money_cell(sheet, line.unit_price), discount=money_cell(sheet, line.discount))
            sheet.append([row.get(key) for key in keys])
    return workbook_bytes(workbook)
