"""Production orders planned in the ERP (K/3 Cloud PRD_MO) become Loopline work orders, once each."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from integrations.channels.base import ChannelError, HttpTransport
from integrations.erp.k3cloud import parse_datetime
from integrations.erp.outbox import erp_client
from integrations.models import ErpConnection, SyncRun
from production.errors import ProductionError
from production.models import Item, WorkOrder
from production.planning import work_order_create_tree
from production.scheduling import schedule

FIELDS = ["FBillNo", "FMaterialId.FNumber", "FQty", "FPlanStartDate", "FPlanFinishDate", "FDocumentStatus"]


@dataclass
class ProductionOrderPull:
    """What one pull of the ERP's production orders did."""

    fetched: int = 0
    created: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)


def _with_descendants(ids: list[int]) -> list[int]:
    """The work orders and every child work order below them (one query per BOM level)."""
    found, frontier = list(ids), list(ids)
    while frontier:
        frontier = list(WorkOrder.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        found.extend(frontier)
    return found


def erp_pull_production_orders(
    *, by: User | None = None, connection: ErpConnection | None = None, transport: HttpTransport | None = None
) -> ProductionOrderPull:
    """Audited production orders of the ERP that Loopline has not seen become scheduled work-order trees."""
    connection = connection or ErpConnection.objects.filter(enabled=True).order_by("pk").first()
    result = ProductionOrderPull()
    if connection is None:
        return result
    client = erp_client(connection, transport)
    known = set(WorkOrder.objects.exclude(erp_number="").values_list("erp_number", flat=True))
    new_orders = []
    # Only audited (C) orders: drafts and orders still in approval may change or be withdrawn in the ERP.
    for bill_no, material, qty, _start, finish, _status in client.query_all(
        "PRD_MO", FIELDS, filter_string="FDocumentStatus='C'", order_string="FBillNo ASC"
    ):
        result.fetched += 1
        if bill_no in known:
            result.unchanged += 1
            continue
        item = Item.objects.filter(code=material, active=True).first()
        if item is None:
            result.errors.append({"erp_number": bill_no, "code": "ITEM_UNKNOWN", "message": f"{material}"})
            continue
        finish_at: datetime | None = parse_datetime(finish)
        try:
            with transaction.atomic():
                work_order = work_order_create_tree(
                    item=item, qty=Decimal(str(qty)), due_date=finish_at.date() if finish_at else None, by=by,
                    note=f"ERP {bill_no}",
                )  # fmt: skip
                WorkOrder.objects.filter(pk=work_order.pk).update(erp_number=bill_no)
        except ProductionError as exc:
            result.errors.append({"erp_number": bill_no, "code": exc.code, "message": exc.message})
            continue
        new_orders.append(work_order)
        result.created.append(bill_no)
    if new_orders:
        schedule(work_orders=_with_descendants([order.pk for order in new_orders]))
    audit_record(
        actor=by,
        verb="erp.pull_production_orders",
        changes={"fetched": result.fetched, "created": result.created, "errors": result.errors[:50]},
    )
    return result


def erp_pull_production_orders_run(
    *,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    by: User | None = None,
    connection: ErpConnection | None = None,
    transport: HttpTransport | None = None,
) -> SyncRun | None:
    """The pull above recorded as a SyncRun of the ERP connection, like the other ERP pulls; an ERP failure fails
    the run with the ERP's error instead of the task."""
    connection = connection or ErpConnection.objects.filter(enabled=True).order_by("pk").first()
    if connection is None:
        return None
    transport = transport or HttpTransport(timeout=20, max_attempts=2)
    run = SyncRun.objects.create(kind=SyncRun.Kind.ERP_PRODUCTION_ORDERS, erp_connection=connection, trigger=trigger)
    try:
        result = erp_pull_production_orders(by=by, connection=connection, transport=transport)
    except ChannelError as error:
        run.status = SyncRun.Status.FAILED
        run.errors = [{"code": error.code, "message": error.message, "external_id": ""}]
    except ValueError as error:  # no password nor app secret stored yet
        run.status = SyncRun.Status.FAILED
        run.errors = [{"code": "ERP_NOT_CONFIGURED", "message": f"{connection}: {error}", "external_id": ""}]
    else:
        run.fetched, run.created, run.unchanged = result.fetched, len(result.created), result.unchanged
        run.errors = [
            {"code": e["code"], "message": e["message"], "external_id": e["erp_number"]} for e in result.errors[:200]
        ]
        run.status = SyncRun.Status.PARTIAL if run.errors else SyncRun.Status.SUCCEEDED
    run.http_calls, run.retries = transport.stats.http_calls, transport.stats.retries
    run.finished_at = timezone.now()
    run.save()
    return run
