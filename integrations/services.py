"""Order intake: polling channel accounts, SKU mappings, and the review queue's fixes and approvals."""

import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.services import audit_record
from integrations.channels import client_for
from integrations.channels.base import (
    ChannelClient,
    ChannelError,
    HttpTransport,
    NormalisedLine,
    NormalisedOrder,
    Page,
    WindowEnd,
    batched,
    prefetch,
)
from integrations.models import ChannelAccount, SkuMapping, SyncRun
from integrations.pipeline import (
    IngestContext,
    IssueSpec,
    PageResult,
    PageWriter,
    SkuResolver,
    issue_message,
    prepare_page,
    validate,
)
from orders import services as order_services
from orders.models import OrderIssue, OrderLine, SalesOrder
from production.models import Item

logger = logging.getLogger(__name__)
Code = OrderIssue.Code

# A poll may run this long before another worker may take the account over (a killed worker's lease lapses).
LEASE_SECONDS = 15 * 60
# Issues that only a person can clear: re-validation never removes or re-creates them.
MANUAL_CODES = {Code.PAYLOAD_INVALID, Code.CHANGED_AFTER_CONFIRMATION}


class IntakeError(ApplicationError):
    """An order intake rule was broken."""


# --- Channel accounts ----------------------------------------------------------------------------------


@transaction.atomic
def channel_account_save(
    *, account: ChannelAccount, credentials: dict[str, str] | None, by: User | None
) -> ChannelAccount:
    """Create or change a channel account; new credentials replace the old ones and are encrypted at rest."""
    created = account.pk is None
    if credentials:
        account.set_credentials({key: value for key, value in credentials.items() if value})
    account.full_clean()
    account.save()
    audit_record(
        actor=by,
        verb="channel_account.create" if created else "channel_account.update",
        obj=account,
        # Which secrets changed, never their values.
        changes={"kind": account.kind, "base_url": account.base_url, "credentials_changed": sorted(credentials or {})},
    )
    return account


def channel_client(account: ChannelAccount, transport: HttpTransport | None = None) -> ChannelClient:
    """The marketplace client for an account, with its decrypted credentials."""
    return client_for(
        account.kind,
        base_url=account.base_url,
        app_key=account.app_key,
        credentials=account.get_credentials(),
        transport=transport or HttpTransport(),
    )


def channel_account_test(
    *, account: ChannelAccount, by: User | None, transport: HttpTransport | None = None
) -> SyncRun:
    """Fetch one page to check URL and credentials; the outcome is a SyncRun with the precise error, if any."""
    transport = transport or HttpTransport(max_attempts=2)
    run = SyncRun.objects.create(account=account, trigger=SyncRun.Trigger.TEST)
    try:
        channel_client(account, transport).test_connection()
        run.status = SyncRun.Status.SUCCEEDED
    except ChannelError as exc:
        run.status = SyncRun.Status.FAILED
        run.errors = [exc.as_record()]
    run.http_calls, run.retries = transport.stats.http_calls, transport.stats.retries
    run.finished_at = timezone.now()
    run.save()
    audit_record(actor=by, verb="channel_account.test", obj=account, changes={"status": run.status})
    return run


# --- Polling ----------------------------------------------------------------------------------------


def channel_poll_request(*, account: ChannelAccount, by: User | None) -> None:
    """Queue a poll of the shop now, for a person (page, admin) or a key; the worker records it as a manual
    sync run. Refused for a disabled shop."""
    from integrations.tasks import poll_channel

    if not account.enabled:
        raise IntakeError(
            _("%(shop)s is disabled; enable it before polling.") % {"shop": account.name}, code="account_disabled"
        )
    audit_record(actor=by, verb="channel_account.poll", obj=account)
    # Queued only once the request's transaction commits, so the worker never races an uncommitted change.
    transaction.on_commit(lambda: poll_channel.delay(account.pk, SyncRun.Trigger.MANUAL.value))


def erp_pull_request(*, kinds: list[str], by: User | None, connection=None) -> list[str]:
    """Queue pulls of these kinds of ERP data now (all master data when none are named), for a person or a key;
    each becomes a manual sync run. Refused when no enabled ERP connection pulls data. Returns the kinds."""
    from integrations.erp.master_data import MASTER_DATA_KINDS, pull_connection
    from integrations.tasks import pull_erp_data

    connection = connection or pull_connection()
    if connection is None:
        raise IntakeError(_("No enabled ERP connection pulls data."), code="no_erp_connection")
    kinds = list(kinds) or [str(kind) for kind in MASTER_DATA_KINDS]
    audit_record(actor=by, verb="erp_connection.pull", obj=connection, changes={"kinds": kinds})
    transaction.on_commit(lambda: pull_erp_data.delay(kinds, SyncRun.Trigger.MANUAL.value))
    return kinds


def _acquire_lease(account_id: int, owner: str, now: datetime) -> bool:
    # Compare-and-swap: only one poller holds an account at a time, on PostgreSQL and SQLite alike.
    return bool(
        ChannelAccount.objects.filter(pk=account_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_SECONDS))
    )


def _release_lease(account_id: int, owner: str) -> None:
    ChannelAccount.objects.filter(pk=account_id, lease_owner=owner).update(lease_owner="", lease_until=None)


def _windows(start: datetime, end: datetime, span: timedelta) -> list[tuple[datetime, datetime]]:
    windows = []
    while start < end:
        windows.append((start, min(start + span, end)))
        start = windows[-1][1]
    return windows


def _window_pages(
    client: ChannelClient, windows: list[tuple[datetime, datetime]], page_size: int
) -> Iterator[Page | WindowEnd]:
    """The pages of every window in turn, each window closed by a WindowEnd, as one stream to prefetch."""
    for window_start, window_end in windows:
        yield from client.fetch_window(window_start, window_end, page_size=page_size)
        yield WindowEnd(window_end)


def poll_window_start(account: ChannelAccount, now: datetime) -> datetime:
    """Where a poll starts: the cursor minus the overlap, or the backfill start on the first poll."""
    if account.cursor is not None:
        return account.cursor - timedelta(minutes=account.overlap_minutes)
    return account.backfill_from or now - timedelta(days=1)


def poll_account(
    *,
    account_id: int,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    transport: HttpTransport | None = None,
    now: datetime | None = None,
) -> SyncRun | None:
    """Pull every order changed since the cursor through the pipeline; None if another poll holds the account.

    The cursor moves to the end of each window only after every page of that window was written, so a crash or
    an unreadable page means the next poll reads that window again (unchanged orders cost a hash comparison).
    """
    now = (now or timezone.now()).replace(microsecond=0)
    owner = uuid.uuid4().hex
    if not _acquire_lease(account_id, owner, now):
        return None
    account = ChannelAccount.objects.get(pk=account_id)
    transport = transport or HttpTransport()
    start = poll_window_start(account, now)
    run = SyncRun.objects.create(account=account, trigger=trigger, window_start=start, window_end=now)
    totals = PageResult()
    cursor_may_move = True
    writer: PageWriter | None = None
    analyzed_at = 0
    try:
        client = channel_client(account, transport)
        ctx = IngestContext.for_account(account, client)
        writer = PageWriter(ctx)
        windows = _windows(start, now, client.max_window)
        window_complete = True
        in_flight: set[str] = set()
        for item in batched(prefetch(_window_pages(client, windows, account.page_size))):
            if isinstance(item, WindowEnd):
                writer.drain()
                analyzed_at = _refresh_statistics(writer.result.created, analyzed_at)
                cursor_may_move = cursor_may_move and window_complete
                if cursor_may_move:
                    ChannelAccount.objects.filter(pk=account.pk, lease_owner=owner).update(cursor=item.end)
                window_complete, in_flight = True, set()
                continue
            page, page_count = item
            run.pages += page_count
            if page.errors:
                window_complete = False
                totals.errors.extend(error.as_record() for error in page.errors)
            ids = {raw.external_id for raw in page.orders}
            if ids & in_flight:
                writer.drain()  # an order seen earlier in this window changed: compare with what is stored
            in_flight |= ids
            writer.submit(prepare_page(ctx, page.orders))
        run.status = SyncRun.Status.SUCCEEDED if cursor_may_move else SyncRun.Status.PARTIAL
    except ChannelError as exc:
        totals.errors.append(exc.as_record())
        run.status = SyncRun.Status.FAILED
        if writer is not None:
            writer.drain()  # what was fetched before the error is still written
            if writer.result.fetched:
                run.status = SyncRun.Status.PARTIAL
    except Exception as exc:  # recorded on the run, then re-raised for the worker log
        totals.errors.append(
            {"code": "INTERNAL", "message": f"{exc.__class__.__name__}: {exc}"[:500], "external_id": ""}
        )
        run.status = SyncRun.Status.FAILED
        _close(writer, totals)
        _finish_run(run, totals, transport)
        _release_lease(account.pk, owner)
        raise
    _close(writer, totals)
    _finish_run(run, totals, transport)
    ChannelAccount.objects.filter(pk=account.pk).update(last_polled_at=now)
    _release_lease(account.pk, owner)
    if totals.anomalies:
        announce_new_issues(account=account, run=run, result=totals)
    return run


# After this many new orders in one poll, PostgreSQL's planner statistics are refreshed (a first sync or a
# backfill grows the tables far faster than autovacuum notices, and stale statistics turn the per-page
# look-up of stored orders into sequential scans).
ANALYZE_EVERY = 5000


def _refresh_statistics(created: int, analyzed_at: int) -> int:
    # At 5,000 new orders, then each time the count doubles: a handful of ANALYZEs even for a huge backfill.
    if connection.vendor != "postgresql" or created < max(ANALYZE_EVERY, 2 * analyzed_at):
        return analyzed_at
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # Only the columns the poll looks rows up by: ANALYZE still refreshes the row counts, and skipping the wide
        # columns (payload, addresses) makes it several times cheaper. Autovacuum analyzes every column later.
        for model, columns in ANALYZED_COLUMNS:
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)} ({', '.join(quote(column) for column in columns)})")
    return created


ANALYZED_COLUMNS = (
    (SalesOrder, ("channel_account_id", "external_id")),
    (OrderLine, ("order_id",)),
    (OrderIssue, ("order_id",)),
)


def _close(writer: PageWriter | None, totals: PageResult) -> None:
    if writer is not None:
        writer.close()
        totals.add(writer.result)


def _finish_run(run: SyncRun, totals: PageResult, transport: HttpTransport) -> None:
    run.fetched, run.created, run.updated = totals.fetched, totals.created, totals.updated
    run.unchanged, run.anomalies = totals.unchanged, totals.anomalies
    run.errors = totals.errors[:200]
    run.http_calls, run.retries = transport.stats.http_calls, transport.stats.retries
    run.finished_at = timezone.now()
    run.save()


def announce_new_issues(*, account: ChannelAccount, run: SyncRun, result: PageResult) -> None:
    """One message to customer service for all the orders a run put in the review queue."""
    from integrations.notify.services import notify

    with translation.override("zh-hans"):
        counts = "；".join(f"{OrderIssue.Code(code).label} {count}" for code, count in result.new_issues.most_common())
        subject = _("%(shop)s: %(count)s new orders need review") % {"shop": account.name, "count": result.anomalies}
        body = "\n".join(
            [
                subject,
                _("Issues: %(counts)s") % {"counts": counts},
                _("Orders: %(numbers)s") % {"numbers": ", ".join(result.anomalous_numbers[:10])},
            ]
        )
    notify(audience="customer_service", subject=subject, body=body)


def due_account_ids(now: datetime | None = None) -> list[int]:
    """Enabled accounts whose poll interval has passed."""
    now = now or timezone.now()
    return [account.pk for account in ChannelAccount.objects.filter(enabled=True) if account.is_due(now)]


# --- SKU mappings and re-validation -------------------------------------------------------------------------


def normalised_from_order(order: SalesOrder, lines: list[OrderLine]) -> NormalisedOrder:
    """The stored order in pipeline terms, to validate it again after a fix."""
    line_discounts = sum((line.discount for line in lines), Decimal(0))
    return NormalisedOrder(
        external_id=order.external_id,
        external_number=order.external_number,
        external_status=order.external_status,
        buyer=order.buyer,
        buyer_note=order.buyer_note,
        receiver_name=order.receiver_name,
        receiver_phone=order.receiver_phone,
        receiver_country=order.receiver_country,
        receiver_province=order.receiver_province,
        receiver_city=order.receiver_city,
        receiver_district=order.receiver_district,
        receiver_address=order.receiver_address,
        currency=order.currency,
        goods_amount=order.goods_amount,
        shipping_amount=order.shipping_amount,
        discount_amount=order.discount_amount - line_discounts,
        paid_amount=order.paid_amount,
        lines=[
            NormalisedLine(
                line.external_line_id, line.external_sku, line.title, line.qty, line.unit_price, line.discount
            )
            for line in lines
        ],
    )


def _issue_key(code: str, data: dict[str, Any]) -> tuple:
    return (code, data.get("sku"), data.get("line"), data.get("note"))


def order_revalidate(*, order: SalesOrder, resolver: SkuResolver | None = None) -> list[OrderIssue]:
    """Check a waiting order again: issues fixed since go away, acknowledged ones stay away. Returns open issues."""
    lines = list(order.lines.all())
    resolver = resolver or SkuResolver(order.channel_account)
    resolved = resolver.resolve([line.external_sku for line in lines])
    for line in lines:
        sku = resolved.get(line.external_sku)
        item_id = sku.item_id if sku else None
        item_qty = line.qty * sku.qty_per_unit if sku else line.qty
        if (line.item_id, line.item_qty) != (item_id, item_qty):
            line.item_id, line.item_qty = item_id, item_qty
            line.save(update_fields=["item", "item_qty"])
    issues = list(order.issues.all())
    acknowledged = {_issue_key(i.code, i.data) for i in issues if not i.is_open}
    with translation.override("zh-hans"):
        found: list[IssueSpec] = [
            spec
            for spec in validate(normalised_from_order(order, lines), resolved)
            if _issue_key(spec.code, spec.data) not in acknowledged
        ]
        wanted = {_issue_key(spec.code, spec.data): spec for spec in found}
        open_issues = []
        for issue in issues:
            if not issue.is_open:
                continue
            if issue.code in MANUAL_CODES or _issue_key(issue.code, issue.data) in wanted:
                wanted.pop(_issue_key(issue.code, issue.data), None)
                open_issues.append(issue)
            else:
                issue.delete()  # fixed: the rule passes now
        for spec in wanted.values():
            open_issues.append(
                OrderIssue.objects.create(order=order, code=spec.code, detail=spec.detail, data=spec.data)
            )
    return open_issues


@transaction.atomic
def sku_mapping_create(
    *,
    external_sku: str,
    item: Item,
    by: User | None,
    account: ChannelAccount | None = None,
    qty_per_unit: Decimal = Decimal(1),
) -> tuple[SkuMapping, int]:
    """Map a marketplace SKU to an item, then re-check every waiting order with that SKU; returns how many cleared."""
    external_sku = external_sku.strip()
    if not external_sku:
        raise IntakeError(_("A marketplace SKU cannot be empty."), code="sku_empty")
    if not item.active:
        raise IntakeError(_("Item %(code)s is no longer active.") % {"code": item.code}, code="item_inactive")
    mapping, created = SkuMapping.objects.update_or_create(
        channel_account=account,
        external_sku=external_sku,
        defaults={"item": item, "qty_per_unit": qty_per_unit, "created_by": by},
    )
    audit_record(
        actor=by,
        verb="sku_mapping.create" if created else "sku_mapping.update",
        obj=mapping,
        changes={"external_sku": external_sku, "item": item.code, "account": account.code if account else None},
    )
    waiting = SalesOrder.objects.filter(
        status__in=[SalesOrder.Status.NEEDS_REVIEW, SalesOrder.Status.RECEIVED], lines__external_sku=external_sku
    )
    if account is not None:
        waiting = waiting.filter(channel_account=account)
    cleared = 0
    for order in waiting.select_related("channel_account").distinct():
        if not order_revalidate(order=order):
            order_services.order_confirm(order=order, by=by, note=_("cleared by a new SKU mapping"))
            cleared += 1
    return mapping, cleared


@transaction.atomic
def sku_mapping_delete(*, mapping: SkuMapping, by: User | None) -> None:
    """Remove a SKU mapping; orders already mapped keep their item."""
    audit_record(
        actor=by,
        verb="sku_mapping.delete",
        obj=mapping,
        changes={
            "external_sku": mapping.external_sku,
            "item": mapping.item.code,
            "account": mapping.channel_account.code if mapping.channel_account else None,
        },
    )
    mapping.delete()


# --- Review queue -----------------------------------------------------------------------------------------


def _reviewable(order: SalesOrder) -> None:
    if order.status not in (SalesOrder.Status.NEEDS_REVIEW, SalesOrder.Status.RECEIVED):
        raise IntakeError(
            _("Order %(number)s is %(status)s and no longer in review.")
            % {"number": order.number, "status": order.get_status_display()},
            code="not_in_review",
        )


@transaction.atomic
def review_update_receiver(*, order: SalesOrder, by: User, **fields: str) -> list[OrderIssue]:
    """Correct the receiver of a waiting order, then check it again; returns the issues still open."""
    order = SalesOrder.objects.select_for_update().get(pk=order.pk)
    _reviewable(order)
    order_services.order_update_receiver(order=order, by=by, **fields)
    return order_revalidate(order=order)


@transaction.atomic
def review_acknowledge_issue(*, issue: OrderIssue, by: User) -> OrderIssue:
    """Mark an informational issue (a buyer's note) as read; it does not come back on re-validation."""
    if issue.code != Code.BUYER_NOTE:
        # Anything else is fixed (map the SKU, correct the address) or approved over with its own permission.
        raise IntakeError(
            _("Only a buyer's note can be acknowledged; fix the other issues or approve over them."),
            code="not_informational",
        )
    return order_services.issue_resolve(issue=issue, by=by, resolution=_("acknowledged"))


@transaction.atomic
def review_resolve_change(*, issue: OrderIssue, by: User, resolution: str) -> OrderIssue:
    """Close a "changed after confirmation" issue once the change was handled (ERP, production, buyer)."""
    if issue.code != Code.CHANGED_AFTER_CONFIRMATION:
        raise IntakeError(_("This is not a change after confirmation."), code="wrong_issue")
    if not by.has_perm("orders.review_salesorder"):
        raise IntakeError(_("You may not review orders."), code="permission_denied")
    resolution = resolution.strip()
    if len(resolution) < 4:
        raise IntakeError(_("Say how the change was handled."), code="reason_required")
    issue = OrderIssue.objects.select_for_update().get(pk=issue.pk)
    return order_services.issue_resolve(issue=issue, by=by, resolution=resolution)


@transaction.atomic
def review_approve(*, order: SalesOrder, by: User) -> SalesOrder:
    """Approve a waiting order after checking it again; refused while any issue is open."""
    order = SalesOrder.objects.select_for_update().select_related("channel_account").get(pk=order.pk)
    _reviewable(order)
    open_issues = order_revalidate(order=order)
    if open_issues:
        raise IntakeError(
            _("Order %(number)s still has open issues: %(issues)s")
            % {"number": order.number, "issues": "; ".join(issue_message(i.code, i.data) for i in open_issues)},
            code="open_issues",
        )
    return order_services.order_confirm(order=order, by=by)


@transaction.atomic
def review_force_approve(*, order: SalesOrder, by: User, reason: str) -> SalesOrder:
    """Approve over open issues: needs its own permission and a reason, and is audited with both."""
    if isinstance(by, AnonymousUser) or not (
        by.has_perm("orders.review_salesorder") and by.has_perm("orders.force_approve_salesorder")
    ):
        raise IntakeError(_("You may not approve orders over their open issues."), code="permission_denied")
    reason = reason.strip()
    if len(reason) < 4:
        raise IntakeError(_("Say why the order is approved despite its issues."), code="reason_required")
    order = SalesOrder.objects.select_for_update().get(pk=order.pk)
    _reviewable(order)
    if any(line.item_id is None for line in order.lines.all()):
        # Production and the ERP need an item on every line: an unmapped SKU is fixed, never overridden.
        raise IntakeError(_("Map every SKU to an item before approving."), code="sku_unmapped")
    open_codes = []
    for issue in order.issues.filter(resolved_at__isnull=True):
        open_codes.append(issue.code)
        order_services.issue_resolve(
            issue=issue, by=by, resolution=_("approved over it: %(reason)s") % {"reason": reason}
        )
    audit_record(actor=by, verb="order.force_approve", obj=order, changes={"reason": reason, "issues": open_codes})
    return order_services.order_confirm(order=order, by=by, note=reason)


@transaction.atomic
def review_reject(*, order: SalesOrder, by: User, reason: str) -> SalesOrder:
    """Reject a waiting order (e.g. a fraudulent or duplicate one) with a reason."""
    order = SalesOrder.objects.select_for_update().get(pk=order.pk)
    _reviewable(order)
    if not reason.strip():
        raise IntakeError(_("Say why the order is rejected."), code="reason_required")
    return order_services.order_reject(order=order, by=by, reason=reason.strip())


def review_bulk(*, orders: list[SalesOrder], action: str, by: User, reason: str = "") -> dict[str, list[str]]:
    """Approve, force-approve or reject many orders; each succeeds or fails on its own, with its reason."""
    actions = {
        "approve": lambda order: review_approve(order=order, by=by),
        "force_approve": lambda order: review_force_approve(order=order, by=by, reason=reason),
        "reject": lambda order: review_reject(order=order, by=by, reason=reason),
    }
    if action not in actions:
        raise IntakeError(_("Unknown action."), code="unknown_action")
    done, failed = [], []
    for order in orders:
        try:
            actions[action](order)
            done.append(order.number)
        except ApplicationError as exc:
            failed.append(f"{order.number}: {exc.message}")
    return {"done": done, "failed": failed}
