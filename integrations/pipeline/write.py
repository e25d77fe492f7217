"""Write: one page of raw orders into sales orders, lines and issues with a handful of bulk statements.

Keyed by (channel account, external id): a re-poll of the same window creates nothing, an unchanged payload
(same hash) is skipped without parsing, and an order that changed after it was confirmed raises an issue
instead of being overwritten.
"""

import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone, translation

from integrations.channels.base import ChannelClient, ChannelError, NormalisedOrder, RawOrder
from integrations.models import ChannelAccount, FieldMapping
from integrations.pipeline.bulk import JsonText, copy_new_rows, insert_rows, stored_keys
from integrations.pipeline.checks import IssueSpec, SkuResolver, apply_field_mappings, validate, value_at
from integrations.pipeline.clean import clean_order
from orders.models import ErpPush, OrderIssue, OrderLine, SalesOrder

Code = OrderIssue.Code
Status = SalesOrder.Status

# Every column an upsert refreshes; received_at, confirmed_by and the ERP columns keep their values.
ORDER_UPDATE_COLUMNS = [
    "number", "external_number", "external_status", "status", "buyer", "buyer_note", "seller_note",
    "receiver_name", "receiver_phone", "receiver_country", "receiver_province", "receiver_city", "receiver_district",
    "receiver_address", "receiver_zip", "currency", "goods_amount", "shipping_amount", "discount_amount",
    "paid_amount", "ordered_at", "paid_at", "external_updated_at", "promised_date", "confirmed_at", "payload",
    "payload_hash", "updated_at",
]  # fmt: skip
ZERO = Decimal(0)


@dataclass
class IngestContext:
    """What stays the same for every page of one run."""

    account: ChannelAccount
    client: ChannelClient
    resolver: SkuResolver
    field_mappings: list[FieldMapping]
    now: datetime

    @classmethod
    def for_account(cls, account: ChannelAccount, client: ChannelClient) -> "IngestContext":
        return cls(
            account=account,
            client=client,
            resolver=SkuResolver(account),
            field_mappings=list(account.field_mappings.all()),
            now=timezone.now(),
        )


@dataclass
class PageResult:
    """Counts of one page, added up into the SyncRun."""

    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    anomalies: int = 0
    new_issues: Counter = field(default_factory=Counter)
    anomalous_numbers: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, other: "PageResult") -> None:
        for name in ("fetched", "created", "updated", "unchanged", "skipped", "anomalies"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_issues.update(other.new_issues)
        self.anomalous_numbers.extend(other.anomalous_numbers[: max(0, 20 - len(self.anomalous_numbers))])
        self.errors.extend(other.errors)


def order_number(account: ChannelAccount, external_id: str) -> str:
    """Loopline's number for a marketplace order: the shop's code and the marketplace id, stable across polls."""
    return f"{account.code}-{external_id}"[:40]


def _is_trigger(account: ChannelAccount, order: NormalisedOrder) -> bool:
    return order.external_status.casefold() == account.effective_trigger_status.casefold()


def _promised_date(payload: dict, mappings: list[FieldMapping]) -> date | None:
    for mapping in mappings:
        if mapping.target == FieldMapping.Target.PROMISED_DATE:
            value = value_at(payload, mapping.source_path)
            try:
                return date.fromisoformat(str(value)[:10]) if value else None
            except ValueError:
                return None
    return None


@dataclass
class _Prepared:
    """One order ready to write: its column values, its lines' and the issues validation found."""

    raw: RawOrder
    order: dict[str, Any]
    lines: list[dict[str, Any]]
    issues: list[IssueSpec]


def _sales_order(ctx: IngestContext, raw: RawOrder, data: NormalisedOrder | None, issues: list[IssueSpec]) -> dict:
    account = ctx.account
    cancelled = data is not None and (data.cancelled or data.refunded)
    if cancelled:
        status = Status.CANCELLED
    elif issues:
        status = Status.NEEDS_REVIEW
    else:
        status = Status.CONFIRMED
    row: dict[str, Any] = {
        "channel_account_id": account.pk,
        "external_id": raw.external_id,
        "number": order_number(account, raw.external_id),
        "external_number": raw.external_id,
        "external_status": "",
        "status": status,
        "buyer": "",
        "buyer_note": "",
        "seller_note": "",
        "receiver_name": "",
        "receiver_phone": "",
        "receiver_country": "",
        "receiver_province": "",
        "receiver_city": "",
        "receiver_district": "",
        "receiver_address": "",
        "receiver_zip": "",
        "currency": account.default_currency,
        "goods_amount": ZERO,
        "shipping_amount": ZERO,
        "discount_amount": ZERO,
        "paid_amount": ZERO,
        "ordered_at": None,
        "paid_at": None,
        "external_updated_at": None,
        "promised_date": _promised_date(raw.payload, ctx.field_mappings),
        "received_at": ctx.now,
        "updated_at": ctx.now,
        "confirmed_at": ctx.now if status == Status.CONFIRMED else None,
        "erp_number": "",
        "erp_state": "",
        "payload": JsonText(raw.canonical_json, raw.payload),
        "payload_hash": raw.payload_hash,
    }
    if data is not None:
        line_discounts = sum((line.discount for line in data.lines), ZERO)
        row.update(
            external_number=data.external_number or raw.external_id,
            external_status=data.external_status,
            buyer=data.buyer,
            buyer_note=data.buyer_note,
            seller_note=data.seller_note,
            receiver_name=data.receiver_name,
            receiver_phone=data.receiver_phone,
            receiver_country=data.receiver_country,
            receiver_province=data.receiver_province,
            receiver_city=data.receiver_city,
            receiver_district=data.receiver_district,
            receiver_address=data.receiver_address,
            receiver_zip=data.receiver_zip,
            currency=data.currency,
            goods_amount=max(data.goods_amount, ZERO),
            shipping_amount=max(data.shipping_amount, ZERO),
            discount_amount=max(data.discount_amount + line_discounts, ZERO),
            paid_amount=max(data.paid_amount, ZERO),
            ordered_at=data.ordered_at,
            paid_at=data.paid_at,
            external_updated_at=data.updated_at,
        )
    return row


def _prepare(ctx: IngestContext, raw: RawOrder, data: NormalisedOrder | None, error: ChannelError | None) -> _Prepared:
    if data is None:
        reason = error.message if error else "unreadable"
        issue = IssueSpec(Code.PAYLOAD_INVALID, {"reason": reason[:300]})
        return _Prepared(raw, _sales_order(ctx, raw, None, [issue]), [], [issue])
    resolved = ctx.resolver.resolve([line.external_sku for line in data.lines])
    issues = validate(data, resolved)
    lines = []
    for number, line in enumerate(data.lines, start=1):
        sku = resolved.get(line.external_sku)
        lines.append(
            {
                "line_no": number,
                "external_line_id": line.external_line_id,
                "external_sku": line.external_sku,
                "title": line.title,
                "item_id": sku.item_id if sku else None,
                "qty": line.qty,
                "item_qty": line.qty * sku.qty_per_unit if sku else line.qty,
                "unit_price": max(line.unit_price, ZERO),
                "discount": max(line.discount, ZERO),
            }
        )
    return _Prepared(raw, _sales_order(ctx, raw, data, issues), lines, issues)


def _changes_after_confirmation(existing: SalesOrder, data: NormalisedOrder | None) -> dict[str, Any]:
    """What a marketplace changed on an order we already confirmed, in the terms customer service checks."""
    if data is None:
        return {"payload": "unreadable"}
    changes: dict[str, Any] = {}
    if data.cancelled:
        changes["cancelled"] = True
    if data.refunded:
        changes["refunded"] = True
    if data.external_status != existing.external_status:
        changes["status"] = [existing.external_status, data.external_status]
    for name in ("receiver_name", "receiver_phone", "receiver_province", "receiver_city", "receiver_address"):
        old, new = getattr(existing, name), getattr(data, name)
        if old != new:
            changes[name] = [old, new]
    if data.paid_amount != existing.paid_amount:
        changes["paid_amount"] = [str(existing.paid_amount), str(data.paid_amount)]
    old_lines = sorted((line.external_sku, line.qty) for line in existing.lines.all())
    new_lines = sorted((line.external_sku, line.qty) for line in data.lines)
    if old_lines != new_lines:
        changes["lines"] = [[f"{s}×{q}" for s, q in old_lines], [f"{s}×{q}" for s, q in new_lines]]
    return changes


def _normalise(ctx: IngestContext, raw: RawOrder) -> tuple[NormalisedOrder | None, ChannelError | None]:
    try:
        data = ctx.client.normalise(raw.payload)
    except ChannelError as exc:
        return None, exc
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        return None, ChannelError(f"{exc.__class__.__name__}: {exc}", code="PAYLOAD_INVALID")
    data = apply_field_mappings(clean_order(data), raw.payload, ctx.field_mappings)
    return data, None


@dataclass
class PreparedPage:
    """A page read, cleaned and checked, waiting to be written."""

    result: PageResult
    to_write: list[_Prepared]
    existing_ids: set[str]
    settled_changes: list[tuple[SalesOrder, RawOrder, dict[str, Any]]]


def prepare_page(ctx: IngestContext, raw_orders: list[RawOrder]) -> PreparedPage:
    """Everything short of writing: compare hashes with what is stored, normalise, clean, map and validate."""
    result = PageResult(fetched=len(raw_orders))
    unique = {raw.external_id: raw for raw in raw_orders}  # a duplicate across pages is written once
    # A re-poll sends mostly unchanged orders: their hashes are compared as plain tuples, and only orders whose
    # payload changed are loaded as model instances.
    stored = stored_keys(
        SalesOrder, {"channel_account_id": ctx.account.pk}, "external_id", list(unique), ["payload_hash"]
    )
    changed = {key for key, (payload_hash,) in stored.items() if payload_hash != unique[key].payload_hash}
    existing = (
        {
            row.external_id: row
            for row in SalesOrder.objects.filter(channel_account=ctx.account, external_id__in=list(changed)).only(
                "id", "external_id", "payload_hash", "status", "external_status", "receiver_name",
                "receiver_phone", "receiver_province", "receiver_city", "receiver_address", "paid_amount", "number",
            )
        }
        if changed
        else {}
    )  # fmt: skip
    to_write: list[_Prepared] = []
    settled_changes: list[tuple[SalesOrder, RawOrder, dict[str, Any]]] = []
    with translation.override("zh-hans"):
        for external_id, raw in unique.items():
            old = existing.get(external_id)
            if (external_id in stored and external_id not in changed) or (
                old is not None and old.payload_hash == raw.payload_hash
            ):
                result.unchanged += 1  # the same payload as stored
                continue
            data, error = _normalise(ctx, raw)
            if old is None:
                if data is not None and not _is_trigger(ctx.account, data):
                    result.skipped += 1  # not paid yet, or already closed before we ever saw it
                    continue
                to_write.append(_prepare(ctx, raw, data, error))
            elif old.status in SalesOrder.SETTLED_STATUSES:
                settled_changes.append((old, raw, _changes_after_confirmation(old, data)))
            elif old.status in (Status.CANCELLED, Status.REJECTED):
                result.unchanged += 1
            else:
                to_write.append(_prepare(ctx, raw, data, error))
    return PreparedPage(result, to_write, set(stored), settled_changes)


def write_page(ctx: IngestContext, page: PreparedPage) -> PageResult:
    """Write a prepared page in one transaction; returns what happened to each order, counted."""
    with transaction.atomic(), translation.override("zh-hans"):
        if connection.vendor == "postgresql":
            # The page's commit need not wait for its WAL flush: the cursor moves in a later, synchronous
            # commit, which flushes this one first; a crash before that loses only pages the next poll re-reads.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        _write(ctx, page.to_write, page.existing_ids, page.result)
        _flag_settled_changes(ctx, page.settled_changes, page.result)
    return page.result


def ingest_page(ctx: IngestContext, raw_orders: list[RawOrder]) -> PageResult:
    """Prepare and write one page."""
    return write_page(ctx, prepare_page(ctx, raw_orders))


class PageWriter:
    """Writes prepared pages in order; on PostgreSQL in a thread of its own while the caller prepares the next.

    psycopg2 releases the GIL while the database works, so preparing page k+1 overlaps writing page k.
    `drain()` waits until everything submitted is committed (before the cursor moves, and before preparing a
    page that repeats an order still in flight). Elsewhere (SQLite, or inside a caller's transaction, where a
    second connection could not see the caller's rows) pages are written at once in the caller's thread.
    """

    def __init__(self, ctx: IngestContext):
        self.ctx = ctx
        self.result = PageResult()
        self.error: BaseException | None = None
        self.threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        if self.threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=2)
            self.thread = threading.Thread(target=self._run, name="loopline-page-writer", daemon=True)
            self.thread.start()

    def submit(self, page: PreparedPage) -> None:
        if not self.threaded:
            self.result.add(write_page(self.ctx, page))
            return
        self._raise_error()
        self.queue.put(page)

    def drain(self) -> None:
        if self.threaded:
            self.queue.join()
        self._raise_error()

    def close(self) -> None:
        if self.threaded:
            self.queue.put(None)
            self.thread.join()

    def _raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _run(self) -> None:
        try:
            while True:
                page = self.queue.get()
                try:
                    if page is None:
                        return
                    if self.error is None:
                        self.result.add(write_page(self.ctx, page))
                except BaseException as exc:  # handed to the caller at its next submit or drain
                    self.error = exc
                finally:
                    self.queue.task_done()
        finally:
            connection.close()


def _write(ctx: IngestContext, prepared: list[_Prepared], existing: set[str], result: PageResult) -> None:
    if not prepared:
        return
    rows = [item.order for item in prepared]
    # Orders new to Loopline (all of them, in a first sync) are copied in plainly; anything else is upserted.
    all_new = not any(item.raw.external_id in existing for item in prepared)
    copied = copy_new_rows(SalesOrder, rows, returning=["external_id", "id"]) if all_new else None
    if copied is not None:
        ids, rewritten = dict(copied), []
    else:
        ids = dict(
            insert_rows(
                SalesOrder,
                rows,
                conflict=["channel_account_id", "external_id"],
                update=ORDER_UPDATE_COLUMNS,
                returning=["external_id", "id"],
            )
        )
        # If the page looked all new, some of it may have been stored since by another writer: clear the lines
        # and open issues of every order (none, for those really new) before writing them again.
        rewritten = (
            list(ids.values())
            if all_new
            else [ids[item.raw.external_id] for item in prepared if item.raw.external_id in existing]
        )
    if rewritten:
        OrderLine.objects.filter(order_id__in=rewritten).delete()
        OrderIssue.objects.filter(order_id__in=rewritten, resolved_at__isnull=True).delete()
    lines, issues = [], []
    for item in prepared:
        order_id = ids[item.raw.external_id]
        lines.extend({"order_id": order_id, **line} for line in item.lines)
        if item.raw.external_id in existing:
            result.updated += 1
        else:
            result.created += 1
        if item.order["status"] == Status.CANCELLED:
            continue
        for spec in item.issues:
            issues.append(
                {
                    "order_id": order_id,
                    "code": spec.code,
                    "detail": spec.detail,
                    "data": spec.data,
                    "created_at": ctx.now,
                    "resolved_at": None,
                    "resolved_by_id": None,
                    "resolution": "",
                }
            )
            result.new_issues[spec.code] += 1
        if item.issues:
            result.anomalies += 1
            if len(result.anomalous_numbers) < 20:
                result.anomalous_numbers.append(item.order["number"])
            if item.issues[0].code == Code.PAYLOAD_INVALID:
                result.errors.append(
                    {
                        "code": Code.PAYLOAD_INVALID,
                        "message": item.issues[0].data["reason"],
                        "external_id": item.raw.external_id,
                    }
                )
    insert_rows(OrderLine, lines)
    insert_rows(OrderIssue, issues)
    # Confirmed orders enter the ERP outbox in the same transaction as their confirmation.
    pushes = [
        {
            "order_id": ids[item.raw.external_id],
            "status": ErpPush.Status.PENDING,
            "attempts": 0,
            "next_attempt_at": ctx.now,
            "last_error": "",
            "last_error_code": "",
            "created_at": ctx.now,
            "pushed_at": None,
        }
        for item in prepared
        if item.order["status"] == Status.CONFIRMED
    ]
    # Only orders new to Loopline or still unsettled reach here, and those have no push yet: a plain insert;
    # unless another writer stored (and confirmed) some of a page that looked all new.
    insert_rows(ErpPush, pushes, skip_existing=all_new and copied is None)


def _flag_settled_changes(
    ctx: IngestContext, changed: list[tuple[SalesOrder, RawOrder, dict[str, Any]]], result: PageResult
) -> None:
    for order, raw, changes in changed:
        if not changes:
            # Same order in another shape (a webhook's REST JSON, then the poll's GraphQL): nothing to review.
            SalesOrder.objects.filter(pk=order.pk).update(payload_hash=raw.payload_hash)
            result.unchanged += 1
            continue
        summary = ", ".join(sorted(changes))
        spec = IssueSpec(Code.CHANGED_AFTER_CONFIRMATION, {"changes": summary})
        OrderIssue.objects.create(
            order=order, code=spec.code, detail=spec.detail, data={**spec.data, "diff": changes, "payload": raw.payload}
        )
        # Remember the new payload's hash so the next poll does not raise the same issue again.
        SalesOrder.objects.filter(pk=order.pk).update(payload_hash=raw.payload_hash, updated_at=ctx.now)
        result.updated += 1
        result.anomalies += 1
        result.new_issues[spec.code] += 1
        if len(result.anomalous_numbers) < 20:
            result.anomalous_numbers.append(order.number)
