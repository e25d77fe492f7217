"""The orders a simulated marketplace holds, in a neutral shape each protocol renders its own way.

Generated orders are computed from their index (deterministic, nothing stored), so a simulator can serve
100,000 orders with flat memory; orders loaded from a file or changed by a fault knob are stored explicitly.
Times are aware datetimes in Asia/Shanghai.
"""

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "志强",
    "海燕",
    "晓东",
    "文博",
    "子涵",
    "一鸣",
]
PLACES = [
    ("广东省", "东莞市", ["长安镇", "虎门镇", "南城街道", "松山湖"]),
    ("广东省", "深圳市", ["南山区", "宝安区", "龙岗区", "福田区"]),
    ("广东省", "广州市", ["天河区", "番禺区", "白云区"]),
    ("浙江省", "杭州市", ["西湖区", "余杭区", "滨江区"]),
    ("浙江省", "宁波市", ["鄞州区", "北仑区"]),
    ("江苏省", "苏州市", ["工业园区", "吴中区", "昆山市"]),
    ("上海市", "上海市", ["浦东新区", "闵行区", "嘉定区"]),
    ("北京市", "北京市", ["朝阳区", "海淀区", "大兴区"]),
    ("四川省", "成都市", ["武侯区", "高新区", "双流区"]),
    ("湖北省", "武汉市", ["洪山区", "江夏区"]),
    ("山东省", "青岛市", ["黄岛区", "城阳区"]),
    ("福建省", "厦门市", ["思明区", "集美区"]),
]
STREETS = ["人民路", "建设路", "解放大道", "中山路", "工业大道", "科技园路", "长青路", "振兴路", "新华街", "东城大道"]
NOTES = [""] * 16 + ["请尽快发货", "需要开发票，抬头见留言", "周末不在家，请工作日送", "发顺丰"]
US_PLACES = [
    ("CA", "Los Angeles", "90012"),
    ("NY", "New York", "10001"),
    ("TX", "Austin", "73301"),
    ("WA", "Seattle", "98101"),
    ("IL", "Chicago", "60601"),
]
US_NAMES = [("John", "Smith"), ("Emily", "Johnson"), ("Michael", "Brown"), ("Sarah", "Davis"), ("David", "Miller")]


@dataclass
class Catalogue:
    """What the shop sells: (outer SKU, title, unit price) triples; unmapped SKUs make review work."""

    products: list[tuple[str, str, Decimal]]


DEFAULT_CATALOGUE = Catalogue(
    products=[
        ("FG-1002", "304不锈钢合页 4寸 2.5厚 拉丝", Decimal("12.80")),
        ("FG-1011", "304不锈钢合页 4寸 哑黑", Decimal("14.50")),
        ("FG-2002", "三节钢珠滑轨 14寸 350mm", Decimal("28.00")),
        ("FG-2013", "三节阻尼滑轨 18寸 450mm", Decimal("45.00")),
        ("FG-3001", "执手门锁 拉丝银 室内门", Decimal("168.00")),
        ("FG-3002", "执手门锁 哑黑 室内门", Decimal("178.00")),
        ("FG-4002", "锌合金拉手 128mm 亮铬", Decimal("9.90")),
        ("FG-4012", "锌合金拉手 128mm 哑黑", Decimal("10.90")),
        ("FG-5001", "液压缓冲铰链 全盖", Decimal("6.50")),
        ("FG-6001", "锌合金门吸 拉丝镍", Decimal("15.00")),
        ("FG-6011", "不锈钢插销 4寸", Decimal("8.80")),
        ("HX-SET-4", "合页4只装 套装", Decimal("48.00")),
    ]
)


@dataclass
class SimOrder:
    """An order in the simulator's neutral shape."""

    order_id: int
    created: datetime
    modified: datetime
    status: str  # neutral: paid, shipped, cancelled, refunded
    buyer_nick: str
    receiver_name: str
    phone: str
    province: str
    city: str
    district: str
    address: str
    zip: str
    note: str
    currency: str
    lines: list[dict[str, Any]]  # {line_id, sku, title, qty, price, discount}
    shipping: Decimal
    discount: Decimal
    country: str = "CN"
    raw: dict[str, Any] | None = None  # a protocol payload loaded verbatim (--orders-file)

    @property
    def goods_total(self) -> Decimal:
        return sum((line["price"] * line["qty"] for line in self.lines), Decimal(0))

    @property
    def line_discounts(self) -> Decimal:
        return sum((line["discount"] for line in self.lines), Decimal(0))

    @property
    def paid(self) -> Decimal:
        return (self.goods_total - self.line_discounts - self.discount + self.shipping).quantize(CENT)


@dataclass
class OrderBook:
    """Generated orders spread evenly over [start, end) by modified time, plus stored ones."""

    start: datetime
    end: datetime
    count: int = 0
    seed: int = 7
    currency: str = "CNY"
    id_base: int = 3_000_000_000_000
    catalogue: Catalogue = field(default_factory=lambda: DEFAULT_CATALOGUE)
    stored: dict[int, SimOrder] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Paging asks for the same window once per page: keep the last few windows until an order changes.
    _windows: dict[tuple, list[SimOrder]] = field(default_factory=dict)
    _version: int = 0

    @property
    def version(self) -> int:
        """Changes whenever an order is stored or changed: what was rendered from the book holds until then."""
        return self._version

    @property
    def step(self) -> timedelta:
        return (self.end - self.start) / max(self.count, 1)

    def generated(self, index: int) -> SimOrder:
        """Order number `index` of the generated range; the same index always gives the same order."""
        rng = random.Random(self.seed * 1_000_003 + index)
        order_id = self.id_base + index
        modified = self.start + self.step * index
        created = modified - timedelta(minutes=rng.randint(1, 120))
        lines = []
        for line_no in range(1, rng.choice([1, 2, 3, 3, 4]) + 1):
            sku, title, price = rng.choice(self.catalogue.products)
            qty = rng.choice([1, 1, 2, 2, 5, 10, 20])
            discount = (price * qty * Decimal(rng.choice([0, 0, 0, 5, 10])) / 100).quantize(CENT)
            lines.append(
                {
                    "line_id": order_id * 10 + line_no,
                    "sku": sku,
                    "title": title,
                    "qty": qty,
                    "price": price,
                    "discount": discount,
                }
            )
        if self.currency == "USD":
            first, last = rng.choice(US_NAMES)
            state, city, zip_code = rng.choice(US_PLACES)
            return SimOrder(
                order_id=order_id,
                created=created,
                modified=modified,
                status="paid",
                buyer_nick=f"{first.lower()}.{last.lower()}@example.com",
                receiver_name=f"{first} {last}",
                phone=f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                province=state,
                city=city,
                district="",
                address=f"{rng.randint(1, 999)} Main St",
                zip=zip_code,
                note="",
                currency="USD",
                lines=lines,
                shipping=Decimal(rng.choice(["0.00", "9.90", "15.00"])),
                discount=Decimal(0),
                country="US",
            )
        province, city, districts = rng.choice(PLACES)
        return SimOrder(
            order_id=order_id,
            created=created,
            modified=modified,
            status="paid",
            buyer_nick=f"tb{rng.randint(10_000_000, 99_999_999)}",
            receiver_name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            phone=f"1{rng.choice([3, 5, 7, 8, 9])}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
            province=province,
            city=city,
            district=rng.choice(districts),
            address=f"{rng.choice(STREETS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋{rng.randint(101, 2505)}",
            zip=f"{rng.randint(100000, 999999)}",
            note=rng.choice(NOTES),
            currency=self.currency,
            lines=lines,
            shipping=Decimal(rng.choice(["0.00", "0.00", "8.00", "12.00"])),
            discount=Decimal(rng.choice(["0.00", "0.00", "5.00", "10.00"])),
        )

    def _index_range(self, start: datetime, end: datetime) -> range:
        if self.count == 0 or end <= self.start or start >= self.end:
            return range(0)
        step = self.step.total_seconds()
        first = max(0, int(-(-((start - self.start).total_seconds()) // step)))
        last = min(self.count, int(-(-((end - self.start).total_seconds()) // step)))
        return range(first, max(first, last))

    def window(self, start: datetime, end: datetime, status: str | None = None) -> list[SimOrder]:
        """Orders whose modified time is in [start, end), oldest first (generated ones overridden by stored)."""
        with self.lock:
            key = (start, end, status, self._version)
            if key in self._windows:
                return list(self._windows[key])
            stored = dict(self.stored)
        found = []
        for index in self._index_range(start, end):
            order_id = self.id_base + index
            if order_id in stored:
                continue
            order = self.generated(index)
            if status is None or order.status == status:
                found.append(order)
        for order in stored.values():
            if start <= order.modified < end and (status is None or order.status == status):
                found.append(order)
        found.sort(key=lambda order: (order.modified, order.order_id))
        with self.lock:
            if len(self._windows) >= 8:
                self._windows.pop(next(iter(self._windows)))
            self._windows[key] = found
        return list(found)

    def get(self, order_id: int) -> SimOrder | None:
        with self.lock:
            if order_id in self.stored:
                return self.stored[order_id]
        index = order_id - self.id_base
        return self.generated(index) if 0 <= index < self.count else None

    def put(self, order: SimOrder) -> None:
        with self.lock:
            self.stored[order.order_id] = order
            self._version += 1
            self._windows.clear()

    def touch(self, order_id: int, *, when: datetime | None = None, **changes: Any) -> SimOrder | None:
        """Change an order as the marketplace would (status, address…), moving its modified time."""
        order = self.get(order_id)
        if order is None:
            return None
        for name, value in changes.items():
            setattr(order, name, value)
        order.modified = when or datetime.now(SHANGHAI)
        self.put(order)
        return order

    def load_file(self, path: Path) -> int:
        """Load raw orders from a JSON list (neutral shape, or a protocol payload under "raw")."""
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        for row in rows:
            self.put(sim_order_from_dict(row))
        return len(rows)

    def iter_ids(self) -> Iterator[int]:
        yield from (self.id_base + index for index in range(self.count))
        yield from self.stored


def _time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def sim_order_from_dict(row: dict[str, Any]) -> SimOrder:
    """A stored order from a JSON object; missing fields get blank values (malformed orders are allowed)."""
    now = datetime.now(SHANGHAI)
    lines = [
        {
            "line_id": line.get("line_id", index + 1),
            "sku": line.get("sku", ""),
            "title": line.get("title", ""),
            "qty": line.get("qty", 1),
            "price": Decimal(str(line.get("price", "0"))),
            "discount": Decimal(str(line.get("discount", "0"))),
        }
        for index, line in enumerate(row.get("lines", []))
    ]
    return SimOrder(
        order_id=int(row["order_id"]),
        created=_time(row.get("created"), now),
        modified=_time(row.get("modified"), now),
        status=row.get("status", "paid"),
        buyer_nick=row.get("buyer_nick", ""),
        receiver_name=row.get("receiver_name", ""),
        phone=row.get("phone", ""),
        province=row.get("province", ""),
        city=row.get("city", ""),
        district=row.get("district", ""),
        address=row.get("address", ""),
        zip=row.get("zip", ""),
        note=row.get("note", ""),
        currency=row.get("currency", "CNY"),
        lines=lines,
        shipping=Decimal(str(row.get("shipping", "0"))),
        discount=Decimal(str(row.get("discount", "0"))),
        country=row.get("country", "CN"),
        raw=row.get("raw"),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)
