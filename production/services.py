"""Writes of production master data; each is one transaction and leaves an AuditEvent."""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record, model_changes
from production.errors import BomCycleError, ProductionError
from production.models import (
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
from production.selectors import bom_cycle_path, normalise_operation_name

ITEM_FIELDS = ["code", "name", "specification", "category", "unit", "kind", "active"]


def _save_validated(instance, *, by: User | None, verb: str, fields: list[str]):
    instance.full_clean()
    instance.save()
    audit_record(actor=by, verb=verb, obj=instance, changes=model_changes(instance, fields))
    return instance


@transaction.atomic
def item_create(*, by: User | None, **fields: Any) -> Item:
    """Create an item from its material code, name, kind and unit."""
    return _save_validated(Item(**fields), by=by, verb="item.create", fields=ITEM_FIELDS)


@transaction.atomic
def item_update(*, item: Item, by: User | None, **fields: Any) -> Item:
    """Change an item's fields; the audit record keeps only what changed."""
    before = model_changes(item, fields.keys())
    for name, value in fields.items():
        setattr(item, name, value)
    item.full_clean()
    item.save()
    after = model_changes(item, fields.keys())
    changed = {name: [before[name], after[name]] for name in fields if before[name] != after[name]}
    audit_record(actor=by, verb="item.update", obj=item, changes=changed)
    return item


def check_bom_line_allowed(*, parent: Item, child: Item) -> None:
    """Raise BomCycleError if `child` under `parent` would make an item (indirectly) its own component."""
    cycle = bom_cycle_path(parent=parent, child=child)
    if cycle:
        raise BomCycleError(
            _("%(child)s cannot be a component of %(parent)s: that would close the loop %(cycle)s.")
            % {"child": child.code, "parent": parent.code, "cycle": " → ".join(cycle)}
        )


@transaction.atomic
def bom_line_add(
    *,
    parent: Item,
    child: Item,
    qty_per: Decimal,
    scrap_pct: Decimal = Decimal(0),
    sequence: int = 10,
    by: User | None,
) -> BomLine:
    """Add a component to an item's BOM; loops (A in B in … in A) are refused with the loop named."""
    # Lock the parent row so two concurrent additions cannot each pass the check and together close a loop.
    Item.objects.select_for_update().filter(pk__in=[parent.pk, child.pk]).order_by("pk").exists()
    if not parent.is_made:
        raise ProductionError(
            _("%(item)s is a %(kind)s and cannot have a BOM.")
            % {"item": parent.code, "kind": parent.get_kind_display()},
            code="bom_parent_not_made",
        )
    if BomLine.objects.filter(parent=parent, child=child).exists():
        raise ProductionError(
            _("%(child)s is already a component of %(parent)s.") % {"child": child.code, "parent": parent.code},
            code="bom_duplicate",
        )
    check_bom_line_allowed(parent=parent, child=child)
    line = BomLine(parent=parent, child=child, qty_per=qty_per, scrap_pct=scrap_pct, sequence=sequence)
    return _save_validated(
        line, by=by, verb="bom_line.add", fields=["parent", "child", "qty_per", "scrap_pct", "sequence"]
    )


@transaction.atomic
def bom_line_update(
    *, line: BomLine, by: User | None, qty_per: Decimal | None = None, scrap_pct: Decimal | None = None
) -> BomLine:
    """Change a component's quantity or scrap."""
    if qty_per is not None:
        line.qty_per = qty_per
    if scrap_pct is not None:
        line.scrap_pct = scrap_pct
    return _save_validated(line, by=by, verb="bom_line.update", fields=["qty_per", "scrap_pct"])


@transaction.atomic
def bom_line_remove(*, line: BomLine, by: User | None) -> None:
    """Take a component out of a BOM."""
    audit_record(
        actor=by,
        verb="bom_line.remove",
        obj=line,
        changes=model_changes(line, ["parent", "child", "qty_per"]),
    )
    line.delete()


@transaction.atomic
def operation_create(*, code: str, name: str, aliases: list[str] = (), by: User | None) -> Operation:
    """Create a standard operation and the other spellings that mean it."""
    operation = _save_validated(
        Operation(code=code, name=name), by=by, verb="operation.create", fields=["code", "name"]
    )
    for alias in aliases:
        operation_alias_add(operation=operation, alias=alias, by=by)
    return operation


@transaction.atomic
def operation_alias_add(*, operation: Operation, alias: str, by: User | None) -> OperationAlias:
    """Teach Loopline another spelling of an operation (e.g. 精磨 written as 细磨)."""
    key = normalise_operation_name(alias)
    if not key:
        raise ProductionError(_("An alias cannot be empty."), code="alias_empty")
    existing = OperationAlias.objects.filter(alias=key).select_related("operation").first()
    if existing and existing.operation_id != operation.pk:
        raise ProductionError(
            _("'%(alias)s' already means the operation %(other)s.")
            % {"alias": alias, "other": existing.operation.name},
            code="alias_taken",
        )
    if existing:
        return existing
    return _save_validated(
        OperationAlias(operation=operation, alias=key),
        by=by,
        verb="operation.alias_add",
        fields=["operation", "alias"],
    )


@transaction.atomic
def workshop_create(*, code: str, name: str, by: User | None) -> Workshop:
    """Create a workshop."""
    return _save_validated(Workshop(code=code, name=name), by=by, verb="workshop.create", fields=["code", "name"])


@transaction.atomic
def work_center_create(*, by: User | None, **fields: Any) -> WorkCenter:
    """Create a work centre with its workshop, team and daily capacity."""
    return _save_validated(
        WorkCenter(**fields),
        by=by,
        verb="work_center.create",
        fields=["code", "name", "workshop", "team", "erp_code", "capacity_hours_per_day"],
    )


@transaction.atomic
def routing_step_set(
    *,
    item: Item,
    sequence: int,
    operation: Operation,
    work_center: WorkCenter,
    std_minutes_per_unit: Decimal,
    setup_minutes: Decimal = Decimal(0),
    by: User | None,
) -> RoutingStep:
    """Create or replace step `sequence` of an item's routing."""
    step = RoutingStep.objects.filter(item=item, sequence=sequence).first() or RoutingStep(item=item, sequence=sequence)
    step.operation = operation
    step.work_center = work_center
    step.std_minutes_per_unit = std_minutes_per_unit
    step.setup_minutes = setup_minutes
    return _save_validated(
        step,
        by=by,
        verb="routing_step.set",
        fields=["item", "sequence", "operation", "work_center", "std_minutes_per_unit", "setup_minutes"],
    )


@transaction.atomic
def warehouse_create(*, code: str, name: str, by: User | None, **fields: Any) -> Warehouse:
    """Create a warehouse."""
    return _save_validated(
        Warehouse(code=code, name=name, **fields), by=by, verb="warehouse.create", fields=["code", "name"]
    )


@transaction.atomic
def stock_level_set(*, warehouse: Warehouse, item: Item, qty_on_hand: Decimal, by: User | None) -> StockLevel:
    """Set the counted on-hand quantity of an item in a warehouse (a stock count or an ERP sync)."""
    if qty_on_hand < 0:
        raise ProductionError(_("Stock on hand cannot be negative."), code="stock_negative")
    level, _created = StockLevel.objects.select_for_update().get_or_create(warehouse=warehouse, item=item)
    before = level.qty_on_hand
    level.qty_on_hand = qty_on_hand
    level.save(update_fields=["qty_on_hand", "updated_at"])
    audit_record(actor=by, verb="stock_level.set", obj=level, changes={"qty_on_hand": [str(before), str(qty_on_hand)]})
    return level
