"""Draining the ERP outbox: every confirmed order becomes one sales order (SAL_SaleOrder) in Kingdee K/3 Cloud.

A push first asks the ERP whether a bill carrying the order's number already exists (a save that succeeded but
timed out, a worker killed after the save), so a repeated push never makes a second bill. Transient failures
are retried with back-off; after MAX_ATTEMPTS, or at once for an error only a person can fix (an unknown
material, a missing customer), the entry is dead-lettered with the ERP's own message for IT to fix and retry.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ApplicationError
from accounts.models import User
from accounts.services import audit_record
from integrations.channels.base import ChannelError, HttpTransport
from integrations.models import ErpConnection
from orders.models import ErpPush, SalesOrder

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 10
BACKOFF_CAP = timedelta(hours=1)
SALE_ORDER_FORM = "SAL_SaleOrder"


@dataclass
class DrainResult:
    pushed: int = 0
    deferred: int = 0
    dead: int = 0


def active_connection() -> ErpConnection | None:
    return ErpConnection.objects.filter(enabled=True, push_enabled=True).order_by("pk").first()


def erp_client(connection: ErpConnection, transport: HttpTransport | None = None):
    """The K/3 Cloud client for a connection, with its decrypted credentials."""
    from integrations.erp.k3cloud import K3CloudClient

    secrets = connection.get_credentials()
    return K3CloudClient(
        server_url=connection.server_url,
        acct_id=connection.acct_id,
        username=connection.username,
        lcid=connection.lcid,
        password=secrets.get("password") if connection.auth_mode == ErpConnection.AuthMode.PASSWORD else None,
        app_id=secrets.get("app_id"),
        app_secret=secrets.get("app_secret") if connection.auth_mode == ErpConnection.AuthMode.APP_SECRET else None,
        transport=transport or HttpTransport(timeout=20, max_attempts=2),
    )


def sale_order_for(order: SalesOrder, connection: ErpConnection) -> dict:
    """The K/3 Cloud sales-order model of a Loopline order."""
    from integrations.erp.k3cloud import marketplace_note, sale_order_model

    if not order.channel_account.erp_customer_number:
        raise ChannelError(
            _("Shop %(shop)s has no ERP customer code; set it on the channel account.")
            % {"shop": order.channel_account.name},
            code="CUSTOMER_MISSING",
        )
    bill_date = timezone.localtime(order.paid_at or order.received_at)
    delivery = order.promised_date or (bill_date + timedelta(days=7)).date()
    lines = []
    for line in order.lines.select_related("item"):
        if line.item is None:
            raise ChannelError(
                _("Line %(line)s (%(sku)s) has no item.") % {"line": line.line_no, "sku": line.external_sku},
                code="ITEM_MISSING",
            )
        # The ERP bills in the item's unit: a bundle's price is spread over the items it holds.
        qty = line.item_qty or line.qty
        amount = line.qty * line.unit_price - line.discount
        lines.append(
            {
                "material": line.item.code,
                "unit": line.item.unit,
                "qty": qty,
                "tax_price": (amount / qty).quantize(Decimal("0.000001")) if qty else Decimal(0),
                "tax_rate": connection.tax_rate,
                "delivery_date": delivery,
            }
        )
    return sale_order_model(
        bill_date=bill_date,
        customer_number=order.channel_account.erp_customer_number,
        org_number=connection.sale_org_number,
        currency_number=connection.currency_numbers.get(order.currency, order.currency),
        note=marketplace_note(order.number),
        lines=lines,
    )


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def erp_push_one(*, push: ErpPush, client, connection: ErpConnection, now: datetime | None = None) -> str:
    """Push one order; returns "pushed", "deferred" or "dead". Runs with the entry locked by the caller."""
    now = now or timezone.now()
    order = push.order
    try:
        number = client.find_sale_order_by_marketplace_number(order.number)
        if number is None:
            number = client.save(SALE_ORDER_FORM, sale_order_for(order, connection)).number
    except ChannelError as exc:
        push.attempts += 1
        push.last_error, push.last_error_code = exc.message[:2000], exc.code[:64]
        if exc.transient and push.attempts < MAX_ATTEMPTS:
            push.next_attempt_at = now + _backoff(push.attempts)
            push.save(update_fields=["attempts", "last_error", "last_error_code", "next_attempt_at"])
            SalesOrder.objects.filter(pk=order.pk).update(erp_state="retrying")
            return "deferred"
        push.status = ErpPush.Status.DEAD
        push.next_attempt_at = None
        push.save(update_fields=["attempts", "last_error", "last_error_code", "next_attempt_at", "status"])
        SalesOrder.objects.filter(pk=order.pk).update(erp_state="failed")
        audit_record(
            actor=None, verb="erp_push.dead", obj=order, changes={"code": exc.code, "error": exc.message[:500]}
        )
        return "dead"
    push.attempts += 1
    push.status, push.pushed_at, push.next_attempt_at = ErpPush.Status.DONE, now, None
    push.last_error = push.last_error_code = ""
    push.save(update_fields=["attempts", "status", "pushed_at", "next_attempt_at", "last_error", "last_error_code"])
    SalesOrder.objects.filter(pk=order.pk).update(erp_number=number, erp_state="saved")
    audit_record(actor=None, verb="erp_push.done", obj=order, changes={"erp_number": number})
    return "pushed"


def drain_erp_outbox(
    *, limit: int = 200, now: datetime | None = None, transport: HttpTransport | None = None
) -> DrainResult:
    """Push the due outbox entries, one transaction each (skip_locked: two workers never push the same order)."""
    result = DrainResult()
    connection = active_connection()
    if connection is None:
        return result
    now = now or timezone.now()
    client = erp_client(connection, transport)
    for _attempt in range(limit):
        with transaction.atomic():
            push = (
                ErpPush.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order__channel_account")
                .filter(status=ErpPush.Status.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk")
                .first()
            )
            if push is None:
                break
            outcome = erp_push_one(push=push, client=client, connection=connection, now=now)
        setattr(result, outcome, getattr(result, outcome) + 1)
        if outcome == "deferred":
            break  # the ERP is struggling: leave the rest for the next run instead of hammering it
    return result


@transaction.atomic
def erp_push_retry(*, push: ErpPush, by: User) -> ErpPush:
    """Put a dead-lettered push back in the queue (after IT fixed the cause); audited."""
    push = ErpPush.objects.select_for_update().get(pk=push.pk)
    if push.status == ErpPush.Status.DONE:
        raise ApplicationError(_("This order is already in the ERP."), code="already_pushed")
    push.status, push.attempts, push.next_attempt_at = ErpPush.Status.PENDING, 0, timezone.now()
    push.save(update_fields=["status", "attempts", "next_attempt_at"])
    SalesOrder.objects.filter(pk=push.order_id).update(erp_state="retrying")
    audit_record(actor=by, verb="erp_push.retry", obj=push.order, changes={"last_error": push.last_error[:500]})
    return push
