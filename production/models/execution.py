"""Execution on the floor: work orders, their operations, the operators' report events and downtime."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from production.models.masterdata import Item, Operation, WorkCenter

QTY = {"max_digits": 14, "decimal_places": 3, "default": Decimal("0")}
OPERATION_CODE_PREFIX = "LLOP-"


def new_operation_code() -> str:
    """The code printed as a QR on the traveller; scanning it opens the operation on a tablet."""
    return OPERATION_CODE_PREFIX + secrets.token_hex(5).upper()


class WorkOrder(models.Model):
    """An order to make a quantity of an item, for a sales order line, a parent work order, a rework or a trial."""

    class Kind(models.TextChoices):
        NORMAL = "normal", _("Normal")
        REWORK = "rework", _("Rework")
        TRIAL = "trial", _("Trial run")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("work order number"), max_length=32, unique=True)
    item = models.ForeignKey(Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="work_orders")
    qty = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.NORMAL, db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PLANNED, db_index=True)
    order_line = models.ForeignKey(
        "orders.OrderLine",
        verbose_name=_("sales order line"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="work_orders",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent work order"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text=_("The work order whose item this one's output goes into."),
    )
    rework_of = models.ForeignKey(
        "WorkOrderOperation",
        verbose_name=_("rework of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rework_orders",
        help_text=_("The operation whose scrap or defects this rework fixes."),
    )
    note = models.TextField(_("note"), blank=True)
    erp_number = models.CharField(_("ERP production order"), max_length=64, blank=True, db_index=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="workorder_qty_positive"),
            models.CheckConstraint(
                condition=~Q(kind="rework") | Q(rework_of__isnull=False), name="workorder_rework_names_its_source"
            ),
        ]
        indexes = [models.Index(fields=["status", "planned_start"], name="workorder_plan_idx")]
        permissions = [
            ("view_gantt_workorder", _("Can see the production Gantt and each work order's drill-down")),
            ("view_progress_workorder", _("Can see the production progress of sales orders")),
        ]

    def __str__(self) -> str:
        return self.number


class WorkOrderOperation(models.Model):
    """One step of a work order at a work centre, with its plan and what was actually done."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not started")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        DONE = "done", _("Done")

    work_order = models.ForeignKey(
        WorkOrder, verbose_name=_("work order"), on_delete=models.CASCADE, related_name="operations"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    operation = models.ForeignKey(Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="+")
    work_center = models.ForeignKey(
        WorkCenter, verbose_name=_("work centre"), on_delete=models.PROTECT, related_name="work_order_operations"
    )
    code = models.CharField(_("scan code"), max_length=32, unique=True, default=new_operation_code)
    std_minutes_per_unit = models.DecimalField(_("standard minutes per unit"), max_digits=10, decimal_places=3)
    setup_minutes = models.DecimalField(_("setup minutes"), max_digits=10, decimal_places=2, default=Decimal("0"))
    planned_start = models.DateTimeField(_("planned start"), null=True, blank=True, db_index=True)
    planned_end = models.DateTimeField(_("planned end"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    good_qty = models.DecimalField(_("good quantity"), **QTY)
    scrap_qty = models.DecimalField(_("scrap quantity"), **QTY)
    rework_qty = models.DecimalField(_("sent to rework"), **QTY)
    actual_start = models.DateTimeField(_("actual start"), null=True, blank=True)
    actual_end = models.DateTimeField(_("actual end"), null=True, blank=True)
    running_since = models.DateTimeField(_("running since"), null=True, blank=True, editable=False)
    labour_minutes = models.DecimalField(_("labour minutes"), max_digits=12, decimal_places=2, default=Decimal("0"))
    # Not indexed: every press sets it, and an index on it would make each of those updates write every index of
    # the table instead of an in-page (HOT) update. The stall check finds running operations by status.
    last_event_at = models.DateTimeField(_("last report at"), null=True, blank=True)

    class Meta:
        verbose_name = _("work order operation")
        verbose_name_plural = _("work order operations")
        ordering = ["work_order", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "sequence"], name="wooperation_unique_sequence"),
            models.CheckConstraint(
                condition=Q(good_qty__gte=0, scrap_qty__gte=0, rework_qty__gte=0, labour_minutes__gte=0),
                name="wooperation_quantities_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(actual_end__isnull=True) | Q(actual_end__gte=F("actual_start")),
                name="wooperation_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id}#{self.sequence} {self.operation_id}"

    @property
    def processed_qty(self) -> Decimal:
        """Everything that left this step: good, scrap and rework (the input it consumed)."""
        return self.good_qty + self.scrap_qty + self.rework_qty


class ScrapReason(models.TextChoices):
    MATERIAL_DEFECT = "material_defect", _("Material defect")
    DIMENSION = "dimension", _("Out of tolerance")
    SURFACE = "surface", _("Surface damage (scratch, dent)")
    PLATING = "plating", _("Plating defect")
    SETUP = "setup", _("Setup / first piece")
    MACHINE = "machine", _("Machine fault")
    OPERATOR = "operator", _("Handling error")
    OTHER = "other", _("Other")


class PauseReason(models.TextChoices):
    BREAK = "break", _("Break / meal")
    SHIFT_END = "shift_end", _("End of shift")
    MATERIAL = "material", _("Waiting for material")
    INSPECTION = "inspection", _("Waiting for inspection")
    MACHINE = "machine", _("Machine problem")
    OTHER_JOB = "other_job", _("Moved to another job")
    OTHER = "other", _("Other")


class ReportEvent(models.Model):
    """One press on a tablet or scanner, append-only; the operation's totals follow from these."""

    class Action(models.TextChoices):
        START = "start", _("Start")
        PAUSE = "pause", _("Pause")
        RESUME = "resume", _("Resume")
        REPORT = "report", _("Report quantity")
        COMPLETE = "complete", _("Complete")

    # Looked up through reportevent_operation_idx (operation, at), which serves the foreign key as well.
    operation = models.ForeignKey(
        WorkOrderOperation,
        verbose_name=_("operation"),
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.PROTECT, related_name="report_events"
    )
    ip = models.GenericIPAddressField(
        _("from address"), null=True, blank=True, help_text=_("Network address the press came from.")
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    good_qty = models.DecimalField(_("good"), **QTY)
    scrap_qty = models.DecimalField(_("scrap"), **QTY)
    rework_qty = models.DecimalField(_("rework"), **QTY)
    reason = models.CharField(_("reason"), max_length=32, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    photo = models.ImageField(_("photo"), upload_to="floor/%Y/%m/", null=True, blank=True)
    client_uuid = models.UUIDField(_("client id of the press"), unique=True)
    client_at = models.DateTimeField(_("pressed at (device clock)"), null=True, blank=True)
    at = models.DateTimeField(_("recorded at"), db_index=True)
    result = models.JSONField(_("answer given"), default=dict, blank=True)

    class Meta:
        verbose_name = _("report event")
        verbose_name_plural = _("report events")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(good_qty__gte=0, scrap_qty__gte=0, rework_qty__gte=0), name="reportevent_qty_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["operation", "at"], name="reportevent_operation_idx")]
        permissions = [
            ("correct_reportevent", _("Can correct reports and downtime of every work centre")),
            ("correct_team_reportevent", _("Can correct reports and downtime of the teams one leads")),
        ]

    def __str__(self) -> str:
        return f"{self.at:%H:%M} {self.action} {self.operation_id}"


class DowntimeReason(models.TextChoices):
    MOULD_DAMAGED = "mould_damaged", _("Mould damaged")
    MATERIAL_SHORTAGE = "material_shortage", _("Material shortage")
    MACHINE_FAULT = "machine_fault", _("Machine fault")
    WAITING_INSPECTION = "waiting_inspection", _("Waiting for inspection")
    CHANGEOVER = "changeover", _("Changeover / setup")
    POWER = "power", _("Power or air supply")
    NO_OPERATOR = "no_operator", _("No operator")
    OTHER = "other", _("Other")


class Downtime(models.Model):
    """A stretch of time a work centre could not work, with why; open while `ended_at` is empty."""

    work_center = models.ForeignKey(
        WorkCenter, verbose_name=_("work centre"), on_delete=models.PROTECT, related_name="downtimes"
    )
    reason = models.CharField(_("reason"), max_length=32, choices=DowntimeReason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    photo = models.ImageField(_("photo"), upload_to="downtime/%Y/%m/", null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reported by"), on_delete=models.PROTECT, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    client_uuid = models.UUIDField(_("client id of the press"), unique=True)
    end_client_uuid = models.UUIDField(_("client id of the end press"), unique=True, null=True, blank=True)

    class Meta:
        verbose_name = _("downtime")
        verbose_name_plural = _("downtimes")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")), name="downtime_ends_after_start"
            ),
            # One open downtime per work centre: a second report while it is down is the same stop.
            models.UniqueConstraint(
                fields=["work_center"], condition=Q(ended_at__isnull=True), name="downtime_one_open_per_work_center"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_center_id} {self.reason} {self.started_at:%Y-%m-%d %H:%M}"


class ReportCorrection(models.Model):
    """A correction of the quantities one press reported, append-only: the press itself is never edited, and the
    operation's totals move by the differences recorded here."""

    event = models.ForeignKey(
        ReportEvent, verbose_name=_("report event"), on_delete=models.PROTECT, related_name="corrections"
    )
    good_delta = models.DecimalField(_("good change"), max_digits=14, decimal_places=3)
    scrap_delta = models.DecimalField(_("scrap change"), max_digits=14, decimal_places=3)
    rework_delta = models.DecimalField(_("rework change"), max_digits=14, decimal_places=3)
    reason = models.CharField(_("reason"), max_length=500)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report correction")
        verbose_name_plural = _("report corrections")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.good_delta:+} / {self.scrap_delta:+} / {self.rework_delta:+}"
