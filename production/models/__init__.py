"""Production data: master data (items, BOMs, work centres, routings, stock) and execution (work orders, reports)."""

from production.models.execution import (
    Downtime,
    ReportCorrection,
    ReportEvent,
    WorkOrder,
    WorkOrderOperation,
)
from production.models.masterdata import (
    BomLine,
    Item,
    Operation,
    OperationAlias,
    RoutingStep,
    StockLevel,
    Warehouse,
    WorkCenter,
    Workshop,
)

__all__ = [
    "BomLine",
    "Downtime",
    "Item",
    "Operation",
    "OperationAlias",
    "ReportCorrection",
    "ReportEvent",
    "RoutingStep",
    "StockLevel",
    "Warehouse",
    "WorkCenter",
    "WorkOrder",
    "WorkOrderOperation",
    "Workshop",
]
