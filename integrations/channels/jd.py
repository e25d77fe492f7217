"""JD Open Platform (JOS / 京东宙斯) client: `jingdong.pop.order.search` over the `routerjson` gateway, API v2.0.

Speaks the JOS protocol as the JD-generated Python SDK (`seven_jd`) does: system params plus every business
param inside one `360buy_param_json` string, all POSTed form-urlencoded and signed with the TOP-style md5
scheme. Facts and their sources: docs reference/protocols.md §3.
"""

import hashlib
import json
import math
from collections.abc import Iterator
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
SEARCH_METHOD = "jingdong.pop.order.search"
RESPONSE_KEY = "jingdong_pop_order_search_responce"  # sic: JD's own spelling
MAX_PAGE_SIZE = 50  # one mirror of the JOS doc says 50, another 100: keep to the smaller

# Every state an order we took can be in, so changes and cancellations after payment reach us too.
ORDER_STATES = (
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "TRADE_CANCELED",
    "LOCKED",
    "PAUSE",
    "POP_ORDER_PAUSE",
)
CANCELLED_STATE = "TRADE_CANCELED"

# JOS returns only the orderInfo fields named here; the request is refused when the list is empty.
OPTIONAL_FIELDS = (
    "orderId",
    "orderState",
    "pin",
    "orderRemark",
    "venderRemark",
    "orderTotalPrice",
    "freightPrice",
    "sellerDiscount",
    "orderPayment",
    "orderStartTime",
    "paymentConfirmTime",
    "modified",
    "returnOrder",
    "consigneeInfo",
    "itemInfoList",
)

# Gateway codes that mean "slow down" rather than "you are wrong". Both are unconfirmed as JD's exact
# numbering: 2 ("限制时间内调用失败次数", App Call Limited) is in a third-party copy of the JOS table; 67 is
# the frequency-limit code seen in integrators' code.
THROTTLE_CODES = frozenset({"2", "67"})


def sign_params(params: dict[str, str], secret: str) -> str:
    """JOS md5 signature: upper hex of md5(secret + k1v1k2v2… sorted by key, `sign` excluded + secret)."""
    concat = "".join(f"{key}{value}" for key, value in sorted(params.items()) if key != "sign")
    return hashlib.md5(f"{secret}{concat}{secret}".encode(), usedforsecurity=False).hexdigest().upper()


def format_time(moment: datetime) -> str:
    """A JOS time: `yyyy-MM-dd HH:mm:ss` in GMT+8."""
    if moment.tzinfo is None:
        raise ValueError("JD times need an aware datetime")
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def business_json(params: dict[str, str]) -> str:
    """The `360buy_param_json` value: keys sorted (the JOS doc asks for it), sent exactly as signed."""
    return json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class JdClient:
    """A JD POP shop's orders through `jingdong.pop.order.search`."""

    max_window = timedelta(days=1)  # JD allows a month per query; short windows keep pages few and fresh

    def __init__(
        self, *, base_url: str, app_key: str, credentials: dict[str, str], transport: HttpTransport | None = None
    ):
        missing = [name for name in ("app_secret", "access_token") if not credentials.get(name)]
        if missing:
            raise ChannelError(f"JD credentials lack {', '.join(missing)}", code="CREDENTIALS_MISSING")
        self.base_url = base_url
        self.app_key = app_key
        self._secret = credentials["app_secret"]
        self._access_token = credentials["access_token"]
        self.transport = transport or HttpTransport()

    def __repr__(self) -> str:
        # Never show the secret or token in logs and tracebacks.
        return f"JdClient(base_url={self.base_url!r}, app_key={self.app_key!r})"

    def fetch_window(
        self, start: datetime, end: datetime, *, page_size: int, status: str | None = None
    ) -> Iterator[Page]:
        """Every page of orders modified in [start, end), in all the states of ORDER_STATES.

        `status` is accepted for the ChannelClient signature and ignored: JD is always asked for every state
        we care about, so a cancellation after payment arrives like any other change.
        """
        if end <= start:
            return
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        seen: dict[str, str] = {}
        page_no, pages = 1, 1
        while page_no <= pages:
            try:
                result = self._search(start, end, page=page_no, page_size=size)
            except ChannelError as error:
                # Page 1 tells us how many pages there are: without it the window cannot be read at all.
                if error.code != "PAGE_GARBLED" or page_no == 1:
                    raise
                yield Page(errors=[ChannelError(f"page {page_no}: {error.message}", code=error.code, transient=True)])
                page_no += 1
                continue
            # Re-read the total on every page: orders changing during paging move to the end of the window.
            pages = math.ceil(result["total"] / size)
            yield self._page(result["orders"], seen)
            page_no += 1

    def normalise(self, payload: dict[str, Any]) -> NormalisedOrder:
        """Read one orderInfo; raises ChannelError(code="PAYLOAD_INVALID") naming what cannot be read."""
        if not isinstance(payload, dict):
            raise _invalid("the order is not a JSON object")
        order_id = _text(payload.get("orderId"))
        if not order_id:
            raise _invalid("orderId is missing")
        try:
            return self._normalise(payload, order_id)
        except _Unreadable as exc:
            raise _invalid(str(exc), order_id) from None

    def test_connection(self) -> None:
        """One tiny search over the last hour; raises ChannelError if JD refuses it."""
        end = datetime.now(SHANGHAI)
        self._search(end - timedelta(hours=1), end, page=1, page_size=1)

    # -- HTTP ---------------------------------------------------------------------------------------------

    def _search(self, start: datetime, end: datetime, *, page: int, page_size: int) -> dict[str, Any]:
        """One signed search call (with the transport's retries), unwrapped to {"total", "orders"}."""
        business = {
            "start_date": format_time(start),
            "end_date": format_time(end),
            "order_state": ",".join(ORDER_STATES),
            "optional_fields": ",".join(OPTIONAL_FIELDS),
            "page": str(page),
            "page_size": str(page_size),
            "dateType": "0",  # 0 = modified time (common usage; JD's code table is unconfirmed)
        }
        payload = business_json(business)

        def send(session: requests.Session, timeout: float) -> dict[str, Any]:
            """One HTTP exchange, for HttpTransport.call."""
            # Signed per attempt so a retry after a long back-off still carries a fresh timestamp.
            response = session.post(self.base_url, data=self._signed(SEARCH_METHOD, payload), timeout=timeout)
            check_http_status(response)
            return self._unwrap(parse_json(response))

        return self.transport.call(send)

    def _signed(self, method: str, payload: str) -> dict[str, str]:
        """The form to POST: system params, the business JSON and the sign over all of them."""
        params = {
            "method": method,
            "app_key": self.app_key,
            "access_token": self._access_token,
            "timestamp": format_time(datetime.now(SHANGHAI)),
            "v": API_VERSION,
            "format": "json",
            "sign_method": "md5",
            "360buy_param_json": payload,
        }
        params["sign"] = sign_params(params, self._secret)
        return params

    def _unwrap(self, data: Any) -> dict[str, Any]:
        """The search result as {"total", "orders"}, or the ChannelError the answer stands for."""
        if not isinstance(data, dict):
            raise _garbled("the answer is not a JSON object")
        error = data.get("error_response")
        if isinstance(error, dict):
            code = _text(error.get("code")) or "UNKNOWN"
            description = " / ".join(
                part for part in (_text(error.get("en_desc")), _text(error.get("zh_desc"))) if part
            )
            raise ChannelError(
                f"JD refused the call: {description or 'no description'}",
                code=f"JD_{code}",
                transient=code in THROTTLE_CODES,
            )
        body = data.get(RESPONSE_KEY)
        result = body.get("searchorderinfo_result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise _garbled(f"no {RESPONSE_KEY}.searchorderinfo_result in the answer")
        api_result = result.get("apiResult")
        if isinstance(api_result, dict) and api_result.get("success") is False:
            text = " / ".join(
                part
                for part in (_text(api_result.get("englishErrCode")), _text(api_result.get("chineseErrCode")))
                if part
            )
            number = _text(api_result.get("numberCode"))
            raise ChannelError(
                f"JD order search failed: {text or 'no description'}",
                code=f"JD_API_{number}" if number and number != "0" else "JD_API_ERROR",
            )
        try:
            total = int(result.get("orderTotal") or 0)
        except (TypeError, ValueError):
            raise _garbled(f"orderTotal is not a number: {result.get('orderTotal')!r}") from None
        orders = result.get("orderInfoList") or []
        if not isinstance(orders, list):
            raise _garbled("orderInfoList is not a list")
        return {"total": total, "orders": orders}

    def _page(self, orders: list[Any], seen: dict[str, str]) -> Page:
        """A Page of the orders not already yielded in this window unchanged."""
        page = Page()
        for payload in orders:
            order_id = _text(payload.get("orderId")) if isinstance(payload, dict) else ""
            if not order_id:
                page.errors.append(_invalid("an order without orderId in orderInfoList"))
                continue
            raw = RawOrder(external_id=order_id, payload=payload)
            digest = raw.payload_hash
            # JD pages by offset, so an order can straddle two pages; repeat it only if it changed.
            if seen.get(order_id) == digest:
                continue
            seen[order_id] = digest
            page.orders.append(raw)
        return page

    # -- reading ------------------------------------------------------------------------------------------

    def _normalise(self, payload: dict[str, Any], order_id: str) -> NormalisedOrder:
        """The NormalisedOrder of a payload whose orderId is known; raises _Unreadable."""
        consignee = payload.get("consigneeInfo") or {}
        if not isinstance(consignee, dict):
            raise _Unreadable("consigneeInfo is not an object")
        items = payload.get("itemInfoList")
        if not isinstance(items, list):
            raise _Unreadable(f"itemInfoList is not a list: {_short(items)}")
        state = _text(payload.get("orderState"))
        province = _text(consignee.get("province"))
        city = _text(consignee.get("city"))
        county = _text(consignee.get("county"))
        return NormalisedOrder(
            external_id=order_id,
            external_number=order_id,
            external_status=state,
            buyer=_text(payload.get("pin")),
            buyer_note=_text(payload.get("orderRemark")),
            seller_note=_text(payload.get("venderRemark")),
            receiver_name=_text(consignee.get("fullname")),
            receiver_phone=_text(consignee.get("mobile")) or _text(consignee.get("telephone")),
            receiver_country="CN",
            receiver_province=province,
            receiver_city=city,
            receiver_district=county,
            receiver_address=_street(_text(consignee.get("fullAddress")), (province, city, county)),
            currency="CNY",
            goods_amount=_money(payload, "orderTotalPrice"),
            shipping_amount=_money(payload, "freightPrice"),
            discount_amount=_money(payload, "sellerDiscount"),
            paid_amount=_money(payload, "orderPayment"),
            ordered_at=_time(payload, "orderStartTime"),
            paid_at=_time(payload, "paymentConfirmTime"),
            updated_at=_time(payload, "modified"),
            cancelled=state == CANCELLED_STATE,
            # returnOrder is "0" in JD's sample; "1" marking a return is our reading (unconfirmed).
            refunded=_text(payload.get("returnOrder")).lower() in {"1", "true"},
            lines=[_line(item, number) for number, item in enumerate(items, start=1)],
        )


def _line(item: Any, number: int) -> NormalisedLine:
    """One itemInfoList entry as a NormalisedLine."""
    if not isinstance(item, dict):
        raise _Unreadable(f"itemInfoList[{number}] is not an object")
    sku_id = _text(item.get("skuId"))
    # JD discounts sit at order level (sellerDiscount), so lines carry none.
    return NormalisedLine(
        external_line_id=_text(item.get("id")) or sku_id,
        external_sku=_text(item.get("outerSkuId")) or sku_id,
        title=_text(item.get("skuName")),
        qty=_integer(item.get("itemTotal"), f"itemInfoList[{number}].itemTotal"),
        unit_price=_money(item, "jdPrice", f"itemInfoList[{number}].jdPrice"),
    )


def _time(data: dict[str, Any], key: str) -> datetime | None:
    """A JOS time (GMT+8, no zone in the text) as an aware Asia/Shanghai datetime; empty reads as None."""
    value = _text(data.get(key)).strip()
    if not value:
        return None
    try:
        parsed = datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Unreadable(f"{key} is not a time: {_short(value)}") from None
    return parsed.astimezone(SHANGHAI) if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def _street(full_address: str, parts: tuple[str, str, str]) -> str:
    """The street part of fullAddress, which JD prefixes with province, city and county."""
    rest = full_address.strip()
    for part in parts:
        # Municipalities repeat themselves ("上海市上海市…") or drop a level, so strip each part if present.
        if part and rest.startswith(part) and rest[len(part) :].strip():
            rest = rest[len(part) :].strip()
    return rest


def _invalid(reason: str, external_id: str = "") -> ChannelError:
    """The PAYLOAD_INVALID error for an order that cannot be read."""
    return ChannelError(reason, code="PAYLOAD_INVALID", external_id=external_id)


def _garbled(reason: str) -> ChannelError:
    """The transient PAGE_GARBLED error for an answer of the wrong shape."""
    return ChannelError(f"unexpected JD answer: {reason}", code="PAGE_GARBLED", transient=True)
