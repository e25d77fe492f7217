"""Simulated JD Open Platform (JOS) gateway: `/jd/routerjson`, method `jingdong.pop.order.search`, API v2.0.

Checks what the JOS gateway checks (app_key, access_token, timestamp within 6 minutes, md5 signature over
every param, known method) and answers with JOS's own envelopes at HTTP 200: `error_response{code, zh_desc,
en_desc}` for gateway refusals, `jingdong_pop_order_search_responce` (sic) otherwise. Facts and sources:
docs reference/protocols.md §3. Error codes not seen in any source are marked unconfirmed where defined.
"""

import hashlib
import json
import zlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from integrations.simulators.orderbook import CENT, SHANGHAI, OrderBook, SimOrder
from integrations.simulators.server import Faults, SimRequest, SimResponse

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
SEARCH_METHOD = "jingdong.pop.order.search"
RESPONSE_KEY = "jingdong_pop_order_search_responce"  # sic: JD's own spelling
CLOCK_SKEW = timedelta(minutes=6)  # the JOS help page allows a 6-minute client clock error
# "Must not exceed 1 month": whether JD counts 30 or 31 days or a calendar month is unconfirmed.
MAX_SPAN = timedelta(days=31)
MAX_PAGE_SIZE = 50  # unconfirmed (one mirror says 50, another 100); we enforce the stricter

# Gateway error codes: (code, zh_desc, en_desc). 4/5/7/8/11/12/14/15 are from a third-party copy of the JOS
# gateway table; 19 (token) is widely seen in integrators' tests; the others are unconfirmed.
MISSING_VERSION = ("4", "缺少版本参数", "Missing Version")
BAD_VERSION = ("5", "不支持的版本号", "Unsupported Version")
MISSING_TIMESTAMP = ("7", "缺少时间戳参数", "Missing Timestamp")
BAD_TIMESTAMP = ("8", "非法的时间戳参数", "Invalid Timestamp")
MISSING_SIGN = ("11", "缺少签名参数", "Missing Signature")
BAD_SIGN = ("12", "无效签名", "Invalid Signature")
MISSING_METHOD = ("14", "缺少方法名参数", "Missing Method")
BAD_METHOD = ("15", "不存在的方法名", "Invalid Method")
BAD_APP_KEY = ("18", "无效的app_key", "Invalid app_key")  # unconfirmed code
BAD_TOKEN = ("19", "无效的access_token或access_token已过期", "Invalid access_token")
BAD_PARAM_JSON = ("61", "360buy_param_json参数格式错误", "Invalid 360buy_param_json")  # unconfirmed code
THROTTLED = ("67", "调用频率超限，请稍后重试", "Call frequency exceeds the limit")  # unconfirmed code

# Neutral status → JOS orderState and its remark; unpaid orders do not exist for this API.
STATES = {
    "paid": ("WAIT_SELLER_STOCK_OUT", "等待出库"),
    "shipped": ("WAIT_GOODS_RECEIVE_CONFIRM", "等待确认收货"),
    "cancelled": ("TRADE_CANCELED", "(删除)已取消"),
    "refunded": ("TRADE_CANCELED", "(删除)已取消"),
}
VENDER_ID = "10622317"


def _error(code: tuple[str, str, str]) -> SimResponse:
    """A JOS gateway refusal: error_response at HTTP 200 with the code as a string."""
    number, zh_desc, en_desc = code
    return SimResponse.json({"error_response": {"code": number, "zh_desc": zh_desc, "en_desc": en_desc}})


def _api_failure(chinese: str, english: str, number: int) -> SimResponse:
    """A business refusal: JOS wraps it in the method's own envelope with apiResult.success=false."""
    # The texts and numberCode values (1001…) are ours: JD's business code table is unconfirmed.
    api_result = {"success": False, "englishErrCode": english, "chineseErrCode": chinese, "numberCode": number}
    return SimResponse.json({RESPONSE_KEY: {"code": "0", "searchorderinfo_result": {"apiResult": api_result}}})


def _money(amount: Decimal) -> str:
    """JOS money: a string with 2 decimals."""
    return str(Decimal(amount).quantize(CENT))


def _time(moment: datetime) -> str:
    """A JOS time: `yyyy-MM-dd HH:mm:ss` in GMT+8."""
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def _parse_time(value: str) -> datetime | None:
    """A JOS time sent by a caller, or None when it cannot be read."""
    # The JD-generated Python SDK sends "yyyy-MM-dd HH:mm:ss.000+0800"; others send the plain form.
    for pattern in (TIME_FORMAT, "%Y-%m-%d %H:%M:%S.%f%z"):
        try:
            parsed = datetime.strptime(value, pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
    return None


def _expected_sign(params: dict[str, str], secret: str) -> str:
    """The JOS md5 sign, computed here independently of the client so a client that signs wrongly fails."""
    concat = "".join(key + value for key, value in sorted(params.items()) if key != "sign")
    return hashlib.md5((secret + concat + secret).encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def _jd_id(text: str, base: int) -> str:
    """A stable JD-looking numeric id (skuId, wareId) for one of our SKU codes."""
    return str(base + zlib.crc32(text.encode()) % 1_000_000_000)


class JdSimulator:
    """JOS `jingdong.pop.order.search` over an OrderBook."""

    prefix = "/jd"
    faults_apply = True

    def __init__(self, book: OrderBook, credentials: dict[str, str], faults: Faults | None = None):
        self.book = book
        self.app_key = credentials["app_key"]
        self.app_secret = credentials["app_secret"]
        self.access_token = credentials["access_token"]
        # The page-level knobs are read at each request, so pass the SimulatorApp's own Faults object (its
        # set_faults changes that object in place) for /_control/faults to reach them.
        self.faults = faults or Faults()

    def throttled(self) -> SimResponse:
        """JOS's answer to a caller over its rate limit: an error_response at HTTP 200 (code unconfirmed)."""
        return _error(THROTTLED)

    def handle(self, request: SimRequest) -> SimResponse:
        """Check the call the way the JOS gateway does, then run the method."""
        if request.path.rstrip("/") != "/routerjson":
            return SimResponse.json({"error": f"no JOS endpoint at {request.path}"}, 404)
        if request.method not in ("GET", "POST"):
            return SimResponse(405, b"Method Not Allowed", {"Content-Type": "text/plain", "Allow": "GET, POST"})
        params = request.form
        refusal = self._check_gateway(params)
        if refusal is not None:
            return refusal
        try:
            business = json.loads(params.get("360buy_param_json") or "{}")
        except ValueError:
            return _error(BAD_PARAM_JSON)
        if not isinstance(business, dict):
            return _error(BAD_PARAM_JSON)
        return self._search(business)

    def _check_gateway(self, params: dict[str, str]) -> SimResponse | None:
        """The gateway's refusal of these system params, or None when they pass."""
        if not params.get("method"):
            return _error(MISSING_METHOD)
        if params.get("app_key") != self.app_key:
            return _error(BAD_APP_KEY)
        if not params.get("v"):
            return _error(MISSING_VERSION)
        if params["v"] != "2.0":
            return _error(BAD_VERSION)
        if not params.get("timestamp"):
            return _error(MISSING_TIMESTAMP)
        sent_at = _parse_time(params["timestamp"])
        if sent_at is None or abs(datetime.now(SHANGHAI) - sent_at) > CLOCK_SKEW:
            return _error(BAD_TIMESTAMP)
        if not params.get("sign"):
            return _error(MISSING_SIGN)
        # The gateway re-signs exactly the strings it received, 360buy_param_json included.
        if params["sign"].upper() != _expected_sign(params, self.app_secret):
            return _error(BAD_SIGN)
        if params.get("access_token") != self.access_token:
            return _error(BAD_TOKEN)
        if params["method"] != SEARCH_METHOD:
            return _error(BAD_METHOD)
        return None

    def _search(self, business: dict[str, Any]) -> SimResponse:
        """`jingdong.pop.order.search`: validate the business params, then serve one page."""
        fields = [name.strip() for name in str(business.get("optional_fields") or "").split(",") if name.strip()]
        if not fields:
            return _api_failure("optional_fields不能为空", "optional_fields is required", 1001)
        start = _parse_time(str(business.get("start_date") or ""))
        end = _parse_time(str(business.get("end_date") or ""))
        if start is None or end is None or end < start:
            return _api_failure("查询时间格式错误", "start_date/end_date are invalid", 1002)
        if end - start > MAX_SPAN:
            return _api_failure("查询时间跨度不能超过一个月", "the date range must not exceed one month", 1003)
        try:
            page = int(business.get("page") or 1)
            page_size = int(business.get("page_size") or 10)
        except (TypeError, ValueError):
            return _api_failure("分页参数错误", "page and page_size must be numbers", 1004)
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            return _api_failure(
                f"page_size取值范围1-{MAX_PAGE_SIZE}", f"page_size must be 1..{MAX_PAGE_SIZE}, page >= 1", 1004
            )
        if str(business.get("dateType") or "0") != "0":
            # JD also filters by creation time; the book only indexes modified time, so we refuse honestly.
            return _api_failure("模拟器仅支持dateType=0", "the simulator supports dateType=0 only", 1005)
        wanted = {state.strip() for state in str(business.get("order_state") or "").split(",") if state.strip()}

        orders = [order for order in self.book.window(start, end) if self._matches(order, wanted)]
        first = (page - 1) * page_size
        served = orders[first : first + page_size]
        if self.faults.duplicate_across_pages and first > 0 and first <= len(orders):
            # Offset paging under concurrent writes: the last order of the previous page shows up again.
            served = [orders[first - 1], *served]
        if self.faults.modify_between_pages and first + page_size < len(orders):
            # An order not served yet changes while the caller pages: its modified time jumps to now.
            self.book.touch(orders[first + page_size].order_id)
        result = {
            "apiResult": {"success": True, "englishErrCode": "", "chineseErrCode": "", "numberCode": 0},
            "orderTotal": len(orders),
            "orderInfoList": [self._render(order, fields) for order in served],
        }
        return SimResponse.json({RESPONSE_KEY: {"code": "0", "searchorderinfo_result": result}})

    def _matches(self, order: SimOrder, wanted: set[str]) -> bool:
        """Whether an order is served for the order_state filter."""
        if order.raw is not None:
            # A verbatim payload without a state cannot be filtered by one: serve it, malformed as it is.
            state = str(order.raw.get("orderState") or "")
            return not state or not wanted or state in wanted
        if order.status not in STATES:
            return False  # unpaid: JD has no such state in this API
        return not wanted or STATES[order.status][0] in wanted

    def _render(self, order: SimOrder, fields: list[str]) -> dict[str, Any]:
        """One orderInfo as JOS renders it, restricted to the optional_fields asked for."""
        if order.raw is not None:
            return order.raw
        state, remark = STATES[order.status]
        goods = order.goods_total
        discount = order.discount + order.line_discounts
        paid_at = min(order.created + timedelta(minutes=1), order.modified)
        info = {
            "orderId": str(order.order_id),
            "venderId": VENDER_ID,
            "orderType": "22",
            "payType": "4-在线支付",
            "orderState": state,
            "orderStateRemark": remark,
            "pin": order.buyer_nick,
            "orderRemark": order.note,
            "venderRemark": "",
            "orderTotalPrice": _money(goods),
            "orderSellerPrice": _money(goods - discount),
            "sellerDiscount": _money(discount),
            "freightPrice": _money(order.shipping),
            "orderPayment": _money(order.paid),
            "balanceUsed": "0.00",
            "orderStartTime": _time(order.created),
            "paymentConfirmTime": _time(paid_at),
            "modified": _time(order.modified),
            "orderSource": "移动端订单",
            "returnOrder": "1" if order.status == "refunded" else "0",  # meaning of "1" unconfirmed
            "consigneeInfo": {
                "fullname": order.receiver_name,
                "mobile": order.phone,
                "telephone": "",
                "province": order.province,
                "city": order.city,
                "county": order.district,
                "town": "",
                "fullAddress": f"{order.province}{order.city}{order.district}{order.address}",
            },
            "itemInfoList": [
                {
                    "id": line["line_id"],  # a JSON number in JD's sample, unlike the other ids
                    "skuId": _jd_id(str(line["sku"]), 10_000_000_000_000),
                    "wareId": _jd_id(str(line["sku"]), 10_020_000_000_000),
                    "outerSkuId": line["sku"],
                    "skuName": line["title"],
                    "jdPrice": _money(line["price"]),
                    "itemTotal": str(line["qty"]),
                    "giftPoint": "0",
                    "productNo": "",
                }
                for line in order.lines
            ],
        }
        return {name: value for name, value in info.items() if name in fields}
