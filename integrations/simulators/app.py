"""The simulators of every external protocol, assembled into one application."""

from datetime import datetime, timedelta
from pathlib import Path

from integrations.simulators import credentials
from integrations.simulators.orderbook import SHANGHAI, OrderBook
from integrations.simulators.server import Faults, SimulatorApp


def build_app(
    *,
    orders_per_day: int = 2000,
    now: datetime | None = None,
    orders_file: Path | None = None,
    faults: Faults | None = None,
) -> SimulatorApp:
    """Marketplaces holding a day of past orders and the next two days' (they appear as time passes), and robots."""
    from integrations.simulators.aliyun_sms import AliyunSmsSimulator
    from integrations.simulators.dingtalk import DingTalkSimulator
    from integrations.simulators.jd import JdSimulator
    from integrations.simulators.k3_credentials import K3CLOUD
    from integrations.simulators.k3cloud import K3CloudSimulator, SeedMaterial, demo_seed_data
    from integrations.simulators.shopify import ShopifySimulator
    from integrations.simulators.taobao import TaobaoSimulator
    from integrations.simulators.wecom import WecomSimulator

    now = now or datetime.now(SHANGHAI)
    start, end = now - timedelta(days=1), now + timedelta(days=2)
    books = {
        "taobao": OrderBook(start=start, end=end, count=orders_per_day * 3, seed=1, id_base=3_100_000_000_000),
        "jd": OrderBook(start=start, end=end, count=orders_per_day * 3 // 2, seed=2, id_base=2_500_000_000),
        "shopify": OrderBook(
            start=start, end=end, count=orders_per_day * 3 // 4, seed=3, currency="USD", id_base=5_100_000_000
        ),
    }
    if orders_file:
        books["taobao"].load_file(orders_file)
    handlers = [
        TaobaoSimulator(books["taobao"], credentials.TAOBAO),
        JdSimulator(books["jd"], credentials.JD),
        ShopifySimulator(books["shopify"], credentials.SHOPIFY),
        DingTalkSimulator(credentials.DINGTALK),
        WecomSimulator(credentials.WECOM),
        AliyunSmsSimulator(credentials.ALIYUN_SMS),
        K3CloudSimulator(K3CLOUD, seed_data=_erp_seed(demo_seed_data, SeedMaterial, now)),
    ]
    app = SimulatorApp(handlers, faults)
    app.books = books
    return app


# The finished goods the simulated shops sell, with the units the demo factory keeps them in, so the simulated
# ERP knows every material a demo order can carry (its own seed covers the BOM and production-order examples).
SHOP_MATERIALS = [
    ("FG-1011", "304不锈钢合页 4寸 哑黑", "片"), ("FG-2002", "三节钢珠滑轨 14寸", "副"),
    ("FG-2013", "三节阻尼滑轨 18寸", "副"), ("FG-4002", "锌合金拉手 128mm 亮铬", "PCS"),
    ("FG-4012", "锌合金拉手 128mm 哑黑", "PCS"), ("FG-5001", "液压缓冲铰链 全盖", "个"),
    ("FG-6001", "锌合金门吸 拉丝镍", "套"), ("FG-6011", "不锈钢插销 4寸", "个"),
]  # fmt: skip


def _erp_seed(demo_seed_data, seed_material, now: datetime):
    seed = demo_seed_data(now.date())
    known = {material.number for material in seed.materials}
    for number, name, unit in SHOP_MATERIALS:
        if number not in known:
            seed.materials.append(seed_material(number, name, "", unit, "成品", True, now.replace(tzinfo=None)))
    return seed
