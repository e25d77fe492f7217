"""What every marketplace client speaks: raw pages in, normalised orders out, one error type.

Protocol modules do HTTP, signing and parsing only (no ORM). The pipeline works on `NormalisedOrder`.
"""

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import orjson
import requests

T = TypeVar("T")


class ChannelError(Exception):
    """A call to a marketplace failed; `transient` errors are worth retrying, others are not."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "CHANNEL_ERROR",
        transient: bool = False,
        retry_after: float | None = None,
        external_id: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient
        self.retry_after = retry_after
        self.external_id = external_id

    def as_record(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message[:500], "external_id": self.external_id}


@dataclass
class RawOrder:
    """One order exactly as the marketplace sent it."""

    external_id: str
    payload: dict[str, Any]
    _canonical: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def canonical_bytes(self) -> bytes:
        """The payload as sorted, compact UTF-8 JSON: hashed to detect changes, and stored as is."""
        if self._canonical is None:
            self._canonical = canonical_json(self.payload)
        return self._canonical

    @property
    def canonical_json(self) -> str:
        return self.canonical_bytes.decode()

    @property
    def payload_hash(self) -> str:
        # Every order of every poll is hashed (an unchanged one costs nothing else), so this is computed once.
        if self._hash is None:
            self._hash = hashlib.sha256(self.canonical_bytes).hexdigest()
        return self._hash


def canonical_json(value: Any) -> bytes:
    """`value` as JSON with sorted keys, no spaces and non-ASCII characters as UTF-8.

    orjson does it several times faster than the standard library; what orjson refuses (integers beyond 64 bits,
    lone surrogates) is written by the standard library in the same form.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "surrogatepass")


# orjson reads integers beyond 64 bits as floats, losing digits; bodies with a run of 20 digits are read by the
# standard library instead, which keeps every digit (a long number in a string only costs the slower reader).
# Digits become "0" and everything else a space, then a plain substring search finds the run: several times
# faster than a regular expression, which tries each of the body's many shorter digit runs at every position.
_DIGITS_ONLY = bytes(ord("0") if ord("0") <= byte <= ord("9") else ord(" ") for byte in range(256))
_LONG_RUN = b"0" * 20
_UNREAD = object()


def _read_fast(body: bytes) -> Any:
    """orjson's reading of a UTF-8 body where it equals the standard library's, else _UNREAD."""
    if body.translate(_DIGITS_ONLY).find(_LONG_RUN) >= 0:
        return _UNREAD
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNREAD  # NaN, lone surrogates, a byte-order mark, not JSON at all: the standard library decides


@dataclass
class Page:
    """One page of a window: the orders it held and the errors of orders that could not be read."""

    orders: list[RawOrder] = field(default_factory=list)
    errors: list[ChannelError] = field(default_factory=list)


@dataclass
class NormalisedLine:
    external_line_id: str
    external_sku: str
    title: str
    qty: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)


@dataclass
class NormalisedOrder:
    """An order in Loopline's terms, before cleaning; text still as the marketplace wrote it."""

    external_id: str
    external_number: str
    external_status: str
    buyer: str = ""
    buyer_note: str = ""
    seller_note: str = ""
    receiver_name: str = ""
    receiver_phone: str = ""
    receiver_country: str = ""
    receiver_province: str = ""
    receiver_city: str = ""
    receiver_district: str = ""
    receiver_address: str = ""
    receiver_zip: str = ""
    currency: str = "CNY"
    goods_amount: Decimal = Decimal(0)
    shipping_amount: Decimal = Decimal(0)
    discount_amount: Decimal = Decimal(0)
    paid_amount: Decimal = Decimal(0)
    ordered_at: datetime | None = None
    paid_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled: bool = False
    refunded: bool = False
    lines: list[NormalisedLine] = field(default_factory=list)


class ChannelClient(Protocol):
    """A marketplace's order API, as the poller uses it."""

    #: The longest window one query may span (the marketplace's rule or its advice).
    max_window: timedelta

    def fetch_window(self, start: datetime, end: datetime, *, status: str, page_size: int) -> Iterator[Page]:
        """Every page of orders modified in [start, end) with the given status."""
        ...

    def normalise(self, payload: dict[str, Any]) -> NormalisedOrder:
        """Read one raw order; raises ChannelError(code="PAYLOAD_INVALID") if it cannot be read."""
        ...


@dataclass
class CallStats:
    """HTTP calls and retries made by a client, for the SyncRun."""

    http_calls: int = 0
    retries: int = 0


class HttpTransport:
    """requests with retries on 429/5xx/timeouts, honouring Retry-After, and counting every call."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.stats = CallStats()

    def call(self, send: Callable[[requests.Session, float], Any]) -> Any:
        """Run `send` (one HTTP exchange returning parsed data or raising ChannelError), retrying transient errors."""
        attempt = 0
        while True:
            attempt += 1
            self.stats.http_calls += 1
            try:
                return send(self.session, self.timeout)
            except requests.Timeout as exc:
                error = ChannelError(f"timeout after {self.timeout}s", code="TIMEOUT", transient=True)
                error.__cause__ = exc
            except requests.ConnectionError as exc:
                error = ChannelError(f"connection failed: {exc.__class__.__name__}", code="CONNECTION", transient=True)
                error.__cause__ = exc
            except ChannelError as exc:
                error = exc
            if not error.transient or attempt >= self.max_attempts:
                raise error
            self.stats.retries += 1
            delay = error.retry_after
            if delay is None:
                delay = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
            self.sleep(min(delay, self.backoff_cap))


def check_http_status(response: requests.Response) -> None:
    """Turn 429 and 5xx into transient ChannelErrors (with Retry-After), other 4xx into permanent ones."""
    status = response.status_code
    if status < 400:
        return
    retry_after = None
    header = response.headers.get("Retry-After")
    if header:
        try:
            retry_after = max(0.0, float(header))
        except ValueError:
            retry_after = None
    if status == 429:
        raise ChannelError("rate limited (HTTP 429)", code="HTTP_429", transient=True, retry_after=retry_after)
    if status >= 500:
        raise ChannelError(
            f"server error (HTTP {status})", code=f"HTTP_{status}", transient=True, retry_after=retry_after
        )
    raise ChannelError(f"request refused (HTTP {status})", code=f"HTTP_{status}")


def parse_json(response: requests.Response) -> Any:
    """The JSON body, or a transient PAGE_GARBLED error when the body is not JSON (a broken proxy, a cut reply)."""
    if (response.encoding or "utf-8").lower() in ("utf-8", "utf8"):
        data = _read_fast(response.content)
        if data is not _UNREAD:
            return data
    try:
        return response.json()
    except ValueError as exc:
        raise ChannelError(
            f"response is not JSON: {response.text[:80]!r}", code="PAGE_GARBLED", transient=True
        ) from exc


def prefetch(pages: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Fetch the next pages in a background thread while the caller writes the current one.

    The marketplace's latency then hides behind the database work; at most `depth` pages wait in memory.
    Given the pages of several windows in a row, it reads on into the next window while the caller finishes
    the last one, so no window starts with an idle wait for its first page.
    An error of the fetching thread is raised in the caller at the point the failed page would have come.
    """
    import queue
    import threading

    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        buffer.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: object = done
        except BaseException as exc:  # handed to the consumer, which re-raises it
            item = exc
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name="loopline-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass(frozen=True)
class WindowEnd:
    """Marks, in a stream of pages spanning several windows, that every page of the window up to `end` came."""

    end: datetime


def batched(pages: Iterator[Page | WindowEnd], min_orders: int = 500) -> Iterator[tuple[Page, int] | WindowEnd]:
    """Join consecutive pages until they hold `min_orders` orders: one write per batch costs far less than per page.

    Yields each joined page with how many marketplace pages it holds; a WindowEnd first flushes what is joined,
    then passes through, so a batch never spans two windows.
    """
    joined, count = Page(), 0
    for page in pages:
        if isinstance(page, WindowEnd):
            if count:
                yield joined, count
                joined, count = Page(), 0
            yield page
            continue
        joined.orders.extend(page.orders)
        joined.errors.extend(page.errors)
        count += 1
        if len(joined.orders) >= min_orders:
            yield joined, count
            joined, count = Page(), 0
    if count:
        yield joined, count
