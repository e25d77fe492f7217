"""Shopify Admin GraphQL API, version 2025-01 by default (orders), plus the order webhooks' HMAC and REST payload.

Speaks `POST https://{shop}.myshopify.com/admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`,
the `orders` connection sorted by UPDATED_AT and paged by cursor, and Shopify's cost-based throttling
(extensions.cost.throttleStatus). Webhooks carry the REST order JSON (the same in every recent version),
signed with base64(HMAC-SHA256(secret, raw body)) in `X-Shopify-Hmac-Sha256`.

`normalise` reads one order node exactly as GraphQL returned it (the RawOrder payload is that node, unflattened;
`lineItems` may be `{"edges": [{"node": …}]}`, `{"nodes": […]}` or a plain list). `normalise_webhook` reads the
REST order a webhook carries; both give the same NormalisedOrder for the same order.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import requests

from integrations.channels.base import (
    ChannelError,
    HttpTransport,
    NormalisedLine,
    NormalisedOrder,
    Page,
    RawOrder,
    check_http_status,
    parse_json,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_API_VERSION = "2025-01"
MAX_FIRST = 250  # Shopify caps every connection's `first` at 250
LINES_FIRST = 100  # line items per order read in the same query; an order with more is reported, not truncated
# Display financial statuses under which the order has taken money, so processedAt is when it was paid.
MONEY_TAKEN = {"paid", "partially_paid", "partially_refunded", "refunded"}
# Our view of Shopify's bucket is an estimate (refill timed on our clock, points rounded), so waits add a cushion.
BUCKET_CUSHION_SECONDS = 0.1

ORDERS_QUERY = """
query LooplineOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    edges {
      cursor
      node {
        id legacyResourceId name email note createdAt updatedAt processedAt cancelledAt
        displayFinancialStatus displayFulfillmentStatus currencyCode taxesIncluded
        totalPriceSet { shopMoney { amount currencyCode } }
        subtotalPriceSet { shopMoney { amount currencyCode } }
        totalDiscountsSet { shopMoney { amount currencyCode } }
        totalShippingPriceSet { shopMoney { amount currencyCode } }
        totalTaxSet { shopMoney { amount currencyCode } }
        shippingAddress { name phone address1 address2 city province provinceCode zip country countryCodeV2 }
        customer { id email firstName lastName }
        lineItems(first: LINES_FIRST) {
          pageInfo { hasNextPage }
          edges { node { id sku name quantity
            originalUnitPriceSet { shopMoney { amount currencyCode } }
            discountedTotalSet { shopMoney { amount currencyCode } } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""".replace("LINES_FIRST", str(LINES_FIRST))

SHOP_QUERY = "query LooplineShop { shop { name myshopifyDomain } }"


class ShopifyClient:
    """Orders of one Shopify shop over the Admin GraphQL API."""

    max_window = timedelta(days=7)

    def __init__(
        self, *, base_url: str, app_key: str, credentials: dict[str, str], transport: HttpTransport | None = None
    ):
        self.shop = app_key
        self.base_url = (base_url or f"https://{app_key}").rstrip("/")
        self.api_version = credentials.get("api_version") or DEFAULT_API_VERSION
        self.webhook_secret = credentials.get("webhook_secret", "")
        self._token = credentials.get("access_token", "")
        self.transport = transport or HttpTransport()
        self.endpoint = f"{self.base_url}/admin/api/{self.api_version}/graphql.json"
        # The bucket as the last answer reported it, to wait before a query it could not afford.
        self._bucket: dict[str, float] | None = None
        self._bucket_seen_at = 0.0
        self._last_cost = 0.0

    def fetch_window(self, start: datetime, end: datetime, *, status: str = "", page_size: int = 100) -> Iterator[Page]:
        """Every page of orders updated in [start, end), any financial status (the pipeline decides)."""
        # `status` is accepted for the ChannelClient protocol and deliberately not sent: a refund or a
        # cancellation of an order Loopline already holds must reach the pipeline too.
        first = max(1, min(page_size, MAX_FIRST))
        search = f"updated_at:>='{_search_time(start, ceil=False)}' updated_at:<'{_search_time(end, ceil=True)}'"
        cursor: str | None = None
        # Exact repeats (same order, same updatedAt) are dropped; a newer version of an order served earlier
        # in the window is kept, since it carries the change.
        seen: set[tuple[str, str]] = set()
        while True:
            self._wait_for_bucket()
            # A page that stays garbled after the transport's retries raises: with cursor pagination the next
            # cursor is unknown, so the page cannot be skipped, and the poller keeps its old cursor.
            connection = self._post(ORDERS_QUERY, {"first": first, "after": cursor, "query": search}, _orders_of)
            page = Page()
            for edge in connection["edges"]:
                node = edge.get("node") if isinstance(edge, dict) else None
                external_id = _order_id(node) if isinstance(node, dict) else ""
                if not external_id:
                    page.errors.append(ChannelError("order node without an id", code="PAYLOAD_INVALID"))
                    continue
                key = (external_id, str(node.get("updatedAt")))
                if key in seen:
                    continue
                seen.add(key)
                page.orders.append(RawOrder(external_id=external_id, payload=node))
            yield page
            info = connection["pageInfo"]
            if not info.get("hasNextPage"):
                return
            next_cursor = info.get("endCursor")
            if not isinstance(next_cursor, str) or not next_cursor or next_cursor == cursor:
                raise ChannelError("Shopify said there is a next page but gave no new cursor", code="PAGE_GARBLED")
            cursor = next_cursor

    def normalise(self, payload: dict[str, Any]) -> NormalisedOrder:
        """Read one GraphQL order node; raises ChannelError(code="PAYLOAD_INVALID") if it cannot be read."""
        return _guarded(_normalise_node, payload, _order_id)

    def test_connection(self) -> dict[str, str]:
        """The shop's name and domain, proving the token and API version work; raises ChannelError otherwise."""
        data = self._post(SHOP_QUERY, {}, _shop_of)
        return {
            "name": str(data.get("name") or ""),
            "domain": str(data.get("myshopifyDomain") or ""),
            "api": self.api_version,
        }

    # -- HTTP -------------------------------------------------------------------------------------------------

    def _post(self, query: str, variables: dict[str, Any], pick: Callable[[dict[str, Any]], Any]) -> Any:
        """POST one GraphQL query through the transport's retries; `pick` takes what the caller needs from `data`."""
        if not self._token:
            raise ChannelError(f"no Shopify access token configured for {self.shop}", code="SHOPIFY_AUTH")

        def send(session: requests.Session, timeout: float) -> Any:
            response = session.post(
                self.endpoint,
                json={"query": query, "variables": variables},
                headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"},
                timeout=timeout,
            )
            return pick(self._read(response))

        return self.transport.call(send)

    def _read(self, response: requests.Response) -> dict[str, Any]:
        """The `data` of a GraphQL answer, or the ChannelError it amounts to."""
        status = response.status_code
        if status in (401, 403):
            # The message names the shop, never the token.
            raise ChannelError(
                f"Shopify refused the access token for {self.shop} (HTTP {status}): check the app's Admin API "
                "access token and that it has the read_orders scope",
                code="SHOPIFY_AUTH",
            )
        if status == 429:
            body = _json_or_none(response)
            if isinstance(body, dict) and _is_throttled(body.get("errors")):
                raise self._throttled(body)
        if status == 429 or status >= 500:
            check_http_status(response)
        if status >= 400:
            body = _json_or_none(response)
            detail = _error_text(body.get("errors") if isinstance(body, dict) else None) or response.reason
            raise ChannelError(f"Shopify refused the request (HTTP {status}): {detail}"[:500], code=f"HTTP_{status}")
        body = parse_json(response)
        if not isinstance(body, dict):
            raise ChannelError("Shopify answered JSON that is not an object", code="PAGE_GARBLED", transient=True)
        self._note_cost(body.get("extensions"))
        errors = body.get("errors")
        if errors:
            if _is_throttled(errors):
                raise self._throttled(body)
            raise ChannelError(f"Shopify GraphQL error: {_error_text(errors)}"[:500], code="SHOPIFY_GRAPHQL")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ChannelError("Shopify answer has no data", code="PAGE_GARBLED", transient=True)
        return data

    def _throttled(self, body: dict[str, Any]) -> ChannelError:
        """A transient error whose retry_after is how long the bucket needs to afford the query."""
        self._note_cost(body.get("extensions"))
        cost = _cost(body.get("extensions"))
        delay = 1.0
        if cost:
            throttle = cost.get("throttleStatus") or {}
            try:
                needed = float(cost.get("requestedQueryCost") or 0) - float(throttle.get("currentlyAvailable") or 0)
                delay = needed / float(throttle.get("restoreRate") or 50) + BUCKET_CUSHION_SECONDS
            except (TypeError, ValueError, ZeroDivisionError):
                delay = 1.0
        return ChannelError(
            "Shopify throttled the query: its cost bucket is empty",
            code="SHOPIFY_THROTTLED",
            transient=True,
            retry_after=max(0.5, delay),
        )

    def _note_cost(self, extensions: Any) -> None:
        """Remember the bucket and the query cost an answer reports."""
        cost = _cost(extensions)
        if not cost:
            return
        throttle = cost.get("throttleStatus")
        try:
            if isinstance(throttle, dict):
                self._bucket = {
                    "available": float(throttle["currentlyAvailable"]),
                    "rate": float(throttle["restoreRate"]),
                    "maximum": float(throttle["maximumAvailable"]),
                }
                self._bucket_seen_at = time.monotonic()
            # The next page asks the same query, so it will be charged what this one was asked for.
            self._last_cost = float(cost.get("requestedQueryCost") or self._last_cost)
        except (KeyError, TypeError, ValueError):
            self._bucket = None

    def _wait_for_bucket(self) -> None:
        """Sleep until the bucket, as last reported and refilled since, affords the next query."""
        bucket = self._bucket
        if not bucket or bucket["rate"] <= 0 or not self._last_cost:
            return
        elapsed = time.monotonic() - self._bucket_seen_at
        available = min(bucket["maximum"], bucket["available"] + elapsed * bucket["rate"])
        needed = self._last_cost + BUCKET_CUSHION_SECONDS * bucket["rate"] - available
        if needed > 0:
            self.transport.sleep(needed / bucket["rate"])


# -- webhooks ---------------------------------------------------------------------------------------------------


def webhook_signature(body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-Sha256` value for a body: base64 of HMAC-SHA256 keyed by the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def verify_webhook(body: bytes, header_value: str, secret: str) -> bool:
    """Whether the header is the body's signature under the secret, compared in constant time."""
    if not secret or not header_value:
        return False
    expected = webhook_signature(body, secret).encode("ascii")
    return hmac.compare_digest(expected, header_value.strip().encode("utf-8", "replace"))


def normalise_webhook(payload: dict[str, Any]) -> NormalisedOrder:
    """Read the REST order JSON an orders/* webhook carries; raises ChannelError(code="PAYLOAD_INVALID")."""
    return _guarded(_normalise_rest, payload, lambda order: str(order.get("id") or ""))


# -- reading orders -----------------------------------------------------------------------------------------------


def _guarded(
    read: Callable[[dict[str, Any]], NormalisedOrder], payload: Any, id_of: Callable[[Any], str]
) -> NormalisedOrder:
    """Run a reader, turning any reading failure into ChannelError(code="PAYLOAD_INVALID")."""
    external_id = ""
    try:
        if not isinstance(payload, dict):
            raise ValueError(f"order is a {type(payload).__name__}, not an object")
        external_id = id_of(payload)
        return read(payload)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc) or exc.__class__.__name__
        raise ChannelError(
            f"unreadable Shopify order: {reason}"[:500], code="PAYLOAD_INVALID", external_id=external_id
        ) from exc


def _normalise_node(node: dict[str, Any]) -> NormalisedOrder:
    """A GraphQL Order node in Loopline's terms."""
    external_id = _order_id(node)
    if not external_id:
        raise ValueError("order has no id")
    connection = node["lineItems"]
    if isinstance(connection, dict) and (connection.get("pageInfo") or {}).get("hasNextPage"):
        raise ValueError(f"order has more than {LINES_FIRST} line items; the rest were not fetched")
    lines = []
    for item in _nodes(connection):
        qty = _quantity(item["quantity"])
        unit_price = _money(item["originalUnitPriceSet"])
        original = unit_price * qty
        discounted = _money(item.get("discountedTotalSet"), default=original)
        lines.append(
            NormalisedLine(
                external_line_id=_gid_tail(item["id"]),
                external_sku=_text(item.get("sku")),
                title=_text(item.get("name")),
                qty=qty,
                unit_price=unit_price,
                discount=original - discounted,
            )
        )
    financial = _text(node.get("displayFinancialStatus")).lower()
    customer = node.get("customer") or {}
    address = node.get("shippingAddress") or {}
    processed = _time(node.get("processedAt"))
    return _order(
        external_id=external_id,
        external_number=_text(node.get("name")),
        financial=financial,
        cancelled=node.get("cancelledAt") is not None,
        buyer=_buyer(node.get("email"), customer.get("email"), customer.get("firstName"), customer.get("lastName")),
        note=_text(node.get("note")),
        address={
            "name": address.get("name"),
            "phone": address.get("phone"),
            "country": address.get("countryCodeV2"),
            "province": address.get("province"),
            "city": address.get("city"),
            "lines": (address.get("address1"), address.get("address2")),
            "zip": address.get("zip"),
        },
        currency=_text(node.get("currencyCode")),
        total_discounts=_money(node.get("totalDiscountsSet")),
        shipping=_money(node.get("totalShippingPriceSet")),
        tax=_money(node.get("totalTaxSet")),
        taxes_included=bool(node.get("taxesIncluded")),
        paid=_money(node["totalPriceSet"]),
        ordered_at=_time(node.get("createdAt")),
        paid_at=processed if financial in MONEY_TAKEN else None,
        updated_at=_time(node.get("updatedAt")),
        lines=lines,
    )


def _normalise_rest(order: dict[str, Any]) -> NormalisedOrder:
    """A REST (webhook) order in Loopline's terms."""
    external_id = str(order["id"] or "")
    if not external_id:
        raise ValueError("order has no id")
    lines = []
    items = order["line_items"]
    if not isinstance(items, list):
        raise ValueError("line_items is not a list")
    for item in items:
        qty = _quantity(item["quantity"])
        if item.get("total_discount") is not None:
            discount = _decimal(item["total_discount"])
        else:
            discount = sum((_decimal(a["amount"]) for a in item.get("discount_allocations") or []), Decimal(0))
        lines.append(
            NormalisedLine(
                external_line_id=str(item["id"]),
                external_sku=_text(item.get("sku")),
                title=_text(item.get("name") or item.get("title")),
                qty=qty,
                unit_price=_decimal(item["price"]),
                discount=discount,
            )
        )
    if order.get("total_shipping_price_set"):
        shipping = _money(order["total_shipping_price_set"])
    else:
        shipping = sum((_decimal(line["price"]) for line in order.get("shipping_lines") or []), Decimal(0))
    financial = _text(order.get("financial_status")).lower()
    customer = order.get("customer") or {}
    address = order.get("shipping_address") or {}
    processed = _time(order.get("processed_at"))
    return _order(
        external_id=external_id,
        external_number=_text(order.get("name")),
        financial=financial,
        cancelled=order.get("cancelled_at") is not None,
        buyer=_buyer(order.get("email"), customer.get("email"), customer.get("first_name"), customer.get("last_name")),
        note=_text(order.get("note")),
        address={
            "name": address.get("name"),
            "phone": address.get("phone"),
            "country": address.get("country_code"),
            "province": address.get("province"),
            "city": address.get("city"),
            "lines": (address.get("address1"), address.get("address2")),
            "zip": address.get("zip"),
        },
        currency=_text(order.get("currency")),
        total_discounts=_decimal(order.get("total_discounts") or "0"),
        shipping=shipping,
        tax=_decimal(order.get("total_tax") or "0"),
        taxes_included=bool(order.get("taxes_included")),
        paid=_decimal(order["total_price"]),
        ordered_at=_time(order.get("created_at")),
        paid_at=processed if financial in MONEY_TAKEN else None,
        updated_at=_time(order.get("updated_at")),
        lines=lines,
    )


def _order(
    *,
    external_id: str,
    external_number: str,
    financial: str,
    cancelled: bool,
    buyer: str,
    note: str,
    address: dict[str, Any],
    currency: str,
    total_discounts: Decimal,
    shipping: Decimal,
    tax: Decimal,
    taxes_included: bool,
    paid: Decimal,
    ordered_at: datetime | None,
    paid_at: datetime | None,
    updated_at: datetime | None,
    lines: list[NormalisedLine],
) -> NormalisedOrder:
    """The NormalisedOrder both readers build, so the GraphQL and webhook shapes cannot drift apart."""
    line_discounts = sum((line.discount for line in lines), Decimal(0))
    # Shopify's total discounts include the line-level ones; Loopline keeps those on the lines and the
    # order-level remainder (discount codes on the whole order) in discount_amount, so nothing counts twice.
    discount = total_discounts - line_discounts
    # NormalisedOrder has no tax field. Tax charged on top of prices is put into shipping_amount (both are
    # "added to the goods"), so goods − discounts + shipping = paid holds for US shops; included taxes are
    # already inside the prices. Duties and tips are not read.
    if not taxes_included:
        shipping += tax
    return NormalisedOrder(
        external_id=external_id,
        external_number=external_number,
        external_status=financial,
        buyer=buyer,
        buyer_note=note,
        receiver_name=_text(address["name"]),
        receiver_phone=_text(address["phone"]),
        receiver_country=_text(address["country"]),
        receiver_province=_text(address["province"]),
        receiver_city=_text(address["city"]),
        receiver_address=" ".join(_text(part) for part in address["lines"] if _text(part)),
        receiver_zip=_text(address["zip"]),
        currency=currency,
        goods_amount=sum((line.unit_price * line.qty for line in lines), Decimal(0)),
        shipping_amount=shipping,
        discount_amount=discount,
        paid_amount=paid,
        ordered_at=ordered_at,
        paid_at=paid_at,
        updated_at=updated_at,
        cancelled=cancelled,
        refunded=financial == "refunded",
        lines=lines,
    )


def _orders_of(data: dict[str, Any]) -> dict[str, Any]:
    """The `orders` connection of an answer; a malformed one is a garbled page, worth another try."""
    connection = data.get("orders")
    if (
        not isinstance(connection, dict)
        or not isinstance(connection.get("edges"), list)
        or not isinstance(connection.get("pageInfo"), dict)
    ):
        raise ChannelError("Shopify answer has no orders connection", code="PAGE_GARBLED", transient=True)
    return connection


def _shop_of(data: dict[str, Any]) -> dict[str, Any]:
    """The `shop` of an answer; a malformed one is a garbled answer."""
    shop = data.get("shop")
    if not isinstance(shop, dict):
        raise ChannelError("Shopify answer has no shop", code="PAGE_GARBLED", transient=True)
    return shop


def _order_id(node: dict[str, Any]) -> str:
    """The order's numeric id (legacyResourceId, else the tail of its gid); "" if it has none."""
    legacy = node.get("legacyResourceId")
    if legacy not in (None, ""):
        return str(legacy)
    return _gid_tail(node.get("id") or "") if node.get("id") else ""


def _gid_tail(value: Any) -> str:
    """`gid://shopify/LineItem/466157049` → "466157049", the id REST and webhooks use for the same thing."""
    text = str(value)
    return text.rsplit("/", 1)[-1] if text.startswith("gid://") else text


def _nodes(connection: Any) -> list[dict[str, Any]]:
    """The nodes of a connection given as edges, nodes or a plain list."""
    if isinstance(connection, list):
        return connection
    if isinstance(connection, dict):
        if isinstance(connection.get("edges"), list):
            return [edge["node"] for edge in connection["edges"]]
        if isinstance(connection.get("nodes"), list):
            return connection["nodes"]
    raise ValueError("lineItems is neither a connection nor a list")


def _money(bag: Any, default: Decimal | None = None) -> Decimal:
    """The shop-currency amount of a MoneyBag (`{"shopMoney": {"amount": "12.80"}}`)."""
    if bag is None and default is not None:
        return default
    if bag is None:
        return Decimal(0)
    if not isinstance(bag, dict):
        raise ValueError(f"money is not an object: {bag!r}"[:80])
    shop_money = bag.get("shopMoney") if "shopMoney" in bag else bag.get("shop_money")
    if not isinstance(shop_money, dict):
        raise ValueError(f"money without shopMoney: {bag!r}"[:80])
    return _decimal(shop_money["amount"])


def _decimal(value: Any) -> Decimal:
    """A money or quantity value as a finite Decimal, never through float arithmetic."""
    if isinstance(value, float):
        value = repr(value)  # the JSON number's shortest text, not its binary expansion
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"amount is not a number: {value!r}"[:80]) from exc
    if not amount.is_finite():
        raise ValueError(f"amount is not a number: {value!r}")
    return amount


def _quantity(value: Any) -> Decimal:
    # A negative or fractional quantity is read as given; the pipeline's validation reports it.
    """A line quantity as a Decimal."""
    if isinstance(value, bool):
        raise ValueError("quantity is not a number")
    return _decimal(value)


def _time(value: Any) -> datetime | None:
    """An ISO 8601 time with offset as an aware datetime in Asia/Shanghai; None when absent."""
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"time without an offset: {value!r}")
    return parsed.astimezone(SHANGHAI)


def _text(value: Any) -> str:
    """A value as stripped text, None as ""."""
    return "" if value is None else str(value).strip()


def _buyer(*candidates: Any) -> str:
    """Who bought: the order's email, else the customer's email, else the customer's name."""
    order_email, customer_email, first_name, last_name = candidates
    return _text(order_email) or _text(customer_email) or " ".join(filter(None, (_text(first_name), _text(last_name))))


def _search_time(moment: datetime, *, ceil: bool) -> str:
    """A window bound for Shopify's search syntax: UTC, whole seconds, widened so no order falls outside."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + (timedelta(seconds=1) if ceil else timedelta(0))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _cost(extensions: Any) -> dict[str, Any] | None:
    """The `extensions.cost` object of an answer, if any."""
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    return cost if isinstance(cost, dict) else None


def _is_throttled(errors: Any) -> bool:
    """Whether GraphQL errors are Shopify's `Throttled`."""
    if not isinstance(errors, list):
        return False
    for error in errors:
        if isinstance(error, dict) and (
            error.get("message") == "Throttled" or (error.get("extensions") or {}).get("code") == "THROTTLED"
        ):
            return True
    return False


def _error_text(errors: Any) -> str:
    """GraphQL or REST errors as one line of text."""
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return "" if errors is None else str(errors)


def _json_or_none(response: requests.Response) -> Any:
    """The JSON body of an error answer, or None."""
    try:
        return response.json()
    except ValueError:
        return None
