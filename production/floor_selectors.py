"""Reads for the floor: what a tablet shows after a scan, in one or two queries."""

from dataclasses import dataclass
from decimal import Decimal

from production.floor import input_limit
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrderOperation


@dataclass
class OperationCard:
    """An operation as the operator needs to see it: what to make, what arrived, what is left."""

    code: str
    status: str
    status_label: str
    work_order: str
    work_order_kind: str
    work_order_status: str
    item_code: str
    item_name: str
    unit: str
    target_qty: Decimal
    sequence: int
    operation_name: str
    work_center_code: str
    work_center_name: str
    previous_step: str
    available_qty: Decimal
    good_qty: Decimal
    scrap_qty: Decimal
    rework_qty: Decimal
    left_qty: Decimal
    labour_minutes: Decimal
    std_minutes_per_unit: Decimal
    recent_events: list[dict]
    work_center_down: bool


def operation_card(code: str, *, recent: int = 5) -> OperationCard | None:
    """The card of the operation with this scan code, or None if there is none."""
    operation = (
        WorkOrderOperation.objects.select_related("work_order__item", "operation", "work_center")
        .filter(code=(code or "").strip().upper())
        .first()
    )
    if operation is None:
        return None
    available, previous = input_limit(operation)
    events = list(
        ReportEvent.objects.filter(operation=operation)
        .order_by("-at", "-id")
        .values("action", "good_qty", "scrap_qty", "rework_qty", "reason", "at", "operator__last_name",
                "operator__first_name")[:recent]
    )  # fmt: skip
    work_order = operation.work_order
    return OperationCard(
        code=operation.code,
        status=operation.status,
        status_label=str(operation.get_status_display()),
        work_order=work_order.number,
        work_order_kind=work_order.kind,
        work_order_status=work_order.status,
        item_code=work_order.item.code,
        item_name=work_order.item.name,
        unit=work_order.item.unit,
        target_qty=work_order.qty,
        sequence=operation.sequence,
        operation_name=operation.operation.name,
        work_center_code=operation.work_center.code,
        work_center_name=operation.work_center.name,
        previous_step=previous.operation.name if previous else "",
        available_qty=available,
        good_qty=operation.good_qty,
        scrap_qty=operation.scrap_qty,
        rework_qty=operation.rework_qty,
        left_qty=max(available - operation.processed_qty, Decimal(0)),
        labour_minutes=operation.labour_minutes,
        std_minutes_per_unit=operation.std_minutes_per_unit,
        recent_events=events,
        work_center_down=Downtime.objects.filter(work_center=operation.work_center, ended_at__isnull=True).exists(),
    )


def work_center_queue(code: str) -> tuple[WorkCenter | None, list[WorkOrderOperation]]:
    """A work centre and its operations to do, in planned order: what a scan of the work centre's label shows."""
    work_center = WorkCenter.objects.filter(code=(code or "").strip().upper()).first()
    if work_center is None:
        return None, []
    operations = list(
        WorkOrderOperation.objects.filter(work_center=work_center)
        .exclude(status=WorkOrderOperation.Status.DONE)
        .exclude(work_order__status__in=["completed", "cancelled"])
        .select_related("work_order__item", "operation")
        .order_by("planned_start", "work_order__number", "sequence")[:50]
    )
    return work_center, operations


@dataclass
class LabourRow:
    """Standard-time performance of one work centre over a period."""

    work_center_code: str
    work_center_name: str
    good_qty: Decimal
    labour_minutes: Decimal
    standard_minutes: Decimal

    @property
    def minutes_per_unit(self) -> Decimal | None:
        return (self.labour_minutes / self.good_qty).quantize(Decimal("0.01")) if self.good_qty else None

    @property
    def efficiency_pct(self) -> Decimal | None:
        """Standard minutes earned per labour minute spent, in percent."""
        if not self.labour_minutes:
            return None
        return (self.standard_minutes / self.labour_minutes * 100).quantize(Decimal("0.1"))


def labour_statistics(*, start, end) -> list[LabourRow]:
    """Per work centre: good output, labour minutes and standard minutes earned by operations finished in
    [start, end). Trial runs are left out: their times are not standard work."""
    from django.db.models import DecimalField, ExpressionWrapper, F, Sum

    earned = ExpressionWrapper(
        F("good_qty") * F("std_minutes_per_unit") + F("setup_minutes"),
        output_field=DecimalField(max_digits=18, decimal_places=3),
    )
    rows = (
        WorkOrderOperation.objects.filter(
            status=WorkOrderOperation.Status.DONE, actual_end__gte=start, actual_end__lt=end
        )
        .exclude(work_order__kind="trial")
        .values("work_center__code", "work_center__name")
        .annotate(good=Sum("good_qty"), labour=Sum("labour_minutes"), standard=Sum(earned))
        .order_by("work_center__code")
    )
    return [
        LabourRow(row["work_center__code"], row["work_center__name"], row["good"] or Decimal(0),
                  row["labour"] or Decimal(0), row["standard"] or Decimal(0))
        for row in rows
    ]  # fmt: skip
