"""Master data pulled from the ERP (Kingdee K/3 Cloud, ExecuteBillQuery): materials (BD_MATERIAL) → Item,
stock per warehouse (STK_Inventory) → StockLevel, BOMs (ENG_BOM) → BomLine; and sales outbound (SAL_OUTSTOCK) for
the reconciliation (integrations.reconciliation).

Each pull is a SyncRun of the ERP connection. It is incremental on the ERP's own modification date: it asks for
the rows modified since the newest date it wrote last time minus an overlap (the ERP's clock and commit order are
not ours, so a row saved a little before a later one can appear after it), and the cursor moves to the newest
date it has now written, in the same transaction as the rows. All pages are read before anything is written, so
an ERP that fails half-way changes nothing; a row that cannot be taken is an error of the run (code, message,
ERP number) and the run goes on with the others.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from integrations.channels.base import ChannelError, HttpTransport
from integrations.erp.k3cloud import SHANGHAI, format_datetime, parse_datetime
from integrations.erp.outbox import erp_client
from integrations.models import ErpConnection, ErpOutboundLine, SyncRun
from production.models import BomLine, Item, StockLevel, Warehouse
from production.selectors import bom_cycle_path

logger = logging.getLogger(__name__)
Kind = SyncRun.Kind
MAX_ERRORS = 200
LOCK_SECONDS = 15 * 60
PAGE_SIZE = 2000

# FErpClsID (物料属性): 1 外购 bought, 2 自制 made here, 3 委外 made by a subcontractor (codes unconfirmed).
MADE_HERE = {"2", "3"}
BOUGHT = {"1"}


class RowError(Exception):
    """One ERP row Loopline cannot take; becomes an error of the run, the other rows go on."""

    def __init__(self, code: str, message: str, external_id: str = ""):
        super().__init__(message)
        self.code, self.message, self.external_id = code, message, external_id


@dataclass(frozen=True)
class PullSpec:
    """What to ask the ERP for one kind of data, and how to write what it answers."""

    form_id: str
    fields: list[str]
    modified: str  # the field key of the row's modification date, the cursor's field
    base_filter: str
    order: str
    apply: Callable[[list[dict[str, Any]], SyncRun], None]


def pull_connection() -> ErpConnection | None:
    """The ERP connection master data is pulled from: the first enabled one that pulls."""
    return ErpConnection.objects.filter(enabled=True, pull_enabled=True).order_by("pk").first()


def _error(run: SyncRun, code: str, message: str, external_id: str = "") -> None:
    if len(run.errors) < MAX_ERRORS:
        run.errors.append({"code": code, "message": message, "external_id": external_id})


def _text(row: dict[str, Any], key: str, *, limit: int, required: bool = True, number: str = "") -> str:
    value = row.get(key)
    text = "" if value is None else str(value).strip()
    if not isinstance(value, str | int | type(None)) or (required and not text):
        raise RowError("ROW_INVALID", f"{key}: {value!r:.60} is not a text", number)
    if len(text) > limit:
        raise RowError("ROW_INVALID", f"{key}: longer than {limit} characters", number)
    return text


def _number(row: dict[str, Any], key: str, number: str) -> Decimal:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise RowError("ROW_INVALID", f"{key}: {value!r:.60} is not a number", number)
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise RowError("ROW_INVALID", f"{key}: {value!r:.60} is not a number", number) from None
    if not parsed.is_finite():
        raise RowError("ROW_INVALID", f"{key}: {value!r:.60} is not a number", number)
    return parsed


# --- Materials -----------------------------------------------------------------------------------------------

MATERIAL_FIELDS = [
    "FNumber",
    "FName",
    "FSpecification",
    "FBaseUnitId.FNumber",
    "FMaterialGroup.FNumber",
    "FErpClsID",
    "FForbidStatus",
    "FModifyDate",
]


def _material(row: dict[str, Any]) -> dict[str, Any]:
    code = _text(row, "FNumber", limit=64)
    cls = _text(row, "FErpClsID", limit=8, number=code)
    if cls not in MADE_HERE | BOUGHT:
        raise RowError("MATERIAL_TYPE_UNSUPPORTED", f"FErpClsID {cls!r} (neither bought nor made)", code)
    return {
        "code": code,
        "name": _text(row, "FName", limit=200, number=code),
        "specification": _text(row, "FSpecification", limit=200, required=False, number=code),
        "unit": _text(row, "FBaseUnitId.FNumber", limit=16, number=code),
        "category": _text(row, "FMaterialGroup.FNumber", limit=64, required=False, number=code),
        "made": cls in MADE_HERE,
        # Forbidden (禁用, B) materials stay in Loopline for history but can no longer be used.
        "active": _text(row, "FForbidStatus", limit=4, required=False, number=code) != "B",
    }


def _apply_materials(rows: list[dict[str, Any]], run: SyncRun) -> None:
    wanted: dict[str, dict[str, Any]] = {}
    for row in rows:
        try:
            values = _material(row)
        except RowError as error:
            _error(run, error.code, error.message, error.external_id)
            continue
        wanted[values["code"]] = values  # re-read in the overlap: the later row wins
    existing = Item.objects.in_bulk(list(wanted), field_name="code")
    new, changed = [], []
    fields = ["name", "specification", "unit", "category", "active"]
    for code, values in wanted.items():
        made = values.pop("made")
        item = existing.get(code)
        if item is None:
            # K/3 does not tell finished from semi-finished goods, nor raw materials from bought parts: a new item
            # gets the wider kind, which IT can narrow in the admin; a later pull keeps it.
            new.append(Item(**values, kind=Item.Kind.SEMI if made else Item.Kind.PURCHASED))
            continue
        kind = item.kind if item.is_made == made else (Item.Kind.SEMI if made else Item.Kind.PURCHASED)
        if kind == item.kind and all(getattr(item, name) == values[name] for name in fields):
            run.unchanged += 1
            continue
        for name in fields:
            setattr(item, name, values[name])
        item.kind = kind
        item.updated_at = timezone.now()
        changed.append(item)
    Item.objects.bulk_create(new, batch_size=1000)
    Item.objects.bulk_update(changed, [*fields, "kind", "updated_at"], batch_size=1000)
    run.created += len(new)
    run.updated += len(changed)


# --- Stock ---------------------------------------------------------------------------------------------------

STOCK_FIELDS = ["FID", "FMaterialId.FNumber", "FStockId.FNumber", "FBaseQty", "FUpdateTime"]


def _apply_stock(rows: list[dict[str, Any]], run: SyncRun) -> None:
    warehouses = {w.erp_code: w for w in Warehouse.objects.exclude(erp_code="")}
    # One row per material, warehouse (and lot, where lots are kept): the stock of a pair is the sum of its rows.
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    bad: set[tuple[str, str]] = set()
    for row in rows:
        try:
            material = _text(row, "FMaterialId.FNumber", limit=64)
            stock = _text(row, "FStockId.FNumber", limit=64, number=material)
            qty = _number(row, "FBaseQty", f"{material}@{stock}")
        except RowError as error:
            _error(run, error.code, error.message, error.external_id or str(row.get("FID") or ""))
            continue
        if stock not in warehouses:
            _error(run, "WAREHOUSE_UNKNOWN", f"no warehouse has ERP code {stock}", f"{material}@{stock}")
            bad.add((material, stock))
            continue
        totals[(material, stock)] += qty
    items = Item.objects.in_bulk({material for material, _stock in totals}, field_name="code")
    levels = {
        (level.item.code, level.warehouse.erp_code): level
        for level in StockLevel.objects.select_related("item", "warehouse").filter(
            item__in=items.values(), warehouse__in=warehouses.values()
        )
    }
    new, changed = [], []
    for (material, stock), qty in totals.items():
        key = f"{material}@{stock}"
        if material not in items:
            _error(run, "ITEM_UNKNOWN", f"material {material} is not in Loopline (pull materials first)", key)
            continue
        if qty < 0:
            _error(run, "NEGATIVE_STOCK", f"the ERP shows {qty} on hand; Loopline keeps stock at 0 or more", key)
            continue
        level = levels.get((material, stock))
        if level is None:
            new.append(StockLevel(item=items[material], warehouse=warehouses[stock], qty_on_hand=qty))
        elif level.qty_on_hand != qty:
            level.qty_on_hand, level.updated_at = qty, timezone.now()
            changed.append(level)
        else:
            run.unchanged += 1
    StockLevel.objects.bulk_create(new, batch_size=1000)
    StockLevel.objects.bulk_update(changed, ["qty_on_hand", "updated_at"], batch_size=1000)
    run.created += len(new)
    run.updated += len(changed)


# --- BOMs ----------------------------------------------------------------------------------------------------

BOM_FIELDS = [
    "FID",
    "FNumber",
    "FMATERIALID.FNumber",
    "FModifyDate",
    "FTreeEntity_FEntryID",
    "FMATERIALIDCHILD.FNumber",
    "FNUMERATOR",
    "FDENOMINATOR",
    "FSCRAPRATE",
]
QTY_PLACES = Decimal("0.000001")


def _bom_line(row: dict[str, Any], bom: str) -> tuple[str, Decimal, Decimal]:
    child = _text(row, "FMATERIALIDCHILD.FNumber", limit=64, number=bom)
    numerator = _number(row, "FNUMERATOR", bom)
    denominator = _number(row, "FDENOMINATOR", bom)
    scrap = _number(row, "FSCRAPRATE", bom)
    if numerator <= 0 or denominator <= 0:
        raise RowError("ROW_INVALID", f"{child}: quantity {numerator}/{denominator} is not positive", bom)
    if not 0 <= scrap < 100:
        raise RowError("ROW_INVALID", f"{child}: scrap rate {scrap} % is outside 0–100", bom)
    return child, (numerator / denominator).quantize(QTY_PLACES), scrap


def _apply_boms(rows: list[dict[str, Any]], run: SyncRun) -> None:
    # The rows are every entry of each BOM modified in the window: group them per BOM, the newest version of a
    # material winning when the ERP holds several audited ones.
    boms: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        boms[row.get("FID")].append(row)
    newest: dict[str, tuple[Any, Any]] = {}
    for bom_id, entries in boms.items():
        parent = str(entries[0].get("FMATERIALID.FNumber") or "")
        key = (str(entries[0].get("FModifyDate") or ""), str(bom_id))
        if parent not in newest or key > newest[parent][0]:
            newest[parent] = (key, bom_id)
    codes = set(newest) | {str(row.get("FMATERIALIDCHILD.FNumber") or "") for row in rows}
    items = Item.objects.in_bulk(codes, field_name="code")
    for parent_code, (_key, bom_id) in newest.items():
        entries = sorted(boms[bom_id], key=lambda row: str(row.get("FTreeEntity_FEntryID") or ""))
        bom = str(entries[0].get("FNumber") or parent_code)
        try:
            lines = _bom_lines(entries, bom, parent_code, items)
            with transaction.atomic():  # a savepoint: a refused BOM leaves the others written
                _write_bom(items[parent_code], lines, run, bom)
        except RowError as error:
            _error(run, error.code, error.message, error.external_id)


def _bom_lines(
    entries: list[dict[str, Any]], bom: str, parent_code: str, items: dict[str, Item]
) -> dict[str, tuple[Decimal, Decimal]]:
    """The BOM's lines by child code; the whole BOM is refused when one line is bad (half a BOM is wrong)."""
    parent = items.get(parent_code)
    if parent is None:
        raise RowError("ITEM_UNKNOWN", f"material {parent_code} is not in Loopline (pull materials first)", bom)
    if not parent.is_made:
        raise RowError("BOM_PARENT_NOT_MADE", f"{parent_code} is a {parent.get_kind_display()}", bom)
    lines: dict[str, tuple[Decimal, Decimal]] = {}
    for entry in entries:
        child, qty, scrap = _bom_line(entry, bom)
        if child not in items:
            raise RowError("ITEM_UNKNOWN", f"component {child} is not in Loopline (pull materials first)", bom)
        if child in lines:
            raise RowError("ROW_INVALID", f"component {child} appears twice", bom)
        lines[child] = (qty, scrap)
    return lines


def _write_bom(parent: Item, lines: dict[str, tuple[Decimal, Decimal]], run: SyncRun, bom: str) -> None:
    """Make the parent's BomLines the ERP's; a component that would close a loop refuses the whole BOM."""
    Item.objects.select_for_update().filter(pk=parent.pk).exists()  # as bom_line_add: no concurrent loop
    current = {line.child.code: line for line in BomLine.objects.select_related("child").filter(parent=parent)}
    removed = [line.pk for code, line in current.items() if code not in lines]
    BomLine.objects.filter(pk__in=removed).delete()
    children = Item.objects.in_bulk(list(lines), field_name="code")
    created = updated = unchanged = 0
    for sequence, (code, (qty, scrap)) in enumerate(lines.items(), start=1):
        line = current.get(code)
        if line is None:
            cycle = bom_cycle_path(parent=parent, child=children[code])
            if cycle:
                raise RowError("BOM_CYCLE", f"{code} under {parent.code} closes the loop {' → '.join(cycle)}", bom)
            BomLine.objects.create(parent=parent, child=children[code], qty_per=qty, scrap_pct=scrap,
                                   sequence=sequence * 10)  # fmt: skip
            created += 1
        elif (line.qty_per, line.scrap_pct, line.sequence) != (qty, scrap, sequence * 10):
            line.qty_per, line.scrap_pct, line.sequence = qty, scrap, sequence * 10
            line.save(update_fields=["qty_per", "scrap_pct", "sequence"])
            updated += 1
        else:
            unchanged += 1
    run.created += created
    run.updated += updated + len(removed)
    run.unchanged += unchanged


# --- Sales outbound (for the reconciliation) ------------------------------------------------------------------

OUTBOUND_FIELDS = [
    "FID",
    "FBillNo",
    "FDate",
    "FCustomerID.FNumber",
    "FModifyDate",
    "FEntity_FEntryID",
    "FMaterialID.FNumber",
    "FRealQty",
    "FStockID.FNumber",
    "FSoorDerno",
]


def _apply_outbound(rows: list[dict[str, Any]], run: SyncRun) -> None:
    connection = run.erp_connection
    wanted: dict[str, dict[str, Any]] = {}
    for row in rows:
        bill = str(row.get("FBillNo") or "")
        try:
            entry = _text(row, "FEntity_FEntryID", limit=64, number=bill)
            material = _text(row, "FMaterialID.FNumber", limit=64, number=bill)
            qty = _number(row, "FRealQty", bill)
            day = parse_datetime(row.get("FDate"))
            if day is None:
                raise RowError("ROW_INVALID", f"FDate: {row.get('FDate')!r:.40} is not a date", bill)
        except RowError as error:
            _error(run, error.code, error.message, error.external_id)
            continue
        wanted[entry] = {
            "bill_number": bill,
            "bill_date": day.date(),
            "customer_number": str(row.get("FCustomerID.FNumber") or "")[:64],
            "sale_order_number": str(row.get("FSoorDerno") or "")[:64],
            "material": material,
            "qty": qty,
            "warehouse_code": str(row.get("FStockID.FNumber") or "")[:64],
            "modified_at": parse_datetime(row.get("FModifyDate")),
        }

    items = Item.objects.in_bulk({values["material"] for values in wanted.values()}, field_name="code")
    existing = {
        line.entry_id: line
        for line in ErpOutboundLine.objects.filter(erp_connection=connection, entry_id__in=list(wanted))
    }
    fields = ["bill_number", "bill_date", "customer_number", "sale_order_number", "item_id", "qty", "warehouse_code"]
    new, changed = [], []
    for entry, values in wanted.items():
        item = items.get(values.pop("material"))
        if item is None:
            _error(run, "ITEM_UNKNOWN", "the outbound line's material is not in Loopline", values["bill_number"])
            continue
        values["item_id"] = item.pk
        line = existing.get(entry)
        if line is None:
            new.append(ErpOutboundLine(erp_connection=connection, entry_id=entry, **values))
        elif any(getattr(line, name) != values[name] for name in fields):
            for name, value in values.items():
                setattr(line, name, value)
            changed.append(line)
        else:
            run.unchanged += 1
    ErpOutboundLine.objects.bulk_create(new, batch_size=1000)
    ErpOutboundLine.objects.bulk_update(changed, [*fields, "modified_at"], batch_size=1000)
    run.created += len(new)
    run.updated += len(changed)


SPECS: dict[str, PullSpec] = {
    Kind.ERP_MATERIALS: PullSpec(
        "BD_MATERIAL",
        MATERIAL_FIELDS,
        "FModifyDate",
        "FDocumentStatus='C'",  # only audited materials: drafts may still change or be withdrawn
        "FModifyDate ASC, FMATERIALID ASC",
        _apply_materials,
    ),
    Kind.ERP_STOCK: PullSpec(
        "STK_Inventory", STOCK_FIELDS, "FUpdateTime", "", "FUpdateTime ASC, FID ASC", _apply_stock
    ),
    Kind.ERP_BOMS: PullSpec(
        "ENG_BOM",
        BOM_FIELDS,
        "FModifyDate",
        "FDocumentStatus='C' and FForbidStatus='A'",
        "FModifyDate ASC, FID ASC, FTreeEntity_FEntryID ASC",
        _apply_boms,
    ),
    Kind.ERP_OUTBOUND: PullSpec(
        "SAL_OUTSTOCK",
        OUTBOUND_FIELDS,
        "FModifyDate",
        "FDocumentStatus='C'",  # audited bills only: a draft outbound has not left the warehouse
        "FModifyDate ASC, FID ASC, FEntity_FEntryID ASC",
        _apply_outbound,
    ),
}
# Every kind erp_pull takes (production orders have their own pull, integrations.erp.production_orders).
PULL_KINDS = [*SPECS, Kind.ERP_PRODUCTION_ORDERS]
# The order of a full pull: items before the stock and BOMs that name them.
MASTER_DATA_KINDS = [Kind.ERP_MATERIALS, Kind.ERP_STOCK, Kind.ERP_BOMS]


def _cursor(connection: ErpConnection, kind: str) -> datetime | None:
    return parse_datetime(connection.pull_cursors.get(kind))


def erp_pull(
    *,
    kind: str,
    connection: ErpConnection | None = None,
    trigger: str = SyncRun.Trigger.SCHEDULE,
    by: User | None = None,
    transport: HttpTransport | None = None,
) -> SyncRun | None:
    """Pull one kind of data from the ERP since its cursor; the SyncRun says what came and what went wrong."""
    if kind == Kind.ERP_PRODUCTION_ORDERS:
        # Production orders are taken once each by their number rather than by a modification date.
        from integrations.erp.production_orders import erp_pull_production_orders_run

        return erp_pull_production_orders_run(trigger=trigger, by=by, connection=connection, transport=transport)
    if kind not in SPECS:
        raise ValueError(f"unknown ERP pull {kind!r}")
    connection = connection or pull_connection()
    if connection is None:
        return None
    connection.refresh_from_db(fields=["pull_cursors", "pull_overlap_minutes"])  # another run may have moved it
    spec = SPECS[kind]
    run = SyncRun.objects.create(kind=kind, erp_connection=connection, trigger=trigger)
    # One pull of a kind at a time (two workers, a manual pull during the scheduled one); the lock expires on
    # its own should a worker die holding it.
    lock, token = f"erp-pull:{connection.pk}:{kind}", uuid.uuid4().hex
    if not cache.add(lock, token, LOCK_SECONDS):
        run.status, run.finished_at = SyncRun.Status.SKIPPED, timezone.now()
        run.save(update_fields=["status", "finished_at"])
        return run
    transport = transport or HttpTransport(timeout=30, max_attempts=3)
    try:
        try:
            client = erp_client(connection, transport)
        except ValueError as error:  # no password nor app secret stored yet
            raise ChannelError(f"{connection}: {error}", code="ERP_NOT_CONFIGURED") from None
        _pull(connection, spec, kind, run, client)
    except ChannelError as error:
        run.status = SyncRun.Status.FAILED
        run.errors = [{"code": error.code, "message": error.message, "external_id": ""}]
    except Exception as error:  # an unexpected failure is recorded on the run too, then re-raised for the log
        run.status = SyncRun.Status.FAILED
        run.errors = [{"code": "INTERNAL", "message": f"{error.__class__.__name__}: {error}", "external_id": ""}]
        _finish(run, transport)
        raise
    finally:
        if cache.get(lock) == token:
            cache.delete(lock)
    _finish(run, transport)
    audit_record(
        actor=by,
        verb=f"erp.pull.{kind}",
        obj=run,
        changes={"status": run.status, "fetched": run.fetched, "created": run.created, "updated": run.updated},
    )
    return run


def _pull(connection: ErpConnection, spec: PullSpec, kind: str, run: SyncRun, client) -> None:
    since = _cursor(connection, kind)
    conditions = [spec.base_filter] if spec.base_filter else []
    if since is not None:
        since -= timedelta(minutes=connection.pull_overlap_minutes)
        run.window_start = since
        conditions.append(f"{spec.modified}>='{format_datetime(since)}'")
    # Every page first, then one transaction: an ERP failing on page 3 leaves Loopline as it was.
    rows = [
        dict(zip(spec.fields, values, strict=True))
        for values in client.query_all(spec.form_id, spec.fields, " and ".join(conditions), spec.order, PAGE_SIZE)
    ]
    run.fetched = len(rows)
    run.pages = len(rows) // PAGE_SIZE + 1
    dates = [parsed for row in rows if (parsed := parse_datetime(row.get(spec.modified))) is not None]
    with transaction.atomic():
        spec.apply(rows, run)
        if dates:
            newest = max(dates)
            run.window_end = newest
            locked = ErpConnection.objects.select_for_update().get(pk=connection.pk)
            previous = _cursor(locked, kind)
            if previous is None or newest > previous:
                locked.pull_cursors[kind] = newest.astimezone(SHANGHAI).isoformat()
                ErpConnection.objects.filter(pk=locked.pk).update(pull_cursors=locked.pull_cursors)
    run.status = SyncRun.Status.PARTIAL if run.errors else SyncRun.Status.SUCCEEDED


def _finish(run: SyncRun, transport: HttpTransport) -> None:
    run.http_calls, run.retries = transport.stats.http_calls, transport.stats.retries
    run.finished_at = timezone.now()
    run.save()


def erp_pull_master_data(
    *, trigger: str = SyncRun.Trigger.SCHEDULE, by: User | None = None, transport: HttpTransport | None = None
) -> list[SyncRun]:
    """Materials, then stock, then BOMs: one SyncRun each."""
    runs = [erp_pull(kind=kind, trigger=trigger, by=by, transport=transport) for kind in MASTER_DATA_KINDS]
    return [run for run in runs if run is not None]
