"""The columns of each master-data workbook (items, BOMs, work centres, routings) and how one cell is read.

The file format is fixed and Chinese-first, whatever the user's language: row 1 holds the Chinese headers,
row 2 (optional on upload) the English keys. Either spelling is accepted as a header, so a file made by hand
with only one of the two header rows imports too.
"""

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Team
from production.models import BomLine, Item, Operation, RoutingStep, WorkCenter, Workshop

INSTRUCTIONS_TITLE = "说明 Instructions"  # Excel forbids "/" in sheet titles
LISTS_TITLE = "lists"
HEADER_ROW = 1
KEY_ROW = 2

TEXT, INTEGER, DECIMAL, BOOLEAN, CHOICE = "text", "integer", "decimal", "boolean", "choice"

# Units offered in the template's drop-down; units already used by some item are accepted as well.
UNITS = (
    "PCS", "SET", "PAIR", "BOX", "ROLL", "SHEET", "KG", "G", "T", "M", "MM", "M2", "M3", "L", "ML",
    "个", "件", "套", "台", "只", "对", "箱", "卷", "张", "包", "根", "块", "片", "支", "条",
    "千克", "公斤", "克", "吨", "米", "毫米", "平方米", "立方米", "升", "毫升",
)  # fmt: skip

# The file speaks Chinese whatever the UI language, so kinds are written with fixed Chinese labels.
KIND_LABELS = {
    Item.Kind.FINISHED: "成品",
    Item.Kind.SEMI: "半成品",
    Item.Kind.RAW: "原材料",
    Item.Kind.PURCHASED: "外购件",
}
_KIND_SPELLINGS = {
    **{label: kind for kind, label in KIND_LABELS.items()},
    **{kind.value: kind for kind in Item.Kind},
    "finished good": Item.Kind.FINISHED,
    "semi-finished": Item.Kind.SEMI,
    "raw material": Item.Kind.RAW,
    "purchased part": Item.Kind.PURCHASED,
    "产成品": Item.Kind.FINISHED,
    "原料": Item.Kind.RAW,
    "外购": Item.Kind.PURCHASED,
}
YES, NO = "是", "否"
_TRUE = {"是", "y", "yes", "true", "1", "启用", "有效", "√", "✓"}
_FALSE = {"否", "n", "no", "false", "0", "停用", "禁用", "无效", "×"}


def normalise(text: str) -> str:
    """Full-width → half-width, no spaces, case-folded: how headers and choice spellings are compared."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class Column:
    """One column of a workbook: its headers, type and limits (taken from the model field it fills)."""

    key: str
    header: str
    type: str
    help: Promise
    example: Any
    required: bool = False
    width: int = 14
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    max_digits: int | None = None
    places: int = 0
    minimum: Decimal | None = None
    minimum_exclusive: bool = False
    maximum: Decimal | None = None
    maximum_exclusive: bool = False
    default: Any = None  # what an empty cell of an optional column means

    @property
    def spellings(self) -> set[str]:
        return {normalise(name) for name in (self.header, self.key, *self.aliases)}


def _text(key: str, header: str, model: type[models.Model], field_name: str, **kwargs: Any) -> Column:
    max_length = model._meta.get_field(field_name).max_length
    return Column(key, header, TEXT, max_length=max_length, default="", **kwargs)


def _decimal(key: str, header: str, model: type[models.Model], field_name: str, **kwargs: Any) -> Column:
    model_field = model._meta.get_field(field_name)
    kwargs.setdefault("default", model_field.default if model_field.has_default() else None)
    return Column(key, header, DECIMAL, max_digits=model_field.max_digits, places=model_field.decimal_places, **kwargs)


def _sequence(key: str, header: str, **kwargs: Any) -> Column:
    # PositiveIntegerField: 0 … 2^31-1 on every database Django supports.
    return Column(key, header, INTEGER, minimum=Decimal(0), maximum=Decimal(2**31 - 1), width=8, default=10, **kwargs)


def _active(example: str = YES) -> Column:
    return Column("active", "启用", BOOLEAN, gettext_lazy("是 or 否; empty means 是."), example, width=8, default=True)


@dataclass(frozen=True)
class SheetSpec:
    """The workbook of one kind of master data: its sheet title, columns and natural key."""

    kind: str
    title: str
    label: Promise
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    examples: tuple[tuple[Any, ...], ...] = field(default=())

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)


ITEMS = SheetSpec(
    kind="items",
    title="物料",
    label=gettext_lazy("Items"),
    key=("code",),
    columns=(
        _text("code", "物料编码", Item, "code", required=True, width=18,
              help=gettext_lazy("Material code; an existing code updates that item."), example="FG-1001"),
        _text("name", "名称", Item, "name", required=True, width=30,
              help=gettext_lazy("Name."), example="不锈钢合页 4 寸"),
        _text("specification", "规格型号", Item, "specification", width=30,
              help=gettext_lazy("Specification or model."), example="100×75×2.5mm"),
        _text("category", "类别", Item, "category", width=14,
              help=gettext_lazy("Category, e.g. for dashboard filters."), example="合页"),
        _text("unit", "单位", Item, "unit", required=True, width=8,
              help=gettext_lazy("Unit of measure from the list, or one already used by an item."), example="PCS"),
        Column("kind", "物料属性", CHOICE, required=True, width=10,
               help=gettext_lazy("成品, 半成品, 原材料 or 外购件 (finished, semi, raw, purchased)."), example="成品"),
        _active(),
    ),
    examples=(
        ("FG-1001", "不锈钢合页 4 寸", "100×75×2.5mm", "合页", "套", "成品", YES),
        ("RM-304", "SUS304 不锈钢板", "2.5mm", "板材", "KG", "原材料", YES),
    ),
)  # fmt: skip

BOMS = SheetSpec(
    kind="boms",
    title="BOM",
    label=gettext_lazy("BOM lines"),
    key=("parent", "child"),
    columns=(
        _text("parent", "父项编码", Item, "code", required=True, width=18,
              help=gettext_lazy("Material code of the parent (a finished or semi-finished item)."),
              example="FG-1001"),
        _text("child", "子项编码", Item, "code", required=True, width=18,
              help=gettext_lazy("Material code of the component; deeper levels are rows of their own."),
              example="SF-2001"),
        _sequence("sequence", "序号", help=gettext_lazy("Order within the parent's BOM; empty means 10."),
                  example=10),
        _decimal("qty_per", "单位用量", BomLine, "qty_per", required=True, width=12,
                 minimum=Decimal(0), minimum_exclusive=True,
                 help=gettext_lazy("Quantity per one parent; greater than 0."), example=2),
        _decimal("scrap_pct", "损耗率%", BomLine, "scrap_pct", width=10, aliases=("损耗率(%)", "损耗率"),
                 minimum=Decimal(0), maximum=Decimal(100), maximum_exclusive=True,
                 help=gettext_lazy("Expected scrap in percent (4 means 4 %), 0 to under 100; empty means 0."),
                 example=0),
    ),
    examples=(
        ("FG-1001", "SF-2001", 10, 2, 0),
        ("SF-2001", "RM-304", 10, 0.05, 4),
    ),
)  # fmt: skip

WORKCENTERS = SheetSpec(
    kind="workcenters",
    title="工作中心",
    label=gettext_lazy("Work centres"),
    key=("code",),
    columns=(
        _text("code", "编码", WorkCenter, "code", required=True, aliases=("工作中心编码",),
              help=gettext_lazy("Work centre code; an existing code updates that work centre."), example="WC-CNC01"),
        _text("name", "名称", WorkCenter, "name", required=True, width=24, aliases=("工作中心名称",),
              help=gettext_lazy("Name."), example="CNC 加工中心 1 号"),
        _text("workshop", "车间编码", Workshop, "code", required=True,
              help=gettext_lazy("Workshop code; a new code creates the workshop."), example="WS-MACH"),
        _text("workshop_name", "车间名称", Workshop, "name", width=16,
              help=gettext_lazy("Workshop name: needed for a new workshop, renames an existing one."),
              example="机加工车间"),
        _text("team", "班组编码", Team, "code",
              help=gettext_lazy("Code of an existing team, or empty."), example=""),
        _text("erp_code", "ERP编码", WorkCenter, "erp_code",
              help=gettext_lazy("Code of the work centre in the ERP."), example="K3-WC-101"),
        _decimal("capacity_hours_per_day", "每日产能(小时)", WorkCenter, "capacity_hours_per_day",
                 minimum=Decimal(0), maximum=Decimal(24),
                 help=gettext_lazy("Capacity in hours per day, 0 to 24; empty means 8."), example=16),
        _active(),
    ),
    examples=(("WC-CNC01", "CNC 加工中心 1 号", "WS-MACH", "机加工车间", "", "K3-WC-101", 16, YES),),
)  # fmt: skip

ROUTINGS = SheetSpec(
    kind="routings",
    title="工艺路线",
    label=gettext_lazy("Routings"),
    key=("item", "sequence"),
    columns=(
        _text("item", "物料编码", Item, "code", required=True, width=18,
              help=gettext_lazy("Material code of the item made by this routing."), example="SF-2001"),
        _sequence("sequence", "序号", required=True,
                  help=gettext_lazy("Step number; an existing step number replaces that step."), example=10),
        _text("operation", "工序", Operation, "name", required=True, width=16,
              help=gettext_lazy("Operation: its standard name, code or an alias."), example="精磨"),
        _text("work_center", "工作中心编码", WorkCenter, "code", required=True,
              help=gettext_lazy("Code of an existing work centre."), example="WC-CNC01"),
        _decimal("std_minutes_per_unit", "单件标准工时(分钟)", RoutingStep, "std_minutes_per_unit", width=18,
                 minimum=Decimal(0), help=gettext_lazy("Standard minutes per unit; empty means 0."), example=1.5),
        _decimal("setup_minutes", "准备工时(分钟)", RoutingStep, "setup_minutes", width=14,
                 minimum=Decimal(0), help=gettext_lazy("Setup minutes per run; empty means 0."), example=30),
    ),
    examples=(("SF-2001", 10, "精磨", "WC-CNC01", 1.5, 30),),
)  # fmt: skip

SHEETS: dict[str, SheetSpec] = {spec.kind: spec for spec in (ITEMS, BOMS, WORKCENTERS, ROUTINGS)}
KINDS = tuple(SHEETS)


# --- Reading one cell -----------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell's value cannot be used; the message says why, in the user's language."""


def cell_text(raw: Any) -> str:
    """A cell as the user sees it, for messages and text columns (10001.0 typed as a number reads "10001")."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime | date | time):
        return raw.isoformat()
    return str(raw).strip()


def parse_cell(column: Column, raw: Any) -> Any:
    """The value of a non-empty cell for `column`, or CellError."""
    if column.type == TEXT:
        text = cell_text(raw)
        if column.max_length and len(text) > column.max_length:
            raise CellError(_("At most %(count)d characters.") % {"count": column.max_length})
        return text
    if column.type == CHOICE:
        kind = _KIND_SPELLINGS.get(normalise(cell_text(raw)))
        if kind is None:
            raise CellError(_("Unknown kind; write one of %(choices)s.") % {"choices": "、".join(KIND_LABELS.values())})
        return kind
    if column.type == BOOLEAN:
        text = normalise(cell_text(raw))
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise CellError(_("Write 是 or 否."))
    number = _number(column, raw)
    return int(number) if column.type == INTEGER else number


def _number(column: Column, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise CellError(_("Not a number."))
    try:
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise InvalidOperation
            number = Decimal(repr(raw))
        elif isinstance(raw, int | Decimal):
            number = Decimal(raw)
        else:
            # Thousands separators and a trailing % are how people type numbers; the header says the unit.
            text = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "").removesuffix("%").strip()
            number = Decimal(text)
        if not number.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise CellError(_("Not a number.")) from None
    step = Decimal(1).scaleb(-column.places)
    rounded = number.quantize(step, rounding=ROUND_HALF_UP)
    # Excel stores binary floats: 0.1 + 0.2 arrives as 0.30000000000000004; that noise is not a real digit.
    noise = Decimal("1e-9") * max(Decimal(1), abs(number)) if isinstance(raw, float) else Decimal(0)
    if abs(rounded - number) > noise:
        if column.type == INTEGER:
            raise CellError(_("Not a whole number."))
        raise CellError(_("At most %(count)d decimal places.") % {"count": column.places})
    if column.max_digits and abs(rounded) >= Decimal(10) ** (column.max_digits - column.places):
        raise CellError(_("Too large."))
    _check_range(column, rounded)
    return rounded


def _check_range(column: Column, number: Decimal) -> None:
    low, high = column.minimum, column.maximum
    if low is not None and (number < low or (column.minimum_exclusive and number == low)):
        if low == 0 and number < 0:
            raise CellError(_("Cannot be negative."))
        if column.minimum_exclusive:
            raise CellError(_("Must be greater than %(limit)s.") % {"limit": low})
        raise CellError(_("Must be at least %(limit)s.") % {"limit": low})
    if high is not None and (number > high or (column.maximum_exclusive and number == high)):
        if column.maximum_exclusive:
            raise CellError(_("Must be less than %(limit)s.") % {"limit": high})
        raise CellError(_("Must be at most %(limit)s.") % {"limit": high})
