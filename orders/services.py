"""Writes on sales orders themselves: confirm, reject, correct the receiver, resolve an issue."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from orders.errors import OrderError
from orders.models import ErpPush, OrderIssue, SalesOrder

RECEIVER_FIELDS = [
    "receiver_name",
    "receiver_phone",
    "receiver_country",
    "receiver_province",
    "receiver_city",
    "receiver_district",
    "receiver_address",
    "receiver_zip",
]


@transaction.atomic
def order_confirm(*, order: SalesOrder, by: User | None, note: str = "") -> SalesOrder:
    """Confirm an order for production and the ERP (compare-and-swap on its status, so only once)."""
    now = timezone.now()
    changed = SalesOrder.objects.filter(
        pk=order.pk, status__in=[SalesOrder.Status.RECEIVED, SalesOrder.Status.NEEDS_REVIEW]
    ).update(status=SalesOrder.Status.CONFIRMED, confirmed_at=now, confirmed_by=by, updated_at=now)
    if not changed:
        raise OrderError(_("Order %(number)s cannot be confirmed in its current state.") % {"number": order.number})
    order.refresh_from_db()
    # The outbox entry commits with the confirmation, so the ERP push can neither be lost nor run ahead of it.
    ErpPush.objects.get_or_create(order=order, defaults={"next_attempt_at": now})
    audit_record(actor=by, verb="order.confirm", obj=order, changes={"note": note} if note else {})
    return order


@transaction.atomic
def order_reject(*, order: SalesOrder, by: User, reason: str) -> SalesOrder:
    """Reject an order under review; it will not be produced or pushed to the ERP."""
    now = timezone.now()
    changed = SalesOrder.objects.filter(
        pk=order.pk, status__in=[SalesOrder.Status.RECEIVED, SalesOrder.Status.NEEDS_REVIEW]
    ).update(status=SalesOrder.Status.REJECTED, updated_at=now)
    if not changed:
        raise OrderError(_("Order %(number)s cannot be rejected in its current state.") % {"number": order.number})
    OrderIssue.objects.filter(order=order, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=by, resolution=_("order rejected")
    )
    order.refresh_from_db()
    audit_record(actor=by, verb="order.reject", obj=order, changes={"reason": reason})
    return order


@transaction.atomic
def order_update_receiver(*, order: SalesOrder, by: User, **fields: str) -> SalesOrder:
    """Correct the receiver's name, phone or address; the old values stay in the audit trail."""
    unknown = set(fields) - set(RECEIVER_FIELDS)
    if unknown:
        raise OrderError(_("Unknown receiver fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    changes = {}
    for name, value in fields.items():
        value = (value or "").strip()
        if getattr(order, name) != value:
            changes[name] = [getattr(order, name), value]
            setattr(order, name, value)
    if changes:
        try:
            order.full_clean(exclude=["channel_account", "payload"])
        except ValidationError as exc:
            raise OrderError(" ".join(exc.messages), code="invalid") from exc
        order.save(update_fields=[*changes, "updated_at"])
        audit_record(actor=by, verb="order.update_receiver", obj=order, changes=changes)
    return order


@transaction.atomic
def issue_resolve(*, issue: OrderIssue, by: User | None, resolution: str) -> OrderIssue:
    """Close an issue with who closed it and how."""
    if not issue.is_open:
        return issue
    issue.resolved_at = timezone.now()
    issue.resolved_by = by
    issue.resolution = resolution[:300]
    issue.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    audit_record(
        actor=by, verb="order_issue.resolve", obj=issue.order, changes={"code": issue.code, "resolution": resolution}
    )
    return issue
