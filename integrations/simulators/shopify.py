"""A simulated Shopify Admin GraphQL API (versions 2024-07 … 2025-07): the `orders` query, cost throttling, webhooks.

Serves `POST /shopify/admin/api/{version}/graphql.json`, standing for `https://{shop}.myshopify.com/admin/api/…`.
It checks what Shopify checks — the `X-Shopify-Access-Token`, a supported API version, `first` ≤ 250, an opaque
cursor of the same sort, the cost bucket — and answers in Shopify's envelopes (401 `{"errors": "[API] …"}`,
GraphQL `{"errors": [{"message": …}]}` at HTTP 200, `Throttled` with `extensions.cost`).

The query is read "just enough": the arguments of `orders(…)` (literal or `$variables`), `lineItems(first: …)`,
and the `updated_at` / `financial_status` terms of the search string; every order node is returned whole whatever
fields were selected. Query cost is a simplification of Shopify's: requested = 2 + 3 × first (an order and about
two lines each), actual = 2 + Σ (1 + lines) over the orders returned, never above requested.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from integrations.simulators.credentials import SHOPIFY
from integrations.simulators.orderbook import CENT, OrderBook, SimOrder
from integrations.simulators.server import Faults, SimRequest, SimResponse

SUPPORTED_VERSIONS = ("2024-07", "2024-10", "2025-01", "2025-04", "2025-07")
SHOP_ZONE = ZoneInfo("America/New_York")  # the demo shop's time zone: REST times and naive search dates use it
MAX_FIRST = 250
PAGE_COST = 2
ORDER_COST = 3
AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
FINANCIAL = {"paid": "PAID", "shipped": "PAID", "refunded": "REFUNDED", "cancelled": "VOIDED", "unpaid": "PENDING"}
US_STATES = {"CA": "California", "NY": "New York", "TX": "Texas", "WA": "Washington", "IL": "Illinois"}
COUNTRIES = {"US": "United States", "CN": "China"}

PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
ORDERS_FIELD = re.compile(r"\borders\s*\(([^)]*)\)")
LINE_ITEMS_FIELD = re.compile(r"\blineItems\s*\(([^)]*)\)")
SHOP_FIELD = re.compile(r"\bshop\s*\{")
ARGUMENT = re.compile(r'(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|\$\w+|-?\d+|\w+)')
SEARCH_TERM = re.compile(r"""(\w+):(>=|<=|>|<)?(?:'([^']*)'|"([^"]*)"|(\S+))""")
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


class QueryError(Exception):
    """A GraphQL error Shopify answers at HTTP 200 with `{"errors": [{"message": …}]}`."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class CostBucket:
    """Shopify's leaky bucket of query-cost points per app and shop."""

    maximum: float = 1000.0
    rate: float = 50.0
    clock: Callable[[], float] = time.monotonic
    available: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.available = self.maximum
        self.at = self.clock()

    def refill(self) -> None:
        """Leak points back in for the time passed since the last look."""
        now = self.clock()
        # Rounded so float dust (151.99999…) never throttles a client that waited exactly long enough.
        self.available = round(min(self.maximum, self.available + (now - self.at) * self.rate), 6)
        self.at = now

    def status(self) -> dict[str, float | int]:
        """The bucket as `extensions.cost.throttleStatus` reports it."""
        return {"maximumAvailable": self.maximum, "currentlyAvailable": int(self.available), "restoreRate": self.rate}


@dataclass
class Search:
    """The part of a search string the simulator honours."""

    low: datetime = FAR_PAST
    low_strict: bool = False
    high: datetime = FAR_FUTURE
    high_inclusive: bool = False
    financial: set[str] = field(default_factory=set)


class ShopifySimulator:
    """Shopify's Admin GraphQL endpoint over an OrderBook (create the book with currency="USD" for the demo)."""

    prefix = "/shopify"
    faults_apply = True

    def __init__(
        self,
        book: OrderBook,
        credentials: dict[str, str],
        faults: Faults | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        maximum_available: float = 1000.0,
        restore_rate: float = 50.0,
        throttle_status: int = 200,
    ):
        self.book = book
        self.credentials = credentials
        # Pass the SimulatorApp's own Faults object so its knobs (modify/duplicate) reach this handler.
        self.faults = faults or Faults()
        self.bucket = CostBucket(maximum_available, restore_rate, clock)
        self.throttle_status = throttle_status  # most reports say 200; some saw 429
        self.lock = threading.Lock()
        self._last_requested = PAGE_COST + ORDER_COST * 100

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request to the GraphQL endpoint."""
        match = PATH.match(request.path)
        if not match:
            return SimResponse.json({"errors": "Not Found"}, 404)
        token = request.headers.get("x-shopify-access-token", "").encode()
        if not hmac.compare_digest(token, self.credentials["access_token"].encode()):
            return SimResponse.json({"errors": AUTH_ERROR}, 401)
        if match["version"] not in SUPPORTED_VERSIONS:
            return SimResponse.json({"errors": "Not Found"}, 404)
        if request.method != "POST":
            return SimResponse.json({"errors": "Method Not Allowed"}, 405)
        try:
            body = request.json()
            query = body["query"]
            variables = body.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError):
            return SimResponse.json({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        try:
            if ORDERS_FIELD.search(query):
                return self._orders(query, variables)
            if SHOP_FIELD.search(query):
                return self._shop()
            raise QueryError("the simulator answers only the orders and shop queries", "undefinedField")
        except QueryError as error:
            return _graphql_error(error)

    def throttled(self) -> SimResponse:
        """Shopify's answer to a query the bucket cannot afford."""
        with self.lock:
            self.bucket.refill()
            cost = self._cost(self._last_requested, None)
        return _throttled_response(cost, self.throttle_status)

    # -- queries ----------------------------------------------------------------------------------------------

    def _shop(self) -> SimResponse:
        """Answer `{ shop { name myshopifyDomain } }`, costing one point."""
        with self.lock:
            self.bucket.refill()
            if self.bucket.available < 1:
                return _throttled_response(self._cost(1, None), self.throttle_status)
            self.bucket.available -= 1
            cost = self._cost(1, 1)
        shop = {"name": "Loopline Demo", "myshopifyDomain": self.credentials.get("shop", SHOPIFY["shop"])}
        return SimResponse.json({"data": {"shop": shop}, "extensions": {"cost": cost}})

    def _orders(self, query: str, variables: dict[str, Any]) -> SimResponse:
        """Answer the `orders` connection: validate the arguments, charge the bucket, page by cursor."""
        args = _arguments(ORDERS_FIELD.search(query).group(1), variables)
        if "last" in args or "before" in args or args.get("reverse"):
            raise QueryError("the simulator pages forward only (first/after, oldest first)")
        first = args.get("first")
        if first is None:
            raise QueryError("you must provide one of first or last")
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise QueryError("Argument 'first' on Field 'orders' has an invalid value. Expected type 'Int'.")
        if first > MAX_FIRST:
            raise QueryError(f"first cannot exceed {MAX_FIRST}", "argumentLiteralsIncompatible")
        if args.get("sortKey", "UPDATED_AT") != "UPDATED_AT":
            raise QueryError("the simulator sorts orders only by UPDATED_AT")
        search = _search(args.get("query") or "")
        after = args.get("after")
        after_key = _decode_cursor(after) if after else None
        if after and after_key is None:
            raise QueryError("Invalid cursor for current pagination sort.", "BAD_REQUEST")
        line_first = 0
        line_items = LINE_ITEMS_FIELD.search(query)
        if line_items:
            line_first = _arguments(line_items.group(1), variables).get("first") or 0
            if not isinstance(line_first, int) or line_first > MAX_FIRST:
                raise QueryError(f"first cannot exceed {MAX_FIRST}", "argumentLiteralsIncompatible")
        requested = PAGE_COST + ORDER_COST * first
        with self.lock:
            self.bucket.refill()
            self._last_requested = requested
            if self.bucket.available < requested:
                return _throttled_response(self._cost(requested, None), self.throttle_status)
            found = self._scan(search, after_key, first)
            page, has_next = found[:first], len(found) > first
            if has_next and self.faults.modify_between_pages:
                # The order that would open the next page changes now: it moves to the end of the sort.
                self.book.touch(found[first].order_id)
            served = list(page)
            if after_key and self.faults.duplicate_across_pages:
                repeated = self.book.get(after_key[1])
                if repeated is not None:
                    served.insert(0, repeated)
            actual = min(requested, PAGE_COST + sum(1 + len(order.lines) for order in served))
            self.bucket.available -= actual
            cost = self._cost(requested, actual)
        edges = [{"cursor": _cursor(order), "node": render_node(order, line_first)} for order in served]
        page_info = {
            "hasNextPage": has_next,
            "hasPreviousPage": after_key is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": _cursor(page[-1]) if page else after,
        }
        return SimResponse.json(
            {"data": {"orders": {"edges": edges, "pageInfo": page_info}}, "extensions": {"cost": cost}}
        )

    def _scan(self, search: Search, after_key: tuple[datetime, int] | None, first: int) -> list[SimOrder]:
        """Up to first + 1 orders of the search after the cursor, in (updatedAt, id) order."""
        high = search.high + timedelta(microseconds=1) if search.high_inclusive else search.high
        low = search.low if after_key is None else max(search.low, after_key[0])
        # Read the book in growing slices of time so a page costs about `first` orders, not the whole window.
        span = max(self.book.step * (first + 2), timedelta(minutes=1))
        found: list[SimOrder] = []
        while len(found) <= first and low < high:
            upper = min(high, low + span)
            for order in self.book.window(low, upper):
                if search.low_strict and order.modified <= search.low:
                    continue
                if after_key is not None and (order.modified, order.order_id) <= after_key:
                    continue
                if search.financial and financial_status(order).lower() not in search.financial:
                    continue
                found.append(order)
            low, span = upper, span * 2
        return found

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        """The `extensions.cost` object of an answer."""
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.bucket.status(),
        }


# -- rendering ------------------------------------------------------------------------------------------------


def render_node(order: SimOrder, line_first: int = 100) -> dict[str, Any]:
    """The order as a GraphQL `Order` node; a verbatim payload loaded from a file is returned as it is."""
    if order.raw is not None:
        return order.raw
    currency = order.currency

    def money(amount: Decimal) -> dict[str, Any]:
        return {"shopMoney": {"amount": _amount(amount), "currencyCode": currency}}

    total_discounts = order.line_discounts + order.discount
    address = _address(order)
    email, first_name, last_name = _customer(order)
    lines = [
        {
            "node": {
                "id": f"gid://shopify/LineItem/{line['line_id']}",
                "sku": line["sku"] or None,
                "name": line["title"],
                "quantity": line["qty"],
                "originalUnitPriceSet": money(line["price"]),
                "discountedTotalSet": money(line["price"] * line["qty"] - line["discount"]),
                "variant": {
                    "id": f"gid://shopify/ProductVariant/{_variant_id(line['sku'])}",
                    "legacyResourceId": str(_variant_id(line["sku"])),
                },
                "product": {"id": f"gid://shopify/Product/{_variant_id(line['sku']) // 10}"},
            }
        }
        for line in order.lines[:line_first]
    ]
    return {
        "id": f"gid://shopify/Order/{order.order_id}",
        "legacyResourceId": str(order.order_id),
        "name": order_name(order),
        "email": email or None,
        "note": order.note or None,
        "tags": [],
        "createdAt": _graphql_time(order.created),
        "updatedAt": _graphql_time(order.modified),
        "processedAt": _graphql_time(order.created),
        "cancelledAt": _graphql_time(order.modified) if order.status == "cancelled" else None,
        "displayFinancialStatus": financial_status(order),
        "displayFulfillmentStatus": "FULFILLED" if order.status == "shipped" else "UNFULFILLED",
        "currencyCode": currency,
        "taxesIncluded": False,
        "totalPriceSet": money(order.paid),
        "subtotalPriceSet": money(order.goods_total - total_discounts),
        "totalDiscountsSet": money(total_discounts),
        "totalShippingPriceSet": money(order.shipping),
        "totalTaxSet": money(Decimal(0)),
        "shippingAddress": {
            "name": address["name"],
            "phone": address["phone"],
            "address1": address["address1"],
            "address2": None,
            "city": address["city"],
            "province": address["province"],
            "provinceCode": address["province_code"],
            "zip": address["zip"],
            "country": address["country"],
            "countryCodeV2": address["country_code"],
        },
        "customer": {
            "id": f"gid://shopify/Customer/{_customer_id(order)}",
            "email": email or None,
            "firstName": first_name or None,
            "lastName": last_name or None,
        },
        "lineItems": {"pageInfo": {"hasNextPage": len(order.lines) > line_first}, "edges": lines},
    }


def rest_order(order: SimOrder) -> dict[str, Any]:
    """The order as the REST Admin API and order webhooks carry it (money as strings, integer ids)."""
    currency = order.currency

    def money_set(amount: Decimal) -> dict[str, Any]:
        value = {"amount": _amount(amount), "currency_code": currency}
        return {"shop_money": value, "presentment_money": dict(value)}

    total_discounts = order.line_discounts + order.discount
    subtotal = order.goods_total - total_discounts
    address = _address(order)
    email, first_name, last_name = _customer(order)
    number = int(order_name(order)[1:])
    status = financial_status(order).lower()
    rest_address = {
        "first_name": address["name"].split(" ", 1)[0] if " " in address["name"] else address["name"],
        "last_name": address["name"].split(" ", 1)[1] if " " in address["name"] else "",
        "name": address["name"],
        "company": None,
        "address1": address["address1"],
        "address2": None,
        "city": address["city"],
        "province": address["province"],
        "province_code": address["province_code"],
        "zip": address["zip"],
        "country": address["country"],
        "country_code": address["country_code"],
        "phone": address["phone"],
    }
    return {
        "id": order.order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order.order_id}",
        "name": order_name(order),
        "number": number - 1000,
        "order_number": number,
        "email": email,
        "phone": None,
        "note": order.note or None,
        "note_attributes": [],
        "tags": "",
        "test": False,
        "created_at": _rest_time(order.created),
        "updated_at": _rest_time(order.modified),
        "processed_at": _rest_time(order.created),
        "cancelled_at": _rest_time(order.modified) if order.status == "cancelled" else None,
        "cancel_reason": "customer" if order.status == "cancelled" else None,
        "closed_at": None,
        "financial_status": status,
        "fulfillment_status": "fulfilled" if order.status == "shipped" else None,
        "currency": currency,
        "presentment_currency": currency,
        "taxes_included": False,
        "total_price": _amount(order.paid),
        "subtotal_price": _amount(subtotal),
        "total_line_items_price": _amount(order.goods_total),
        "total_discounts": _amount(total_discounts),
        "total_tax": "0.00",
        "total_price_set": money_set(order.paid),
        "subtotal_price_set": money_set(subtotal),
        "total_discounts_set": money_set(total_discounts),
        "total_tax_set": money_set(Decimal(0)),
        "total_shipping_price_set": money_set(order.shipping),
        "discount_codes": (
            [{"code": "LOOPLINE", "amount": _amount(order.discount), "type": "fixed_amount"}] if order.discount else []
        ),
        "shipping_lines": [
            {"code": "Standard", "price": _amount(order.shipping), "source": "shopify", "title": "Standard Shipping"}
        ],
        "tax_lines": [],
        "customer": {
            "id": _customer_id(order),
            "email": email,
            "first_name": first_name or None,
            "last_name": last_name or None,
        },
        "shipping_address": rest_address,
        "billing_address": dict(rest_address),
        "line_items": [
            {
                "id": line["line_id"],
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line['line_id']}",
                "variant_id": _variant_id(line["sku"]),
                "product_id": _variant_id(line["sku"]) // 10,
                "title": line["title"],
                "variant_title": None,
                "name": line["title"],
                "sku": line["sku"] or None,
                "quantity": line["qty"],
                "price": _amount(line["price"]),
                "total_discount": _amount(line["discount"]),
                "discount_allocations": (
                    [{"amount": _amount(line["discount"]), "discount_application_index": 0}] if line["discount"] else []
                ),
                "requires_shipping": True,
                "taxable": True,
                "fulfillment_status": "fulfilled" if order.status == "shipped" else None,
                "tax_lines": [],
            }
            for line in order.lines
        ],
    }


def webhook_request(
    order: SimOrder, topic: str, secret: str, *, shop_domain: str = SHOPIFY["shop"], api_version: str = "2025-01"
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Shopify would POST for an orders/* webhook about this order (neutral fields only)."""
    body = json.dumps(rest_order(order), ensure_ascii=False, separators=(",", ":")).encode()
    # Signed here by hand, not with the client's helper, so a wrong client signature cannot agree with itself.
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    event = f"{shop_domain}/{topic}/{order.order_id}/{order.modified.isoformat()}"
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Webhook-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, event)),
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    return body, headers


def financial_status(order: SimOrder) -> str:
    """The OrderDisplayFinancialStatus of a neutral status (a cancelled order's authorisation is voided)."""
    return FINANCIAL.get(order.status, order.status.upper())


def order_name(order: SimOrder) -> str:
    """The shop's order name, "#1001" for the book's first order."""
    return f"#{1001 + order.order_id % 1_000_000}"


def throttled_body(cost: dict[str, Any]) -> dict[str, Any]:
    """Shopify's body for a throttled query: errors and extensions, no data."""
    error = {
        "message": "Throttled",
        "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
    }
    return {"errors": [error], "extensions": {"cost": cost}}


def _throttled_response(cost: dict[str, Any], status: int) -> SimResponse:
    """The throttled body at the simulator's throttle HTTP status."""
    return SimResponse.json(throttled_body(cost), status)


def _graphql_error(error: QueryError) -> SimResponse:
    """A GraphQL error at HTTP 200, as Shopify answers a query it rejects."""
    entry: dict[str, Any] = {"message": error.message, "locations": [{"line": 1, "column": 1}]}
    if error.code:
        entry["extensions"] = {"code": error.code}
    return SimResponse.json({"errors": [entry]})


def _arguments(text: str, variables: dict[str, Any]) -> dict[str, Any]:
    """A field's arguments, literals or `$variables`."""
    args: dict[str, Any] = {}
    for name, raw in ARGUMENT.findall(text):
        if raw.startswith("$"):
            args[name] = variables.get(raw[1:])
        elif raw.startswith('"'):
            args[name] = json.loads(raw)
        elif re.fullmatch(r"-?\d+", raw):
            args[name] = int(raw)
        else:
            args[name] = {"true": True, "false": False, "null": None}.get(raw, raw)
    return args


def _search(text: str) -> Search:
    """The updated_at range and financial_status filter of a search string; other terms are ignored."""
    search = Search()
    for name, operator, single, double, bare in SEARCH_TERM.findall(text):
        value = single or double or bare
        if name == "financial_status":
            search.financial = {part.strip().lower() for part in value.split(",") if part.strip()}
        elif name == "updated_at":
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise QueryError(f"Invalid search field value for updated_at: {value}") from exc
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=SHOP_ZONE)  # Shopify reads a date without offset in shop time
            if operator in (">", ">=", ""):
                search.low, search.low_strict = moment, operator == ">"
            if operator in ("<", "<=", ""):
                search.high, search.high_inclusive = moment, operator != "<"
    return search


def _cursor(order: SimOrder) -> str:
    # Like Shopify's: base64 of the last sort value and id, so a page resumes after a key, not an offset.
    """The opaque cursor of an order."""
    key = {"last_id": order.order_id, "last_value": order.modified.isoformat()}
    return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: Any) -> tuple[datetime, int] | None:
    """The (updatedAt, id) key of a cursor, or None if it is not one of ours."""
    try:
        key = json.loads(base64.b64decode(str(cursor), validate=True))
        moment = datetime.fromisoformat(key["last_value"])
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), int(key["last_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _address(order: SimOrder) -> dict[str, Any]:
    """The order's shipping address in Shopify's terms."""
    country = order.country or "CN"
    return {
        "name": order.receiver_name,
        "phone": order.phone or None,
        # Shopify has no district field: a Chinese address writes it at the head of the street line.
        "address1": f"{order.district}{order.address}",
        "city": order.city,
        "province": US_STATES.get(order.province, order.province) if country == "US" else order.province,
        "province_code": order.province if country == "US" else None,
        "zip": order.zip,
        "country": COUNTRIES.get(country, country),
        "country_code": country,
    }


def _customer(order: SimOrder) -> tuple[str, str, str]:
    """(email, first name, last name): a buyer nick that is not an email stands as the first name."""
    if "@" in order.buyer_nick:
        first, _, last = order.receiver_name.partition(" ")
        return order.buyer_nick, first, last
    return "", order.buyer_nick, ""


def _customer_id(order: SimOrder) -> int:
    """A stable customer id for a buyer."""
    return 7_000_000_000 + zlib.crc32(order.buyer_nick.encode()) % 1_000_000_000


def _variant_id(sku: str) -> int:
    """A stable variant id for a SKU."""
    return 40_000_000_000 + zlib.crc32((sku or "").encode()) % 1_000_000_000


def _amount(value: Decimal | int) -> str:
    """Money as Shopify writes it: a string with two decimals."""
    return str(Decimal(value).quantize(CENT))


def _graphql_time(moment: datetime) -> str:
    """A GraphQL DateTime: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rest_time(moment: datetime) -> str:
    """A REST time: the shop's offset, whole seconds."""
    return moment.astimezone(SHOP_ZONE).replace(microsecond=0).isoformat()
