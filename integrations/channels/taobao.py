"""Taobao / Tmall Open Platform (TOP) client: `taobao.trades.sold.increment.get` over `/router/rest`, API v2.0.

Speaks TOP as the official Python SDK does: system params in the query string, business params form-urlencoded
in the POST body, every param signed with md5, hmac (HMAC-MD5) or hmac-sha256, JSON answers (non-simplified).
Facts and their sources: docs reference/protocols.md §2.
"""

import hashlib
import hmac
import math
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
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
from integrations.channels.fields import Unreadable as _Unreadable
from integrations.channels.fields import integer as _integer
from integrations.channels.fields import money as _money
from integrations.channels.fields import short as _short
from integrations.channels.fields import text as _text

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
API_VERSION = "2.0"
INCREMENT_METHOD = "taobao.trades.sold.increment.get"
INCREMENT_RESPONSE_KEY = "trades_sold_increment_get_response"
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
MAX_PAGE_SIZE = 100  # the API takes 1..100
MAX_API_SPAN = timedelta(days=1)  # end_modified - start_modified must not exceed a day

# Everything normalise() reads; `orders` brings every sub-order field.
TRADE_FIELDS = (
    "tid",
    "status",
    "type",
    "created",
    "modified",
    "pay_time",
    "buyer_nick",
    "buyer_message",
    "seller_memo",
    "receiver_name",
    "receiver_mobile",
    "receiver_phone",
    "receiver_state",
    "receiver_city",
    "receiver_district",
    "receiver_address",
    "receiver_zip",
    "total_fee",
    "post_fee",
    "discount_fee",
    "payment",
    "orders",
)

CANCELLED_STATUSES = ("TRADE_CLOSED_BY_TAOBAO",)  # closed before payment
REFUNDED_STATUS = "TRADE_CLOSED"  # closed after payment, i.e. refunded
REFUND_DONE = "SUCCESS"

# "This ban will last for 1 more seconds" (code 7, accesscontrol.*): wait that long, plus one second of margin.
_BAN_SECONDS = re.compile(r"last for (\d+) more second", re.IGNORECASE)
THROTTLE_FALLBACK_SECONDS = 3.0
ISP_RETRY_SECONDS = 2.0  # "retry after a few seconds" for server-side isp.* errors


def sign_params(params: Mapping[str, str], secret: str, sign_method: str) -> str:
    """TOP signature: sorted `k1v1k2v2…` of the non-empty params but `sign`, digested per sign_method, upper hex."""
    concat = "".join(f"{key}{value}" for key, value in sorted(params.items()) if key != "sign" and value != "")
    message, key = concat.encode("utf-8"), secret.encode("utf-8")
    if sign_method == "md5":
        # Only plain md5 wraps the secret around the text; both HMACs use it as the key instead.
        return hashlib.md5(key + message + key, usedforsecurity=False).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, message, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, message, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unknown TOP sign_method {sign_method!r}")


def format_time(moment: datetime) -> str:
    """A TOP time: `yyyy-MM-dd HH:mm:ss` in GMT+8."""
    if moment.tzinfo is None:
        raise ValueError("TOP times need an aware datetime")
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def api_window(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The inclusive whole-second [start_modified, end_modified] that reads exactly the trades of [start, end).

    TOP compares whole seconds and includes end_modified, so adjacent windows [a, b) and [b, c) would both
    return a trade modified at b. Rounding each bound up to a whole second and stopping one second before the
    end makes consecutive windows partition the seconds: no trade twice, none skipped, and exact for the
    whole-second modified times TOP keeps. None if the window holds no whole second.
    """
    first, after = _ceil_second(start), _ceil_second(end)
    if after <= first:
        return None
    return first, after - timedelta(seconds=1)


def _ceil_second(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("TOP times need an aware datetime")
    moment = moment.astimezone(SHANGHAI)
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class TaobaoClient:
    """A Taobao/Tmall seller's trades through `taobao.trades.sold.increment.get`."""

    # The API allows a day per query; its docs recommend windows of at most 30 minutes.
    max_window = timedelta(minutes=30)

    def __init__(
        self, *, base_url: str, app_key: str, credentials: dict[str, str], transport: HttpTransport | None = None
    ):
        missing = [name for name in ("app_secret", "session") if not credentials.get(name)]
        if missing:
            raise ChannelError(f"Taobao credentials lack {', '.join(missing)}", code="CREDENTIALS_MISSING")
        sign_method = credentials.get("sign_method") or "hmac-sha256"
        if sign_method not in SIGN_METHODS:
            raise ChannelError(
                f"Taobao sign_method must be one of {', '.join(SIGN_METHODS)}, not {sign_method!r}",
                code="CREDENTIALS_INVALID",
            )
        self.base_url = base_url
        self.app_key = app_key
        self.sign_method = sign_method
        self._secret = credentials["app_secret"]
        self._session = credentials["session"]
        self.transport = transport or HttpTransport()

    def __repr__(self) -> str:
        # Never show the secret or the session key in logs and tracebacks.
        return f"TaobaoClient(base_url={self.base_url!r}, app_key={self.app_key!r})"

    def fetch_window(
        self, start: datetime, end: datetime, *, page_size: int, status: str | None = None
    ) -> Iterator[Page]:
        """Every page of trades modified in [start, end), in every status, read from the last page back.

        `status` is accepted for the ChannelClient signature and ignored: TOP is asked for every status so
        closures and refunds after payment arrive like any other change; the pipeline decides what to keep.
        """
        bounds = api_window(start, end)
        if bounds is None:
            return
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        seen: dict[str, str] = {}
        # Page 1 tells how many pages there are; without it the window cannot be read at all, so its
        # failure raises.
        probe = self._increment(*bounds, page_no=1, page_size=size)
        pages = math.ceil(probe["total"] / size)
        if pages <= 1:
            yield self._page(probe["trades"], seen)
            return
        # Trades are sorted by modified, newest first. A trade changed while we page leaves its place and moves
        # to the top (or out of the window), shifting only the trades above it; reading from the last page back
        # means those shifts land on pages still to read, so nothing is skipped (the TOP docs' advice). Page 1
        # is read again at the end for the same reason. A trade that is new during paging can still slip past;
        # the poller's overlap reads it next time.
        for page_no in range(pages, 0, -1):
            try:
                result = self._increment(*bounds, page_no=page_no, page_size=size)
            except ChannelError as error:
                # A page that stays garbled after the transport's retries is that page's error, not the run's.
                if error.code != "PAGE_GARBLED":
                    raise
                yield Page(errors=[ChannelError(f"page {page_no}: {error.message}", code=error.code, transient=True)])
                continue
            yield self._page(result["trades"], seen)

    def normalise(self, payload: dict[str, Any]) -> NormalisedOrder:
        """Read one trade; raises ChannelError(code="PAYLOAD_INVALID") naming what cannot be read."""
        if not isinstance(payload, dict):
            raise _invalid("the trade is not a JSON object")
        tid = _tid(payload)
        if not tid:
            raise _invalid("tid is missing")
        try:
            return _normalise(payload, tid)
        except _Unreadable as exc:
            raise _invalid(str(exc), tid) from None

    def test_connection(self) -> None:
        """One tiny query over the last minute; raises ChannelError if TOP refuses it."""
        end = datetime.now(SHANGHAI).replace(microsecond=0)
        self._increment(end - timedelta(minutes=1), end - timedelta(seconds=1), page_no=1, page_size=1)

    # -- HTTP ---------------------------------------------------------------------------------------------

    def _increment(self, first: datetime, last: datetime, *, page_no: int, page_size: int) -> dict[str, Any]:
        """One page of the increment API for the inclusive seconds [first, last], as {"total", "trades"}."""
        business = {
            "fields": ",".join(TRADE_FIELDS),
            "start_modified": format_time(first),
            "end_modified": format_time(last),
            "page_no": str(page_no),
            "page_size": str(page_size),
        }

        def send(session: requests.Session, timeout: float) -> dict[str, Any]:
            # Signed per attempt so a retry after a long back-off still carries a fresh timestamp.
            system = self._system_params(INCREMENT_METHOD)
            system["sign"] = sign_params({**system, **business}, self._secret, self.sign_method)
            response = session.post(self.base_url, params=system, data=business, timeout=timeout)
            check_http_status(response)
            return _read_increment(parse_json(response))

        return self.transport.call(send)

    def _system_params(self, method: str) -> dict[str, str]:
        return {
            "method": method,
            "app_key": self.app_key,
            "session": self._session,
            "timestamp": format_time(datetime.now(SHANGHAI)),
            "v": API_VERSION,
            "format": "json",
            "sign_method": self.sign_method,
        }

    def _page(self, trades: list[Any], seen: dict[str, str]) -> Page:
        """A Page of the trades not already yielded in this window unchanged."""
        page = Page()
        for payload in trades:
            tid = _tid(payload) if isinstance(payload, dict) else ""
            if not tid:
                page.errors.append(_invalid("a trade without tid in trades.trade"))
                continue
            raw = RawOrder(external_id=tid, payload=payload)
            digest = raw.payload_hash
            # Paging backwards repeats a trade when others move; send it again only if it changed.
            if seen.get(tid) == digest:
                continue
            seen[tid] = digest
            page.orders.append(raw)
        return page


def _read_increment(data: Any) -> dict[str, Any]:
    """The increment answer as {"total", "trades"}, or the ChannelError it stands for."""
    if not isinstance(data, dict):
        raise _garbled("the answer is not a JSON object")
    error = data.get("error_response")
    if isinstance(error, dict):
        raise top_error(error)
    body = data.get(INCREMENT_RESPONSE_KEY)
    if not isinstance(body, dict):
        raise _garbled(f"no {INCREMENT_RESPONSE_KEY} in the answer")
    try:
        total = int(body.get("total_results") or 0)
    except (TypeError, ValueError):
        raise _garbled(f"total_results is not a number: {_short(body.get('total_results'))}") from None
    # With no match TOP leaves `trades` out or sends {}.
    trades = body.get("trades") or {}
    trades = trades.get("trade") if isinstance(trades, dict) else trades
    trades = trades or []
    if not isinstance(trades, list):
        raise _garbled("trades.trade is not a list")
    return {"total": total, "trades": trades}


def top_error(error: dict[str, Any]) -> ChannelError:
    """The ChannelError for a TOP `error_response`: throttling and isp.* are transient, the rest permanent."""
    code = _text(error.get("code")) or "UNKNOWN"
    sub_code = _text(error.get("sub_code"))
    sub_msg = _text(error.get("sub_msg"))
    detail = _text(error.get("msg")) or "no description"
    if sub_code or sub_msg:
        detail += f" ({': '.join(part for part in (sub_code, sub_msg) if part)})"
    message = f"Taobao refused the call: TOP error {code}: {detail}"
    if code in ("7", "8") or sub_code.startswith("accesscontrol."):
        ban = _BAN_SECONDS.search(sub_msg)
        retry_after = int(ban.group(1)) + 1.0 if ban else THROTTLE_FALLBACK_SECONDS
        return ChannelError(message, code=f"TOP_{code}", transient=True, retry_after=retry_after)
    if code == "10" or (code == "15" and sub_code.startswith("isp.")):
        # Service unavailable / a back-end hiccup: the platform table says to try again later.
        return ChannelError(message, code=f"TOP_{code}", transient=True, retry_after=ISP_RETRY_SECONDS)
    return ChannelError(message, code=f"TOP_{code}")


# -- reading ----------------------------------------------------------------------------------------------


def _normalise(payload: dict[str, Any], tid: str) -> NormalisedOrder:
    status = _text(payload.get("status"))
    orders = _orders(payload.get("orders"))
    lines = [_line(order, number) for number, order in enumerate(orders, start=1)]
    refund_done = any(_text(order.get("refund_status")) == REFUND_DONE for order in orders)
    return NormalisedOrder(
        external_id=tid,
        external_number=tid,
        external_status=status,
        buyer=_text(payload.get("buyer_nick")),
        buyer_note=_text(payload.get("buyer_message")),
        seller_note=_text(payload.get("seller_memo")),
        receiver_name=_text(payload.get("receiver_name")),
        receiver_phone=_text(payload.get("receiver_mobile")) or _text(payload.get("receiver_phone")),
        receiver_country="CN",
        receiver_province=_text(payload.get("receiver_state")),
        receiver_city=_text(payload.get("receiver_city")),
        receiver_district=_text(payload.get("receiver_district")),
        receiver_address=_text(payload.get("receiver_address")),
        receiver_zip=_text(payload.get("receiver_zip")),
        currency="CNY",
        goods_amount=_money(payload, "total_fee"),
        shipping_amount=_money(payload, "post_fee"),
        discount_amount=_money(payload, "discount_fee"),
        paid_amount=_money(payload, "payment"),
        ordered_at=_time(payload, "created"),
        paid_at=_time(payload, "pay_time"),
        updated_at=_time(payload, "modified"),
        cancelled=status in CANCELLED_STATUSES,
        refunded=status == REFUNDED_STATUS or refund_done,
        lines=lines,
    )


def _orders(value: Any) -> list[dict[str, Any]]:
    """The sub-orders of `orders.order[]` (a bare list, as the simplified form sends, is read too)."""
    if value is None or value == {}:
        return []
    if isinstance(value, dict):
        value = value.get("order")
        if value is None:
            return []
        label = "orders.order"
    else:
        label = "orders"
    if not isinstance(value, list):
        raise _Unreadable(f"{label} is not a list: {_short(value)}")
    for number, order in enumerate(value, start=1):
        if not isinstance(order, dict):
            raise _Unreadable(f"orders.order[{number}] is not an object: {_short(order)}")
    return value


def _line(order: dict[str, Any], number: int) -> NormalisedLine:
    label = f"orders.order[{number}]"
    return NormalisedLine(
        external_line_id=_text(order.get("oid")),
        external_sku=_text(order.get("outer_sku_id")) or _text(order.get("outer_iid")),
        title=_text(order.get("title")),
        qty=_integer(order.get("num"), f"{label}.num"),
        unit_price=_money(order, "price", f"{label}.price"),
        discount=_money(order, "discount_fee", f"{label}.discount_fee"),
    )


def _tid(payload: dict[str, Any]) -> str:
    # tid is a JSON number (Python reads any size exactly); tid_str is the string twin some callers ask for.
    value = payload.get("tid")
    if value is None or value == "":
        value = payload.get("tid_str")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value).strip()


def _time(data: dict[str, Any], key: str) -> datetime | None:
    """A TOP time (GMT+8, no zone in the text) as an aware Asia/Shanghai datetime; empty reads as None."""
    value = _text(data.get(key)).strip()
    if not value:
        return None
    # fromisoformat reads "yyyy-MM-dd HH:mm:ss" several times faster than strptime; the length check keeps
    # the accepted shape exactly TOP's (no zone, no fractions).
    if len(value) != 19:
        raise _Unreadable(f"{key} is not a time: {_short(value)}")
    try:
        return datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise _Unreadable(f"{key} is not a time: {_short(value)}") from None


def _invalid(reason: str, external_id: str = "") -> ChannelError:
    return ChannelError(reason, code="PAYLOAD_INVALID", external_id=external_id)


def _garbled(reason: str) -> ChannelError:
    return ChannelError(f"unexpected TOP answer: {reason}", code="PAGE_GARBLED", transient=True)
