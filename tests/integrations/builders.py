"""Small builders for intake page tests: channel accounts, orders with lines and issues, sync runs — straight ORM."""

import hashlib
import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone, translation

from integrations.models import ChannelAccount, SyncRun
from integrations.pipeline import issue_message
from orders.models import OrderIssue, OrderLine, SalesOrder
from production.models import Item

Code = OrderIssue.Code
_serial = itertools.count(1)

# A receiver that passes every validation rule, so an order carries only the issues a test gives it.
GOOD_RECEIVER = {
    "receiver_name": "张三",
    "receiver_phone": "13800138000",
    "receiver_province": "广东省",
    "receiver_city": "东莞市",
    "receiver_district": "长安镇",
    "receiver_address": "振安中路 88 号",
    "receiver_zip": "523850",
}


def make_account(code: str = "TB1", kind: str = ChannelAccount.Kind.TAOBAO, **fields: Any) -> ChannelAccount:
    """A channel account; `credentials` (a dict) is encrypted like the admin does."""
    credentials = fields.pop("credentials", None)
    account = ChannelAccount(
        kind=kind,
        name=fields.pop("name", f"{code} 旗舰店"),
        code=code,
        base_url=fields.pop("base_url", "http://127.0.0.1:9/unused"),
        **fields,
    )
    if credentials:
        account.set_credentials(credentials)
    account.save()
    return account


def make_order(
    account: ChannelAccount,
    *,
    lines: list[tuple[str, int, str]] | None = None,
    issues: list[tuple[str, dict[str, Any]]] | None = None,
    status: str = SalesOrder.Status.NEEDS_REVIEW,
    items: dict[str, Item] | None = None,
    received_at: datetime | None = None,
    external_id: str | None = None,
    **fields: Any,
) -> SalesOrder:
    """An order whose amounts add up, with lines (sku, qty, unit price) and the given open issues.

    A line's item is taken from `items` by SKU; a line without one is unmapped (give it a SKU_UNMAPPED issue).
    """
    lines = lines if lines is not None else [("FG-HINGE-4", 2, "15.00")]
    items = items or {}
    external_id = external_id or str(3_000_000_000 + next(_serial))
    goods = sum((Decimal(price) * qty for _sku, qty, price in lines), Decimal(0))
    payload = fields.pop("payload", {"tid": external_id, "orders": [{"outer_sku_id": sku} for sku, *_ in lines]})
    order = SalesOrder.objects.create(
        number=f"{account.code}-{external_id}",
        channel_account=account,
        external_id=external_id,
        external_number=external_id,
        status=status,
        buyer=fields.pop("buyer", "tb_buyer_01"),
        currency=fields.pop("currency", "CNY"),
        goods_amount=goods,
        paid_amount=fields.pop("paid_amount", goods),
        payload=payload,
        payload_hash=hashlib.sha256(external_id.encode()).hexdigest(),
        **{**GOOD_RECEIVER, **fields},
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                line_no=number,
                external_line_id=f"{external_id}-{number}",
                external_sku=sku,
                title=f"商品 {sku}",
                item=items.get(sku),
                qty=Decimal(qty),
                item_qty=Decimal(qty),
                unit_price=Decimal(price),
            )
            for number, (sku, qty, price) in enumerate(lines, start=1)
        ]
    )
    with translation.override("zh-hans"):  # as the pipeline stores them
        OrderIssue.objects.bulk_create(
            [
                OrderIssue(order=order, code=code, data=data, detail=issue_message(code, data))
                for code, data in issues or []
            ]
        )
    if received_at is not None:
        SalesOrder.objects.filter(pk=order.pk).update(received_at=received_at)
        order.received_at = received_at
    return order


def unmapped(sku: str) -> tuple[str, dict[str, Any]]:
    """The issue of a line whose SKU maps to no item."""
    return (Code.SKU_UNMAPPED, {"sku": sku})


def make_run(
    account: ChannelAccount,
    *,
    status: str = SyncRun.Status.SUCCEEDED,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    started_at: datetime | None = None,
    seconds: float = 12.5,
    errors: list[dict[str, str]] | None = None,
    **counts: int,
) -> SyncRun:
    """A finished sync run started at `started_at` (default: now) that lasted `seconds`."""
    started_at = started_at or timezone.now()
    run = SyncRun.objects.create(
        account=account,
        trigger=trigger,
        status=status,
        window_start=started_at - timedelta(minutes=25),
        window_end=started_at,
        finished_at=started_at + timedelta(seconds=seconds) if status != SyncRun.Status.RUNNING else None,
        errors=errors or [],
        **counts,
    )
    SyncRun.objects.filter(pk=run.pk).update(started_at=started_at)  # auto_now_add ignores a given value
    run.started_at = started_at
    return run
