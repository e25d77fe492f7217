from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Item(models.Model):
    """Anything the factory makes, buys or stocks, identified by its material code (物料编码)."""

    class Kind(models.TextChoices):
        FINISHED = "finished", _("Finished good")
        SEMI = "semi", _("Semi-finished")
        RAW = "raw", _("Raw material")
        PURCHASED = "purchased", _("Purchased part")

    code = models.CharField(_("material code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    specification = models.CharField(_("specification"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=64, blank=True, db_index=True)
    unit = models.CharField(_("unit"), max_length=16, default="PCS")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, db_index=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_made(self) -> bool:
        return self.kind in (self.Kind.FINISHED, self.Kind.SEMI)


class BomLine(models.Model):
    """One component of a parent item: how many per parent and the expected scrap (BOM, any depth)."""

    parent = models.ForeignKey(Item, verbose_name=_("parent item"), on_delete=models.CASCADE, related_name="bom_lines")
    child = models.ForeignKey(Item, verbose_name=_("component"), on_delete=models.PROTECT, related_name="used_in")
    sequence = models.PositiveIntegerField(_("sequence"), default=10)
    qty_per = models.DecimalField(_("quantity per parent"), max_digits=18, decimal_places=6)
    scrap_pct = models.DecimalField(_("scrap %"), max_digits=6, decimal_places=3, default=Decimal("0"))

    class Meta:
        verbose_name = _("BOM line")
        verbose_name_plural = _("BOM lines")
        ordering = ["parent", "sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="bomline_unique_child_per_parent"),
            models.CheckConstraint(condition=~Q(parent=F("child")), name="bomline_not_own_component"),
            models.CheckConstraint(condition=Q(qty_per__gt=0), name="bomline_qty_per_positive"),
            models.CheckConstraint(condition=Q(scrap_pct__gte=0, scrap_pct__lt=100), name="bomline_scrap_pct_range"),
        ]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.child_id} × {self.qty_per}"


class Warehouse(models.Model):
    """A stock location (成品仓, 原料仓 …); keepers are scoped to theirs by object permissions."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    erp_code = models.CharField(_("ERP code"), max_length=64, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["code"]
        # Granted per warehouse (django-guardian) to its keepers: see and change the stock kept there.
        permissions = [("keep_warehouse", _("Can see and change the stock of this warehouse"))]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockLevel(models.Model):
    """On-hand quantity of one item in one warehouse."""

    warehouse = models.ForeignKey(
        Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE, related_name="stock_levels"
    )
    item = models.ForeignKey(Item, verbose_name=_("item"), on_delete=models.CASCADE, related_name="stock_levels")
    qty_on_hand = models.DecimalField(_("quantity on hand"), max_digits=18, decimal_places=4, default=Decimal("0"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        ordering = ["warehouse", "item"]
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "item"], name="stocklevel_unique_item_per_warehouse"),
            models.CheckConstraint(condition=Q(qty_on_hand__gte=0), name="stocklevel_qty_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.warehouse_id}/{self.item_id}: {self.qty_on_hand}"


class Workshop(models.Model):
    """A workshop (车间) grouping work centres, e.g. stamping, machining, assembly."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("workshop")
        verbose_name_plural = _("workshops")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WorkCenter(models.Model):
    """A machine or line where operations run, with its daily capacity in hours."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    workshop = models.ForeignKey(
        Workshop, verbose_name=_("workshop"), on_delete=models.PROTECT, related_name="work_centers"
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="work_centers",
    )
    erp_code = models.CharField(_("ERP code"), max_length=64, blank=True)
    capacity_hours_per_day = models.DecimalField(
        _("capacity hours per day"), max_digits=5, decimal_places=2, default=Decimal("8")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("work centre")
        verbose_name_plural = _("work centres")
        ordering = ["code"]
        # The factory's analytics pages read every work centre's figures: granted per role, not per object.
        permissions = [
            ("view_machine_load", _("Can see machine load, downtime Pareto and OEE")),
            ("view_kpis", _("Can see the KPI trends")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity_hours_per_day__gte=0, capacity_hours_per_day__lte=24),
                name="workcenter_capacity_within_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Operation(models.Model):
    """A standard operation (工序) such as 精磨; regional spellings are its aliases."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("standard name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class OperationAlias(models.Model):
    """Another spelling of an operation's name; stored normalised so look-ups ignore width and case."""

    operation = models.ForeignKey(
        Operation, verbose_name=_("operation"), on_delete=models.CASCADE, related_name="aliases"
    )
    alias = models.CharField(_("alias"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("operation alias")
        verbose_name_plural = _("operation aliases")
        ordering = ["alias"]

    def __str__(self) -> str:
        return self.alias


class RoutingStep(models.Model):
    """One step of an item's routing: which operation, where, and how long per unit."""

    item = models.ForeignKey(Item, verbose_name=_("item"), on_delete=models.CASCADE, related_name="routing_steps")
    sequence = models.PositiveIntegerField(_("sequence"))
    operation = models.ForeignKey(
        Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="routing_steps"
    )
    work_center = models.ForeignKey(
        WorkCenter, verbose_name=_("work centre"), on_delete=models.PROTECT, related_name="routing_steps"
    )
    std_minutes_per_unit = models.DecimalField(
        _("standard minutes per unit"), max_digits=10, decimal_places=3, default=Decimal("0")
    )
    setup_minutes = models.DecimalField(_("setup minutes"), max_digits=10, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("routing step")
        verbose_name_plural = _("routing steps")
        ordering = ["item", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["item", "sequence"], name="routingstep_unique_sequence_per_item"),
            models.CheckConstraint(
                condition=Q(std_minutes_per_unit__gte=0), name="routingstep_std_minutes_not_negative"
            ),
            models.CheckConstraint(condition=Q(setup_minutes__gte=0), name="routingstep_setup_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} #{self.sequence} {self.operation}"
