"""Reading fields of marketplace JSON that sends numbers as strings (TOP, JOS): strict, Decimal, never float."""

from decimal import Decimal, InvalidOperation
from typing import Any


class Unreadable(ValueError):
    """A field of an order that cannot be read; the client turns it into PAYLOAD_INVALID with the order's id."""


def text(value: Any) -> str:
    """A JSON value as text; null reads as empty."""
    return "" if value is None else str(value)


def short(value: Any) -> str:
    """A value shortened for an error message."""
    return repr(value)[:60]


def money(data: dict[str, Any], key: str, label: str | None = None) -> Decimal:
    """A money field (a 2-decimal string) as Decimal; absent or empty reads as 0."""
    value = data.get(key)
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unreadable(f"{label or key} is not a number: {short(value)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Unreadable(f"{label or key} is not a number: {short(value)}") from None
    if not amount.is_finite():
        raise Unreadable(f"{label or key} is not a number: {short(value)}")
    return amount


def integer(value: Any, label: str) -> Decimal:
    """A whole quantity (a JSON number or a string); negative is left for validation to judge."""
    if type(value) is int:
        return Decimal(value)  # what the checks below make of a JSON integer, at a fraction of the cost
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unreadable(f"{label} is not an integer: {short(value)}")
    try:
        qty = Decimal(str(value).strip())
    except InvalidOperation:
        raise Unreadable(f"{label} is not an integer: {short(value)}") from None
    if not qty.is_finite() or qty != qty.to_integral_value():
        raise Unreadable(f"{label} is not an integer: {short(value)}")
    return Decimal(int(qty))
