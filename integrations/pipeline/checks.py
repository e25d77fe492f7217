"""Transform and validate: marketplace SKUs to items, field mappings, and every rule an order must pass."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from integrations.channels.base import NormalisedOrder
from integrations.models import ChannelAccount, FieldMapping, SkuMapping
from orders.models import OrderIssue
from production.models import Item

Code = OrderIssue.Code
NOTE_ISSUE_MIN_LENGTH = 1


@dataclass(frozen=True)
class ResolvedSku:
    item_id: int
    qty_per_unit: Decimal


@dataclass
class IssueSpec:
    """An issue found by validation, before it is stored."""

    code: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return issue_message(self.code, self.data)


# Marked for translation here, translated when an issue is shown or stored (one lookup, not one per code).
ISSUE_MESSAGES = {
    Code.PAYLOAD_INVALID: gettext_noop("The marketplace sent an order that cannot be read: %(reason)s"),
    Code.FIELD_MISSING: gettext_noop("Required field missing: %(fields)s"),
    Code.QTY_INVALID: gettext_noop(
        "Line %(line)s (%(sku)s): quantity %(qty)s must be a whole number greater than zero."
    ),
    Code.PRICE_INVALID: gettext_noop("Line %(line)s (%(sku)s): price %(price)s or discount %(discount)s is not valid."),
    Code.AMOUNT_MISMATCH: gettext_noop(
        "Totals do not add up: goods %(goods)s − discounts %(discount)s + shipping %(shipping)s = %(expected)s, "
        "but the buyer paid %(paid)s."
    ),
    Code.ADDRESS_INCOMPLETE: gettext_noop("The receiver address lacks: %(missing)s"),
    Code.PHONE_INVALID: gettext_noop("The receiver phone %(phone)s is not a valid number."),
    Code.BUYER_NOTE: gettext_noop("The buyer left a note: %(note)s"),
    Code.SKU_UNMAPPED: gettext_noop("Marketplace SKU %(sku)s is not mapped to an item."),
    Code.CHANGED_AFTER_CONFIRMATION: gettext_noop("Changed on the marketplace after confirmation: %(changes)s"),
}


def issue_message(code: str, data: dict[str, Any]) -> str:
    """The readable reason of an issue, in the active language."""
    template = ISSUE_MESSAGES.get(code)
    if template is None:
        return code
    template = _(template)
    safe = {key: value for key, value in data.items() if isinstance(value, str | int | float | Decimal)}
    try:
        return template % safe
    except (KeyError, TypeError, ValueError):
        return str(template)


class SkuResolver:
    """Looks up marketplace SKUs for one channel account, caching what it has seen during a run."""

    def __init__(self, account: ChannelAccount):
        self.account = account
        self.cache: dict[str, ResolvedSku | None] = {}

    def resolve(self, skus: Iterable[str]) -> dict[str, ResolvedSku | None]:
        missing = {sku for sku in skus if sku and sku not in self.cache}
        if missing:
            mappings = SkuMapping.objects.filter(
                Q(channel_account=self.account) | Q(channel_account__isnull=True), external_sku__in=missing
            ).values_list("external_sku", "item_id", "qty_per_unit", "channel_account_id")
            found: dict[str, ResolvedSku] = {}
            # A shop's own mapping wins over one that applies to every shop.
            for sku, item_id, qty_per_unit, _account_id in sorted(mappings, key=lambda row: row[3] is not None):
                found[sku] = ResolvedSku(item_id, qty_per_unit)
            # A marketplace SKU equal to an active item's code needs no mapping (merchants often do this).
            by_code = Item.objects.filter(code__in=missing - found.keys(), active=True).values_list("code", "id")
            for code, item_id in by_code:
                found[code] = ResolvedSku(item_id, Decimal(1))
            for sku in missing:
                self.cache[sku] = found.get(sku)
        return {sku: self.cache.get(sku) for sku in skus}

    def forget(self, skus: Iterable[str]) -> None:
        for sku in skus:
            self.cache.pop(sku, None)


def value_at(payload: Any, path: str) -> Any:
    """The value at a dotted path; a list of {name, value} pairs (Shopify note_attributes) is read by name."""
    current = payload
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list):
            match = next((e for e in current if isinstance(e, dict) and e.get("name") == part), None)
            current = match.get("value") if match else None
        else:
            return None
        if current is None:
            return None
    return current


def apply_field_mappings(order: NormalisedOrder, payload: dict, mappings: list[FieldMapping]) -> NormalisedOrder:
    """Copy mapped payload values into the order's fields (the promised date is kept aside as text)."""
    changes = {}
    for mapping in mappings:
        value = value_at(payload, mapping.source_path)
        if value in (None, ""):
            continue
        if mapping.target == FieldMapping.Target.PROMISED_DATE:
            continue  # read by the writer from the payload, since NormalisedOrder has no such field
        changes[mapping.target] = str(value)
    return replace(order, **changes) if changes else order


_MOBILE = re.compile(r"1[\d*]{10}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")


def validate(order: NormalisedOrder, resolved: dict[str, ResolvedSku | None]) -> list[IssueSpec]:
    """Every rule a clean order passes; each failure is one issue with the facts needed to fix it."""
    issues: list[IssueSpec] = []
    # Labels are translated only when something is wrong: validation runs for every order of every poll.
    if not order.receiver_name or not order.lines:
        missing = [str(_("receiver"))] if not order.receiver_name else []
        missing += [str(_("order lines"))] if not order.lines else []
        issues.append(IssueSpec(Code.FIELD_MISSING, {"fields": ", ".join(missing)}))

    for number, line in enumerate(order.lines, start=1):
        if line.qty <= 0 or line.qty != line.qty.to_integral_value():
            issues.append(IssueSpec(Code.QTY_INVALID, {"line": number, "sku": line.external_sku, "qty": str(line.qty)}))
        if line.unit_price < 0 or line.discount < 0 or line.discount > line.unit_price * max(line.qty, Decimal(0)):
            issues.append(
                IssueSpec(
                    Code.PRICE_INVALID,
                    {
                        "line": number,
                        "sku": line.external_sku,
                        "price": str(line.unit_price),
                        "discount": str(line.discount),
                    },
                )
            )

    goods = sum((line.qty * line.unit_price for line in order.lines), Decimal(0))
    discounts = order.discount_amount + sum((line.discount for line in order.lines), Decimal(0))
    expected = goods - discounts + order.shipping_amount
    if expected.quantize(Decimal("0.01")) != order.paid_amount:
        issues.append(
            IssueSpec(
                Code.AMOUNT_MISMATCH,
                {
                    "goods": str(goods.quantize(Decimal("0.01"))),
                    "discount": str(discounts),
                    "shipping": str(order.shipping_amount),
                    "expected": str(expected.quantize(Decimal("0.01"))),
                    "paid": str(order.paid_amount),
                },
            )
        )

    china = order.receiver_country in ("", "CN")
    first_part = order.receiver_province if china else order.receiver_country
    if not (first_part and order.receiver_city and order.receiver_address):
        parts = [
            (_("province") if china else _("country"), first_part),
            (_("city"), order.receiver_city),
            (_("street address"), order.receiver_address),
        ]
        lacking = [str(label) for label, value in parts if not value]
        issues.append(IssueSpec(Code.ADDRESS_INCOMPLETE, {"missing": ", ".join(lacking)}))

    phone = order.receiver_phone
    if china and phone and not (_MOBILE.fullmatch(phone) or _LANDLINE.fullmatch(phone)):
        issues.append(IssueSpec(Code.PHONE_INVALID, {"phone": phone}))
    elif not phone:
        issues.append(IssueSpec(Code.FIELD_MISSING, {"fields": str(_("receiver phone"))}))

    if len(order.buyer_note) >= NOTE_ISSUE_MIN_LENGTH:
        issues.append(IssueSpec(Code.BUYER_NOTE, {"note": order.buyer_note[:200]}))

    for sku in dict.fromkeys(line.external_sku for line in order.lines):
        if resolved.get(sku) is None:
            issues.append(IssueSpec(Code.SKU_UNMAPPED, {"sku": sku or "∅"}))
    return issues
