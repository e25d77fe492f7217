"""A small work order with a three-step routing, built straight through the ORM for floor tests."""

from decimal import Decimal

from production.models import Item, Operation, WorkCenter, WorkOrder, WorkOrderOperation, Workshop


def make_work_order(number: str = "WO-T-0001", qty: str = "100", kind: str = WorkOrder.Kind.NORMAL, unit="PCS"):
    workshop, _ = Workshop.objects.get_or_create(code="CY", defaults={"name": "冲压车间"})
    item, _ = Item.objects.get_or_create(
        code=f"SF-{number}", defaults={"name": "合页片", "kind": Item.Kind.SEMI, "unit": unit}
    )
    work_order = WorkOrder.objects.create(number=number, item=item, qty=Decimal(qty), kind=kind)
    for sequence, (op_code, op_name, wc_code) in enumerate(
        [("OP-BL", "下料", "CY-01"), ("OP-ST", "冲压", "CY-02"), ("OP-PO", "抛光", "CY-03")], start=1
    ):
        operation, _ = Operation.objects.get_or_create(code=op_code, defaults={"name": op_name})
        work_center, _ = WorkCenter.objects.get_or_create(
            code=wc_code, defaults={"name": f"{op_name}机", "workshop": workshop}
        )
        WorkOrderOperation.objects.create(
            work_order=work_order,
            sequence=sequence * 10,
            operation=operation,
            work_center=work_center,
            std_minutes_per_unit=Decimal("0.5"),
            code=f"LLOP-{number[-4:]}{sequence}",
        )
    return work_order


def steps(work_order: WorkOrder) -> list[WorkOrderOperation]:
    return list(work_order.operations.order_by("sequence"))
