"""A small factory for the dashboard tests: workshops, work centres with teams, work orders with planned operations."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import Team, User
from production.floor import report_event_record
from production.models import Item, Operation, WorkCenter, WorkOrder, WorkOrderOperation, Workshop

STEPS = [("OP-BL", "下料", "CY-01"), ("OP-ST", "冲压", "CY-02"), ("OP-PO", "抛光", "JG-01")]


def factory() -> dict:
    """Two workshops (stamping CY, machining JG), three work centres, two teams."""
    stamping = Workshop.objects.get_or_create(code="CY", defaults={"name": "冲压车间"})[0]
    machining = Workshop.objects.get_or_create(code="JG", defaults={"name": "机加车间"})[0]
    team_a = Team.objects.get_or_create(code="CY-A", defaults={"name": "冲压一班"})[0]
    team_b = Team.objects.get_or_create(code="JG-A", defaults={"name": "机加一班"})[0]
    centres = {
        "CY-01": WorkCenter.objects.get_or_create(
            code="CY-01", defaults={"name": "下料机", "workshop": stamping, "team": team_a}
        )[0],
        "CY-02": WorkCenter.objects.get_or_create(
            code="CY-02", defaults={"name": "冲床", "workshop": stamping, "team": team_a}
        )[0],
        "JG-01": WorkCenter.objects.get_or_create(
            code="JG-01", defaults={"name": "抛光机", "workshop": machining, "team": team_b}
        )[0],
    }
    return {"workshops": [stamping, machining], "teams": [team_a, team_b], "centres": centres}


def planned_order(
    number: str,
    start: datetime,
    *,
    qty: str = "100",
    hours: float = 2,
    category: str = "合页",
    due_days: int = 10,
    order_line=None,
) -> WorkOrder:
    """A work order of three operations, each `hours` long, one after the other from `start`."""
    centres = factory()["centres"]
    item = Item.objects.get_or_create(
        code=f"FG-{category}", defaults={"name": f"{category}成品", "kind": Item.Kind.FINISHED, "category": category}
    )[0]
    end = start + timedelta(hours=hours * len(STEPS))
    work_order = WorkOrder.objects.create(
        number=number,
        item=item,
        qty=Decimal(qty),
        planned_start=start,
        planned_end=end,
        due_date=(start + timedelta(days=due_days)).date(),
        order_line=order_line,
    )
    minutes = Decimal(str(hours * 60)) / Decimal(qty)
    WorkOrderOperation.objects.bulk_create(
        [
            WorkOrderOperation(
                work_order=work_order,
                sequence=index * 10,
                operation=Operation.objects.get_or_create(code=code, defaults={"name": name})[0],
                work_center=centres[centre],
                std_minutes_per_unit=minutes,
                planned_start=start + timedelta(hours=hours * (index - 1)),
                planned_end=start + timedelta(hours=hours * index),
                code=f"LLOP-{number[-6:]}{index}",
            )
            for index, (code, name, centre) in enumerate(STEPS, start=1)
        ]
    )
    return work_order


def press(operation: WorkOrderOperation, operator: User, action: str, at: datetime, **qty) -> None:
    """One press on a tablet, through the floor service."""
    report_event_record(
        operation_code=operation.code, operator=operator, action=action, client_uuid=uuid.uuid4(), now=at, **qty
    )


def first_step(work_order: WorkOrder) -> WorkOrderOperation:
    return work_order.operations.order_by("sequence").first()
