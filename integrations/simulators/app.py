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
    from integrations.simulators.k3cloud import K3CloudSimulator
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
        K3CloudSimulator(K3CLOUD),
    ]
    app = SimulatorApp(handlers, faults)
    app.books = books
    return app
