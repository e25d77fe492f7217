from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2, "default": Decimal("0")}


class SalesOrder(models.Model):
    """A customer's order as received from a sales channel, keyed by (channel account, external id)."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        NEEDS_REVIEW = "needs_review", _("Needs review")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")
        IN_PRODUCTION = "in_production", _("In production")
        SHIPPED = "shipped", _("Shipped")
        CANCELLED = "cancelled", _("Cancelled")

    # Orders in these states have left the review queue: a marketplace change must not overwrite them silently.
    SETTLED_STATUSES = (Status.CONFIRMED, Status.IN_PRODUCTION, Status.SHIPPED)

    number = models.CharField(_("order number"), max_length=40, unique=True)
    channel_account = models.ForeignKey(
        "integrations.ChannelAccount",
        verbose_name=_("channel account"),
        on_delete=models.PROTECT,
        related_name="orders",
    )
    external_id = models.CharField(_("marketplace order id"), max_length=64)
    external_number = models.CharField(_("marketplace order number"), max_length=64, blank=True)
    external_status = models.CharField(_("marketplace status"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    buyer = models.CharField(_("buyer"), max_length=200, blank=True)
    buyer_note = models.TextField(_("buyer note"), blank=True)
    seller_note = models.TextField(_("seller note"), blank=True)
    receiver_name = models.CharField(_("receiver"), max_length=200, blank=True)
    receiver_phone = models.CharField(_("receiver phone"), max_length=64, blank=True)
    receiver_country = models.CharField(_("country"), max_length=64, blank=True)
    receiver_province = models.CharField(_("province"), max_length=64, blank=True)
    receiver_city = models.CharField(_("city"), max_length=64, blank=True)
    receiver_district = models.CharField(_("district"), max_length=64, blank=True)
    receiver_address = models.CharField(_("street address"), max_length=500, blank=True)
    receiver_zip = models.CharField(_("postcode"), max_length=20, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    goods_amount = models.DecimalField(_("goods amount"), **MONEY)
    shipping_amount = models.DecimalField(_("shipping"), **MONEY)
    discount_amount = models.DecimalField(_("discount"), **MONEY)
    paid_amount = models.DecimalField(_("paid amount"), **MONEY)
    ordered_at = models.DateTimeField(_("ordered at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    external_updated_at = models.DateTimeField(_("changed on the marketplace at"), null=True, blank=True)
    promised_date = models.DateField(_("promised date"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    erp_number = models.CharField(_("ERP bill number"), max_length=64, blank=True)
    erp_state = models.CharField(_("ERP state"), max_length=32, blank=True)
    payload = models.JSONField(_("marketplace payload"), default=dict)
    payload_hash = models.CharField(_("payload hash"), max_length=64)

    class Meta:
        verbose_name = _("sales order")
        verbose_name_plural = _("sales orders")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel_account", "external_id"], name="salesorder_unique_external_id"),
            models.CheckConstraint(
                condition=Q(goods_amount__gte=0, shipping_amount__gte=0, discount_amount__gte=0, paid_amount__gte=0),
                name="salesorder_amounts_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="salesorder_queue_idx")]
        permissions = [
            ("review_salesorder", _("Can review orders: fix, approve and reject")),
            ("force_approve_salesorder", _("Can approve an order over its open issues")),
            ("release_salesorder", _("Can release confirmed orders to production")),
            ("view_pricing_salesorder", _("Can see prices and discounts of orders")),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def receiver_full_address(self) -> str:
        return "".join(
            part
            for part in (self.receiver_province, self.receiver_city, self.receiver_district, self.receiver_address)
            if part
        )


class OrderLine(models.Model):
    """One line of a sales order: the marketplace SKU and, once mapped, the internal item."""

    order = models.ForeignKey(SalesOrder, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField(_("line"))
    external_line_id = models.CharField(_("marketplace line id"), max_length=64, blank=True)
    external_sku = models.CharField(_("marketplace SKU"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    item = models.ForeignKey(
        "production.Item", verbose_name=_("item"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    qty = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    item_qty = models.DecimalField(
        _("item quantity"),
        max_digits=14,
        decimal_places=4,
        default=0,
        help_text=_("Quantity in the item's unit: the quantity sold times the items per unit of a bundle."),
    )
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_line_no")]

    def __str__(self) -> str:
        return f"{self.order_id}#{self.line_no} {self.external_sku} × {self.qty}"

    @property
    def amount(self) -> Decimal:
        return self.qty * self.unit_price - self.discount


class OrderIssue(models.Model):
    """Something wrong with an order that holds it in the review queue until fixed or overridden."""

    class Code(models.TextChoices):
        PAYLOAD_INVALID = "PAYLOAD_INVALID", _("Malformed order")
        FIELD_MISSING = "FIELD_MISSING", _("Required field missing")
        QTY_INVALID = "QTY_INVALID", _("Invalid quantity")
        PRICE_INVALID = "PRICE_INVALID", _("Invalid price")
        AMOUNT_MISMATCH = "AMOUNT_MISMATCH", _("Totals do not add up")
        ADDRESS_INCOMPLETE = "ADDRESS_INCOMPLETE", _("Receiver address incomplete")
        PHONE_INVALID = "PHONE_INVALID", _("Receiver phone invalid")
        BUYER_NOTE = "BUYER_NOTE", _("Buyer left a note")
        SKU_UNMAPPED = "SKU_UNMAPPED", _("SKU not mapped to an item")
        CHANGED_AFTER_CONFIRMATION = "CHANGED_AFTER_CONFIRMATION", _("Changed on the marketplace after confirmation")

    order = models.ForeignKey(SalesOrder, verbose_name=_("order"), on_delete=models.CASCADE, related_name="issues")
    code = models.CharField(_("issue"), max_length=32, choices=Code.choices, db_index=True)
    detail = models.TextField(_("detail"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution = models.CharField(_("resolution"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("order issue")
        verbose_name_plural = _("order issues")
        ordering = ["order", "created_at", "id"]
        indexes = [models.Index(fields=["resolved_at", "code"], name="orderissue_open_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.code}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ErpPush(models.Model):
    """The outbox entry that carries a confirmed order into the ERP; written in the confirmation's transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be pushed")
        DONE = "done", _("In the ERP")
        DEAD = "dead", _("Failed: needs IT")

    order = models.OneToOneField(SalesOrder, verbose_name=_("order"), on_delete=models.CASCADE, related_name="erp_push")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, db_index=True)
    last_error = models.TextField(_("last ERP error"), blank=True)
    last_error_code = models.CharField(_("error code"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("ERP push")
        verbose_name_plural = _("ERP pushes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="erppush_due_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"
