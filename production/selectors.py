"""Reads of master data shared by pages, the API and exports."""

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from production.errors import BomCycleError
from production.models import BomLine, Item, Operation, OperationAlias

HUNDRED = Decimal(100)
MAX_BOM_DEPTH = 50


def _descendants_sql(root_ids: list[int]) -> RawSQL:
    """Ids of every item below the roots, in one recursive query (UNION, not UNION ALL, stops on cycles)."""
    bom = BomLine._meta.db_table
    placeholders = ", ".join(["%s"] * len(root_ids))
    sql = (
        "WITH RECURSIVE reach(item_id) AS ("
        f" SELECT child_id FROM {bom} WHERE parent_id IN ({placeholders})"
        f" UNION SELECT b.child_id FROM {bom} b JOIN reach r ON b.parent_id = r.item_id"
        ") SELECT item_id FROM reach"
    )
    return RawSQL(sql, root_ids)  # noqa: S611 - only table names are interpolated; ids are parameters


def bom_lines_below(item_ids: list[int]) -> list[dict]:
    """Every BOM line under the given items, any depth, in one query."""
    return list(
        BomLine.objects.filter(Q(parent_id__in=item_ids) | Q(parent_id__in=_descendants_sql(item_ids))).values(
            "id", "parent_id", "child_id", "sequence", "qty_per", "scrap_pct"
        )
    )


@dataclass(frozen=True)
class ExplosionRow:
    """One occurrence of a component in a multi-level BOM, with the quantity needed for the requested amount."""

    level: int
    path: tuple[str, ...]
    parent_code: str
    item_id: int
    code: str
    name: str
    unit: str
    kind: str
    qty_per: Decimal
    scrap_pct: Decimal
    qty: Decimal


@dataclass
class Explosion:
    root: Item
    qty: Decimal
    rows: list[ExplosionRow] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return max((row.level for row in self.rows), default=0)

    def totals(self) -> list[dict]:
        """Total need per component across all places it occurs (the basis of material requirements)."""
        need: dict[int, Decimal] = defaultdict(Decimal)
        first: dict[int, ExplosionRow] = {}
        for row in self.rows:
            need[row.item_id] += row.qty
            first.setdefault(row.item_id, row)
        return [
            {
                "item_id": item_id,
                "code": first[item_id].code,
                "name": first[item_id].name,
                "unit": first[item_id].unit,
                "kind": first[item_id].kind,
                "qty": qty,
            }
            for item_id, qty in sorted(need.items(), key=lambda kv: first[kv[0]].code)
        ]


def component_qty(parent_qty: Decimal, qty_per: Decimal, scrap_pct: Decimal) -> Decimal:
    """Quantity of a component for `parent_qty` parents: usage plus the expected scrap (用量 × (1 + 损耗率))."""
    return parent_qty * qty_per * (1 + scrap_pct / HUNDRED)


def bom_explode(*, item: Item, qty: Decimal = Decimal(1)) -> Explosion:
    """The multi-level BOM of `item`, depth first in sequence order, with accumulated quantities.

    Two queries whatever the depth: one recursive query for the lines, one for the components' fields.
    """
    lines = bom_lines_below([item.pk])
    children: dict[int, list[dict]] = defaultdict(list)
    for line in sorted(lines, key=lambda line: (line["sequence"], line["id"])):
        children[line["parent_id"]].append(line)
    item_ids = {line["child_id"] for line in lines}
    items = {
        row["id"]: row for row in Item.objects.filter(id__in=item_ids).values("id", "code", "name", "unit", "kind")
    }
    items[item.pk] = {
        "id": item.pk,
        "code": item.code,
        "name": item.name,
        "unit": item.unit,
        "kind": item.kind,
    }

    explosion = Explosion(root=item, qty=qty)

    def walk(parent_id: int, parent_qty: Decimal, path: tuple[int, ...], level: int) -> None:
        for line in children.get(parent_id, []):
            child_id = line["child_id"]
            if child_id in path or level > MAX_BOM_DEPTH:
                cycle = " → ".join(items[i]["code"] for i in (*path, child_id))
                raise BomCycleError(_("The BOM contains a cycle: %(cycle)s") % {"cycle": cycle})
            need = component_qty(parent_qty, line["qty_per"], line["scrap_pct"])
            child = items[child_id]
            explosion.rows.append(
                ExplosionRow(
                    level=level,
                    path=tuple(items[i]["code"] for i in (*path, child_id)),
                    parent_code=items[parent_id]["code"],
                    item_id=child_id,
                    code=child["code"],
                    name=child["name"],
                    unit=child["unit"],
                    kind=child["kind"],
                    qty_per=line["qty_per"],
                    scrap_pct=line["scrap_pct"],
                    qty=need,
                )
            )
            walk(child_id, need, (*path, child_id), level + 1)

    walk(item.pk, qty, (item.pk,), 1)
    return explosion


def bom_cycle_path(*, parent: Item, child: Item) -> list[str] | None:
    """If making `child` a component of `parent` would close a loop, the loop's item codes; else None."""
    if parent.pk == child.pk:
        return [parent.code, child.code]
    lines = bom_lines_below([child.pk])
    below: dict[int, list[int]] = defaultdict(list)
    for line in lines:
        below[line["parent_id"]].append(line["child_id"])
    # Breadth-first from the child, remembering how each item was reached, to name the loop in the error.
    came_from: dict[int, int | None] = {child.pk: None}
    frontier = [child.pk]
    while frontier and parent.pk not in came_from:
        nxt = []
        for node in frontier:
            for nested in below.get(node, []):
                if nested not in came_from:
                    came_from[nested] = node
                    nxt.append(nested)
        frontier = nxt
    if parent.pk not in came_from:
        return None
    chain = []
    node: int | None = parent.pk
    while node is not None:
        chain.append(node)
        node = came_from[node]
    codes = dict(Item.objects.filter(id__in=chain).values_list("id", "code"))
    return [parent.code, *(codes[i] for i in reversed(chain))]


def normalise_operation_name(name: str) -> str:
    """Full-width → half-width, no spaces, case-folded: how names and aliases are compared."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def operation_resolve(name: str) -> Operation | None:
    """The standard operation a written name means, by its standard name or any alias."""
    key = normalise_operation_name(name)
    if not key:
        return None
    for operation in Operation.objects.all().only("id", "name", "code"):
        if normalise_operation_name(operation.name) == key or operation.code.casefold() == key:
            return operation
    alias = OperationAlias.objects.select_related("operation").filter(alias=key).first()
    return alias.operation if alias else None
