"""A small factory for the analytics tests: two workshops, work centres with capacities, planned operations,
downtime and reports — built straight through the ORM so each test states the numbers it checks."""

import itertools
import uuid
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from accounts.models import User
from production.models import (
    Downtime,
    Item,
    Operation,
    ReportEvent,
    WorkCenter,
    WorkOrder,
    WorkOrderOperation,
    Workshop,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_serial = itertools.count(1)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A moment of November 2026 in Shanghai (the 23rd is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def workshop(code: str = "JG", name: str = "机加工车间") -> Workshop:
    return Workshop.objects.get_or_create(code=code, defaults={"name": name})[0]


def work_center(code: str, hours: str = "8", shop: Workshop | None = None, **fields) -> WorkCenter:
    return WorkCenter.objects.create(
        code=code,
        name=fields.pop("name", f"{code} 机台"),
        workshop=shop or workshop(),
        capacity_hours_per_day=Decimal(hours),
        **fields,
    )


def operation(
    center: WorkCenter,
    start: datetime | None,
    end: datetime | None,
    *,
    std: str = "1",
    kind: str = WorkOrder.Kind.NORMAL,
    status: str = WorkOrder.Status.PLANNED,
    qty: str = "100",
    op_status: str = WorkOrderOperation.Status.PENDING,
    **fields,
) -> WorkOrderOperation:
    """An operation of a work order of its own, planned on the work centre from start to end; `status` is the
    work order's, `op_status` the operation's."""
    n = next(_serial)
    item = Item.objects.get_or_create(code="AN-ITEM", defaults={"name": "分析件", "kind": Item.Kind.SEMI})[0]
    step = Operation.objects.get_or_create(code="AN-OP", defaults={"name": "加工"})[0]
    order = WorkOrder.objects.create(
        number=f"WO-AN-{n:05d}", item=item, qty=Decimal(qty), kind=kind, status=status, **fields.pop("order", {})
    )
    return WorkOrderOperation.objects.create(
        work_order=order,
        sequence=10,
        operation=step,
        work_center=center,
        std_minutes_per_unit=Decimal(std),
        planned_start=start,
        planned_end=end,
        code=f"LLOP-AN{n:05d}",
        status=op_status,
        **fields,
    )


def downtime(center: WorkCenter, reason: str, start: datetime, end: datetime | None, by: User) -> Downtime:
    return Downtime.objects.create(
        work_center=center, reason=reason, started_at=start, ended_at=end, reported_by=by, client_uuid=uuid.uuid4()
    )


def report(op: WorkOrderOperation, moment: datetime, by: User, good: str = "0", scrap: str = "0") -> ReportEvent:
    return ReportEvent.objects.create(
        operation=op,
        operator=by,
        action=ReportEvent.Action.REPORT,
        good_qty=Decimal(good),
        scrap_qty=Decimal(scrap),
        reason="dimension" if Decimal(scrap) else "",
        client_uuid=uuid.uuid4(),
        at=moment,
    )
