"""Simulated Taobao / Tmall Open Platform (TOP) gateway: `/taobao/router/rest`, API v2.0, JSON answers.

Serves `taobao.trades.sold.increment.get` and `taobao.trade.fullinfo.get` over an OrderBook. Checks what the
TOP gateway checks (app_key, timestamp within ±10 minutes, v=2.0, the signature per sign_method, known method,
session, required and valid arguments, a window of at most one day, page_size 1..100) and refuses with TOP's
`error_response{code, msg, sub_code, sub_msg}` at HTTP 200. Facts and sources: docs reference/protocols.md §2;
the gateway codes 9, 23, 32–34 come from the same platform error table. The `msg` texts follow that table's
English names; sub_codes other than `invalid-sessionkey`, `accesscontrol.*` and `isv.invalid-parameter` are
unconfirmed guesses.

Window semantics follow the real API: whole seconds, both `start_modified` and `end_modified` inclusive, on
modified times truncated to the second as rendered. Limits of the simulator: `format=json` only, no
`simplify`, and of the optional filters only `status` (not `type`, `tag`, `buyer_nick`).
"""

import functools
import hashlib
import hmac
import threading
import uuid
import zlib
from collections import OrderedDict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from integrations.simulators.orderbook import CENT, SHANGHAI, OrderBook, SimOrder
from integrations.simulators.server import Faults, SimRequest, SimResponse, dumps_json

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CLOCK_SKEW = timedelta(minutes=10)
MAX_SPAN = timedelta(days=1)
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 40
PAGE_CACHE_BYTES = 64 * 1024 * 1024
INCREMENT_METHOD = "taobao.trades.sold.increment.get"
FULLINFO_METHOD = "taobao.trade.fullinfo.get"
SHOP_NAME = "Loopline五金旗舰店"

# Neutral status → Trade.status; refunded trades are closed after payment with a successful refund.
STATUSES = {
    "paid": "WAIT_SELLER_SEND_GOODS",
    "shipped": "WAIT_BUYER_CONFIRM_GOODS",
    "cancelled": "TRADE_CLOSED_BY_TAOBAO",
    "refunded": "TRADE_CLOSED",
    "unpaid": "WAIT_BUYER_PAY",
}


def _sign(params: dict[str, str], secret: str, sign_method: str) -> str | None:
    """The expected sign, computed here independently of the client so a client signing wrongly is caught."""
    text = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign" and params[key] != "")
    message, key = text.encode("utf-8"), secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + message + key, usedforsecurity=False).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, message, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, message, hashlib.sha256).hexdigest().upper()
    return None


def _error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> SimResponse:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    body["request_id"] = uuid.uuid4().hex[:14]
    return SimResponse.json({"error_response": body})


def _invalid(name: str, sub_msg: str) -> SimResponse:
    return _error(41, f"Invalid arguments:{name}", "isv.invalid-parameter", sub_msg)


@functools.lru_cache(maxsize=65536)
def _money(amount: Decimal) -> str:
    # Prices, fees and totals repeat across orders: each amount is formatted once.
    return str(Decimal(amount).quantize(CENT))


def _time(moment: datetime) -> str:
    # isoformat writes TIME_FORMAT's fields (four-digit year) several times faster than strftime.
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(" ", "seconds")


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def _parse_timestamp(value: str) -> datetime | None:
    # The official Python SDK sends epoch milliseconds; the protocol doc shows the GMT+8 text form.
    if value.isdigit():
        try:
            return datetime.fromtimestamp(int(value) / 1000, SHANGHAI)
        except (OverflowError, OSError, ValueError):
            return None
    return _parse_time(value)


@functools.lru_cache(maxsize=4096)
def _stable_id(text: str, base: int) -> int:
    """A stable Taobao-looking numeric id (num_iid, sku_id) for one of our SKU codes."""
    return base + zlib.crc32(text.encode()) % 1_000_000_000


class TaobaoSimulator:
    """The TOP gateway with the sold-trades APIs over an OrderBook."""

    prefix = "/taobao"
    faults_apply = True

    def __init__(self, book: OrderBook, credentials: dict[str, str], faults: Faults | None = None):
        self.book = book
        self.app_key = credentials["app_key"]
        self.app_secret = credentials["app_secret"]
        self.session = credentials["session"]
        # The page-level knobs are read at each request, so pass the SimulatorApp's own Faults object (its
        # set_faults changes that object in place) for /_control/faults to reach them.
        self.faults = faults or Faults()
        # Pages served per query, so modify_between_pages can pick a trade on a page the caller has not read.
        self._served: dict[tuple[str, ...], set[int]] = {}
        self._lock = threading.Lock()
        # Rendered pages, compressed (about 20 KB for 100 trades), least recently read dropped first.
        self._pages: OrderedDict[tuple, tuple[int, bytes | None]] = OrderedDict()
        self._page_bytes = 0

    def throttled(self) -> SimResponse:
        """TOP's API-level QPS ban, at HTTP 200."""
        return _error(
            7,
            "App Call Limited",
            "accesscontrol.limited-by-api-access-count",
            "This ban will last for 1 more seconds",
        )

    def handle(self, request: SimRequest) -> SimResponse:
        """Check the call the way the TOP gateway does, then run the method."""
        if request.path.rstrip("/") != "/router/rest":
            return SimResponse.json({"error": f"no TOP endpoint at {request.path}"}, 404)
        if request.method not in ("GET", "POST"):
            return _error(9, "Http Action Not Allowed")
        params = request.form
        refusal = self._check_gateway(params)
        if refusal is not None:
            return refusal
        if params["method"] == INCREMENT_METHOD:
            return self._increment(params)
        return self._fullinfo(params)

    def _check_gateway(self, params: dict[str, str]) -> SimResponse | None:
        if not params.get("method"):
            return _error(21, "Missing method")
        if not params.get("app_key"):
            return _error(28, "Missing app key")
        if params["app_key"] != self.app_key:
            return _error(29, "Invalid app Key")
        if not params.get("timestamp"):
            return _error(30, "Missing timestamp")
        sent_at = _parse_timestamp(params["timestamp"])
        if sent_at is None or abs(datetime.now(SHANGHAI) - sent_at) > CLOCK_SKEW:
            return _error(31, "Invalid timestamp", "isv.invalid-timestamp", "时间戳错误，与服务器时间相差超过10分钟")
        if not params.get("v"):
            return _error(32, "Missing version")
        if params["v"] != "2.0":
            return _error(34, "Unsupported version")
        if (params.get("format") or "xml") != "json":
            return _error(23, "Invalid format", "isv.invalid-format", "the simulator answers format=json only")
        if params.get("simplify") in ("true", "1"):
            return _invalid("simplify", "the simulator answers the non-simplified form only")
        if not params.get("sign"):
            return _error(24, "Missing signature")
        expected = _sign(params, self.app_secret, params.get("sign_method") or "")
        if expected is None:
            return _error(
                25, "Invalid signature", "isv.invalid-signature", "sign_method must be md5, hmac or hmac-sha256"
            )
        if not hmac.compare_digest(params["sign"].upper().encode(), expected.encode()):
            return _error(25, "Invalid signature")
        if params["method"] not in (INCREMENT_METHOD, FULLINFO_METHOD):
            return _error(22, "Invalid method")
        if not params.get("session"):
            return _error(26, "Missing session")
        if params["session"] != self.session:
            return _error(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")
        return None

    # -- taobao.trades.sold.increment.get -------------------------------------------------------------------

    def _increment(self, params: dict[str, str]) -> SimResponse:
        missing = [name for name in ("fields", "start_modified", "end_modified") if not params.get(name)]
        if missing:
            return _error(40, f"Missing required arguments:{missing[0]}")
        start = _parse_time(params["start_modified"])
        if start is None:
            return _invalid("start_modified", "start_modified must be yyyy-MM-dd HH:mm:ss")
        end = _parse_time(params["end_modified"])
        if end is None:
            return _invalid("end_modified", "end_modified must be yyyy-MM-dd HH:mm:ss")
        if end < start:
            return _invalid("end_modified", "end_modified must not be before start_modified")
        if end - start > MAX_SPAN:
            return _invalid("end_modified", "start_modified and end_modified must be at most one day apart")
        try:
            page_no = int(params.get("page_no") or 1)
            page_size = int(params.get("page_size") or DEFAULT_PAGE_SIZE)
        except ValueError:
            return _invalid("page_no", "page_no and page_size must be whole numbers")
        if page_no < 1:
            return _invalid("page_no", "page_no must be at least 1")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return _invalid("page_size", f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        status = params.get("status") or None
        fields = _fields(params["fields"])

        faults = self.faults
        if faults.duplicate_across_pages or faults.modify_between_pages:
            total, trades = self._served_page(start, end, status, fields, page_no, page_size, params)
        else:
            total, trades = self._cached_page(start, end, status, fields, page_no, page_size)
        body: dict[str, Any] = {}
        if params.get("use_has_next") == "true":
            body["has_next"] = (page_no - 1) * page_size + page_size < total
        else:
            body["total_results"] = total
        if trades is not None:
            # With nothing to show TOP leaves `trades` out altogether.
            body["trades"] = {"trade": trades}
        body["request_id"] = uuid.uuid4().hex[:14]
        return SimResponse.json({"trades_sold_increment_get_response": body})

    def _served_page(
        self,
        start: datetime,
        end: datetime,
        status: str | None,
        fields: set[str],
        page_no: int,
        page_size: int,
        params: dict[str, str],
    ) -> tuple[int, list[dict[str, Any]] | None]:
        """How many trades the window holds and those of the page, rendered (None when the page is empty)."""
        # Both ends are inclusive whole seconds: a trade shown as modified at end_modified is in the window.
        trades = self.book.window(start, end + timedelta(seconds=1))
        if status is not None:
            trades = [order for order in trades if self._status(order) == status]
        trades.reverse()  # newest first, as TOP sorts
        first = (page_no - 1) * page_size
        served = trades[first : first + page_size]
        if self.faults.duplicate_across_pages and 0 < first <= len(trades):
            # The last trade of the previous page shows up again at the top of this one.
            served = [trades[first - 1], *served]
        if self.faults.modify_between_pages:
            self._modify_unread(params, trades, page_no, page_size)
        return len(trades), [self._render(order, fields) for order in served] if served else None

    def _cached_page(
        self, start: datetime, end: datetime, status: str | None, fields: set[str], page_no: int, page_size: int
    ) -> tuple[int, orjson.Fragment | None]:
        """_served_page's answer, kept as compressed JSON until an order changes.

        A poll reads every page of a window once and page 1 twice, and a re-poll reads them all again: without
        this the simulator would generate and render the same trades each time, and a benchmark of the intake
        would mostly measure the simulator.
        """
        key = (start, end, status, frozenset(fields), page_no, page_size, self.book.version)
        with self._lock:
            hit = self._pages.get(key)
            if hit is not None:
                self._pages.move_to_end(key)
        if hit is not None:
            total, packed = hit
            return total, orjson.Fragment(zlib.decompress(packed)) if packed is not None else None
        total, trades = self._served_page(start, end, status, fields, page_no, page_size, {})
        text = dumps_json(trades) if trades is not None else None
        packed = zlib.compress(text, 1) if text is not None else None
        with self._lock:
            self._pages[key] = (total, packed)
            self._page_bytes += len(packed or b"")
            while self._page_bytes > PAGE_CACHE_BYTES:
                _, (_, dropped) = self._pages.popitem(last=False)
                self._page_bytes -= len(dropped or b"")
        return total, orjson.Fragment(text) if text is not None else None

    def _modify_unread(self, params: dict[str, str], trades: list[SimOrder], page_no: int, page_size: int) -> None:
        """Touch one trade on a page this query has not served yet, as a buyer would while the caller pages."""
        key = (params["start_modified"], params["end_modified"], str(page_size), params.get("status") or "")
        pages = -(-len(trades) // page_size)
        with self._lock:
            if len(self._served) > 1000:
                self._served.clear()
            served = self._served.setdefault(key, set())
            served.add(page_no)
            unread = [number for number in range(1, pages + 1) if number not in served]
        if not unread:
            return
        target = min(unread, key=lambda number: (abs(number - page_no), number))
        self.book.touch(trades[(target - 1) * page_size].order_id)

    def _status(self, order: SimOrder) -> str:
        if order.raw is not None:
            return str(order.raw.get("status") or "")
        return STATUSES.get(order.status, order.status.upper())

    # -- taobao.trade.fullinfo.get ----------------------------------------------------------------------------

    def _fullinfo(self, params: dict[str, str]) -> SimResponse:
        missing = [name for name in ("fields", "tid") if not params.get(name)]
        if missing:
            return _error(40, f"Missing required arguments:{missing[0]}")
        try:
            tid = int(params["tid"])
        except ValueError:
            return _invalid("tid", "tid must be a number")
        order = self.book.get(tid)
        if order is None:
            return _error(15, "Remote service error", "isv.trade-not-exist", f"交易{tid}不存在")
        trade = self._render(order, _fields(params["fields"]))
        return SimResponse.json({"trade_fullinfo_get_response": {"trade": trade, "request_id": uuid.uuid4().hex[:14]}})

    # -- rendering ------------------------------------------------------------------------------------------

    def _render(self, order: SimOrder, fields: set[str]) -> dict[str, Any]:
        """One Trade as TOP renders it, with only the fields asked for (`orders` or `orders.<field>`)."""
        if order.raw is not None:
            return order.raw
        status = self._status(order)
        refunded = order.status == "refunded"
        paid_at = (
            None
            if order.status in ("unpaid", "cancelled")
            else min(order.created + timedelta(minutes=1), order.modified)
        )
        trade: dict[str, Any] = {
            "tid": order.order_id,
            "status": status,
            "type": "fixed",
            "seller_nick": SHOP_NAME,
            "buyer_nick": order.buyer_nick,
            "created": _time(order.created),
            "modified": _time(order.modified),
            "total_fee": _money(order.goods_total),
            "post_fee": _money(order.shipping),
            "discount_fee": _money(order.discount),
            "adjust_fee": "0.00",
            "payment": _money(order.paid),
            "received_payment": "0.00",
            "shipping_type": "express",
            "receiver_name": order.receiver_name,
            "receiver_mobile": order.phone,
            "receiver_state": order.province,
            "receiver_city": order.city,
            "receiver_district": order.district,
            "receiver_address": order.address,
            "receiver_zip": order.zip,
        }
        # TOP leaves out fields without a value rather than sending null or "".
        if paid_at is not None:
            trade["pay_time"] = _time(paid_at)
        if order.status == "shipped":
            trade["consign_time"] = _time(order.modified)
        if status.startswith("TRADE_CLOSED"):
            trade["end_time"] = _time(order.modified)
        if order.note:
            trade["buyer_message"] = order.note
        trade["orders"] = {"order": [self._render_line(order, line, status, refunded) for line in order.lines]}
        return _select(trade, fields)

    def _render_line(self, order: SimOrder, line: dict[str, Any], status: str, refunded: bool) -> dict[str, Any]:
        sku = str(line["sku"])
        price = Decimal(line["price"])
        due = price * Decimal(line["qty"]) - Decimal(line["discount"])
        return {
            "oid": line["line_id"],
            "num_iid": _stable_id(sku, 600_000_000_000),
            "sku_id": str(_stable_id(sku, 4_000_000_000_000)),
            # The catalogue has one SKU per item, so the item's and the SKU's merchant codes coincide.
            "outer_iid": sku,
            "outer_sku_id": sku,
            "title": line["title"],
            "price": _money(price),
            "num": line["qty"],
            "total_fee": _money(due),
            "discount_fee": _money(line["discount"]),
            "adjust_fee": "0.00",
            "payment": _money(due),
            "status": status,
            "refund_status": "SUCCESS" if refunded else "NO_REFUND",
        }


def _fields(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


def _select(trade: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The trade restricted to `fields`; `orders` keeps every sub-order field, `orders.x` only those named."""
    chosen = {name: value for name, value in trade.items() if name in fields and name != "orders"}
    if "orders" in fields:
        chosen["orders"] = trade["orders"]
        return chosen
    order_fields = {name[len("orders.") :] for name in fields if name.startswith("orders.")}
    if order_fields:
        chosen["orders"] = {
            "order": [
                {name: value for name, value in line.items() if name in order_fields}
                for line in trade["orders"]["order"]
            ]
        }
    return chosen
