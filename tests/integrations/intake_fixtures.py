"""A running marketplace simulator and a channel account pointing at it, for intake tests over real HTTP."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from integrations.channels.base import HttpTransport
from integrations.models import ChannelAccount, NotifyChannel
from integrations.services import channel_account_save
from integrations.simulators import credentials
from integrations.simulators.dingtalk import DingTalkSimulator
from integrations.simulators.orderbook import DEFAULT_CATALOGUE, SHANGHAI, OrderBook
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.taobao import TaobaoSimulator
from production.models import Item

WINDOW_START = datetime(2026, 11, 20, 8, 0, tzinfo=SHANGHAI)


@dataclass
class Shop:
    """A simulated Taobao shop with its book of orders, and Loopline's account for it."""

    app: SimulatorApp
    url: str
    book: OrderBook
    robot: DingTalkSimulator
    account: ChannelAccount
    end: datetime

    def transport(self) -> HttpTransport:
        # A short timeout so the simulator's injected slow answers count as timeouts without slowing the suite.
        return HttpTransport(sleep=lambda seconds: None, max_attempts=6, timeout=1.0)


def make_catalogue_items() -> None:
    for sku, title, _price in DEFAULT_CATALOGUE.products:
        if sku.startswith("FG-"):
            Item.objects.get_or_create(code=sku, defaults={"name": title, "kind": Item.Kind.FINISHED})


def open_shop(orders: int = 300, hours: int = 3, secret: str | None = None) -> tuple[Shop, object]:
    end = WINDOW_START + timedelta(hours=hours)
    book = OrderBook(start=WINDOW_START, end=end, count=orders, seed=21)
    robot = DingTalkSimulator(credentials.DINGTALK)
    app = SimulatorApp([TaobaoSimulator(book, credentials.TAOBAO), robot])
    server, url = start_server(app)
    make_catalogue_items()
    account = channel_account_save(
        account=ChannelAccount(
            kind="taobao",
            name="东莞五金旗舰店",
            code="TB1",
            base_url=f"{url}/taobao/router/rest",
            app_key=credentials.TAOBAO["app_key"],
            backfill_from=WINDOW_START,
            page_size=50,
        ),
        credentials={
            "app_secret": secret or credentials.TAOBAO["app_secret"],
            "session": credentials.TAOBAO["session"],
        },
        by=None,
    )
    channel = NotifyChannel(
        name="客服钉钉群",
        kind="dingtalk",
        audience="customer_service",
        url=f"{url}/dingtalk/robot/send?access_token={credentials.DINGTALK['access_token']}",
    )
    channel.set_secrets({"secret": credentials.DINGTALK["secret"]})
    channel.save()
    return Shop(app, url, book, robot, account, end), server


@pytest.fixture
def shop(db):
    opened, server = open_shop()
    yield opened
    server.shutdown()


def paid_total(order) -> Decimal:
    return order.paid
