from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from integrations.crypto import decrypt_json, encrypt_json


class ChannelAccount(models.Model):
    """A shop on a marketplace that Loopline polls for paid orders; its secrets are encrypted at rest."""

    class Kind(models.TextChoices):
        TAOBAO = "taobao", _("Taobao / Tmall")
        JD = "jd", _("JD")
        SHOPIFY = "shopify", _("Shopify")

    # The marketplace status meaning "paid, waiting for us to ship": what the intake pulls by default.
    DEFAULT_TRIGGER_STATUS = {
        Kind.TAOBAO: "WAIT_SELLER_SEND_GOODS",
        Kind.JD: "WAIT_SELLER_STOCK_OUT",
        Kind.SHOPIFY: "paid",
    }

    kind = models.CharField(_("marketplace"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("shop name"), max_length=100, unique=True)
    code = models.CharField(
        _("code"), max_length=16, unique=True, help_text=_("Short prefix of this shop's order numbers, e.g. TB1.")
    )
    base_url = models.URLField(_("API base URL"), max_length=300)
    app_key = models.CharField(_("App Key / shop domain"), max_length=128, blank=True)
    credentials_encrypted = models.TextField(_("credentials (encrypted)"), blank=True, editable=False)
    poll_interval_minutes = models.PositiveIntegerField(_("poll every (minutes)"), default=15)
    trigger_status = models.CharField(
        _("trigger status"),
        max_length=64,
        blank=True,
        help_text=_("Marketplace status of the orders to pull; empty means the marketplace's paid/awaiting shipment."),
    )
    backfill_from = models.DateTimeField(
        _("first sync from"), null=True, blank=True, help_text=_("Where the first poll starts; default: 1 day ago.")
    )
    cursor = models.DateTimeField(_("synced up to"), null=True, blank=True, editable=False)
    overlap_minutes = models.PositiveIntegerField(
        _("overlap (minutes)"), default=10, help_text=_("Each poll re-reads this much before the cursor.")
    )
    page_size = models.PositiveIntegerField(_("page size"), default=100)
    default_currency = models.CharField(_("currency"), max_length=3, default="CNY")
    erp_customer_number = models.CharField(
        _("ERP customer code"),
        max_length=64,
        blank=True,
        help_text=_("The customer the ERP bills this shop's orders to (e.g. the shop's walk-in customer)."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("channel account")
        verbose_name_plural = _("channel accounts")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(poll_interval_minutes__gte=1), name="channel_poll_interval_positive"),
            models.CheckConstraint(condition=Q(page_size__gte=1, page_size__lte=250), name="channel_page_size_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_trigger_status(self) -> str:
        return self.trigger_status or self.DEFAULT_TRIGGER_STATUS[self.kind]

    def get_credentials(self) -> dict[str, str]:
        return decrypt_json(self.credentials_encrypted) if self.credentials_encrypted else {}

    def set_credentials(self, credentials: dict[str, str]) -> None:
        self.credentials_encrypted = encrypt_json(credentials)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def is_due(self, now) -> bool:
        return self.last_polled_at is None or now - self.last_polled_at >= timedelta(minutes=self.poll_interval_minutes)


class SyncRun(models.Model):
    """One pull from a channel (or the ERP): its window, timings, counts and errors, kept for audit."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Manual")
        WEBHOOK = "webhook", _("Webhook")
        TEST = "test", _("Connection test")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partly failed")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped: another poll was running")

    class Kind(models.TextChoices):
        """What was pulled: a channel's orders, or one kind of the ERP's data."""

        ORDERS = "orders", _("Marketplace orders")
        ERP_MATERIALS = "erp_materials", _("ERP materials")
        ERP_STOCK = "erp_stock", _("ERP stock")
        ERP_BOMS = "erp_boms", _("ERP BOMs")
        ERP_OUTBOUND = "erp_outbound", _("ERP sales outbound")
        ERP_PRODUCTION_ORDERS = "erp_prd_mo", _("ERP production orders")

    kind = models.CharField(_("data pulled"), max_length=16, choices=Kind.choices, default=Kind.ORDERS)
    account = models.ForeignKey(
        ChannelAccount,
        verbose_name=_("channel account"),
        on_delete=models.CASCADE,
        related_name="sync_runs",
        null=True,
        blank=True,
    )
    erp_connection = models.ForeignKey(
        "integrations.ErpConnection",
        verbose_name=_("ERP connection"),
        on_delete=models.CASCADE,
        related_name="sync_runs",
        null=True,
        blank=True,
    )
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    http_calls = models.PositiveIntegerField(_("HTTP calls"), default=0)
    retries = models.PositiveIntegerField(_("retries"), default=0)
    fetched = models.PositiveIntegerField(_("fetched"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    anomalies = models.PositiveIntegerField(_("orders with new issues"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-started_at"], name="syncrun_account_idx"),
            models.Index(fields=["erp_connection", "kind", "-started_at"], name="syncrun_erp_idx"),
        ]
        constraints = [
            # A run pulls orders from one shop, or one kind of data from the ERP: never both, never neither.
            models.CheckConstraint(
                condition=(
                    Q(kind="orders", account__isnull=False, erp_connection__isnull=True)
                    | (~Q(kind="orders") & Q(account__isnull=True, erp_connection__isnull=False))
                ),
                name="syncrun_one_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def source_name(self) -> str:
        """The shop or the ERP connection pulled (its related object must be loaded: select_related)."""
        return str(self.account if self.account_id else self.erp_connection)

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SkuMapping(models.Model):
    """Which internal item a marketplace SKU means; an account-less mapping applies to every shop."""

    channel_account = models.ForeignKey(
        ChannelAccount,
        verbose_name=_("channel account"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sku_mappings",
        help_text=_("Empty: the mapping applies to every shop."),
    )
    external_sku = models.CharField(_("marketplace SKU"), max_length=128)
    item = models.ForeignKey(
        "production.Item", verbose_name=_("item"), on_delete=models.PROTECT, related_name="sku_mappings"
    )
    qty_per_unit = models.DecimalField(
        _("items per unit sold"),
        max_digits=10,
        decimal_places=3,
        default=1,
        help_text=_("For bundles: how many items one marketplace unit contains."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("SKU mapping")
        verbose_name_plural = _("SKU mappings")
        ordering = ["external_sku"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_account", "external_sku"],
                condition=Q(channel_account__isnull=False),
                name="skumapping_unique_per_account",
            ),
            models.UniqueConstraint(
                fields=["external_sku"], condition=Q(channel_account__isnull=True), name="skumapping_unique_global"
            ),
            models.CheckConstraint(condition=Q(qty_per_unit__gt=0), name="skumapping_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.external_sku} → {self.item_id}"


class FieldMapping(models.Model):
    """Copy a value from a shop's raw payload into an order field (e.g. a custom attribute into the seller note)."""

    class Target(models.TextChoices):
        BUYER_NOTE = "buyer_note", _("buyer note")
        SELLER_NOTE = "seller_note", _("seller note")
        PROMISED_DATE = "promised_date", _("promised date")
        RECEIVER_NAME = "receiver_name", _("receiver")
        RECEIVER_PHONE = "receiver_phone", _("receiver phone")
        RECEIVER_ADDRESS = "receiver_address", _("street address")

    channel_account = models.ForeignKey(
        ChannelAccount, verbose_name=_("channel account"), on_delete=models.CASCADE, related_name="field_mappings"
    )
    source_path = models.CharField(
        _("source path"),
        max_length=200,
        help_text=_("Dotted path in the marketplace payload, e.g. note_attributes.delivery_date or seller_memo."),
    )
    target = models.CharField(_("order field"), max_length=32, choices=Target.choices)

    class Meta:
        verbose_name = _("field mapping")
        verbose_name_plural = _("field mappings")
        constraints = [
            models.UniqueConstraint(fields=["channel_account", "target"], name="fieldmapping_one_per_target")
        ]

    def __str__(self) -> str:
        return f"{self.source_path} → {self.target}"


class NotifyChannel(models.Model):
    """Where notifications for one audience go: a DingTalk or WeCom group robot, SMS numbers, or e-mail."""

    class Kind(models.TextChoices):
        DINGTALK = "dingtalk", _("DingTalk group robot")
        WECOM = "wecom", _("WeCom group robot")
        SMS = "sms", _("SMS (Aliyun)")
        EMAIL = "email", _("E-mail")

    class Audience(models.TextChoices):
        CUSTOMER_SERVICE = "customer_service", _("Customer service")
        PRODUCTION = "production", _("Production")
        IT = "it", _("IT")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    audience = models.CharField(_("audience"), max_length=32, choices=Audience.choices, db_index=True)
    url = models.URLField(_("webhook or API URL"), max_length=500, blank=True)
    secret_encrypted = models.TextField(_("secret (encrypted)"), blank=True, editable=False)
    recipients = models.TextField(
        _("recipients"), blank=True, help_text=_("Phone numbers or e-mail addresses, comma-separated.")
    )
    sms_sign_name = models.CharField(_("SMS signature"), max_length=64, blank=True)
    sms_template_code = models.CharField(_("SMS template code"), max_length=64, blank=True)
    per_minute_limit = models.PositiveIntegerField(_("messages per minute"), default=20)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["audience", "name"]

    def __str__(self) -> str:
        return self.name

    def get_secrets(self) -> dict[str, str]:
        return decrypt_json(self.secret_encrypted) if self.secret_encrypted else {}

    def set_secrets(self, secrets: dict[str, str]) -> None:
        self.secret_encrypted = encrypt_json(secrets)

    @property
    def recipient_list(self) -> list[str]:
        return [part.strip() for part in self.recipients.replace("，", ",").split(",") if part.strip()]


class Notification(models.Model):
    """One message to send through a channel; kept until delivered so a throttled robot is retried, not dropped."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey(
        NotifyChannel, verbose_name=_("channel"), on_delete=models.CASCADE, related_name="notifications"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    mention = models.JSONField(_("mention"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {self.subject}"


class ErpConnection(models.Model):
    """The ERP (Kingdee K/3 Cloud) Loopline pushes orders to and pulls master data from; one is active."""

    class AuthMode(models.TextChoices):
        PASSWORD = "password", _("User name and password")
        APP_SECRET = "app_secret", _("App ID and secret")

    name = models.CharField(_("name"), max_length=100, unique=True)
    server_url = models.URLField(_("server URL"), max_length=300, help_text=_("Ends in /K3Cloud/"))
    acct_id = models.CharField(_("account set (acctID)"), max_length=64)
    username = models.CharField(_("user name"), max_length=64)
    auth_mode = models.CharField(_("sign-in"), max_length=16, choices=AuthMode.choices, default=AuthMode.PASSWORD)
    lcid = models.PositiveIntegerField(_("language (LCID)"), default=2052)
    credentials_encrypted = models.TextField(_("credentials (encrypted)"), blank=True, editable=False)
    sale_org_number = models.CharField(_("sales organisation code"), max_length=32, default="100")
    currency_numbers = models.JSONField(
        _("currency codes"),
        default=dict,
        blank=True,
        help_text=_('ERP currency code per currency, e.g. {"CNY": "PRE001", "USD": "PRE007"}.'),
    )
    tax_rate = models.DecimalField(_("tax rate %"), max_digits=5, decimal_places=2, default=13)
    push_enabled = models.BooleanField(_("push confirmed orders"), default=True)
    pull_enabled = models.BooleanField(
        _("pull master data"), default=True, help_text=_("Materials, stock, BOMs and sales outbound on a schedule.")
    )
    pull_overlap_minutes = models.PositiveIntegerField(
        _("pull overlap (minutes)"),
        default=10,
        help_text=_("Each pull re-reads this much before the last modification date it saw."),
    )
    # Per kind of data, the latest ERP modification date written (ISO 8601, GMT+8 as K/3 stores it).
    pull_cursors = models.JSONField(_("pulled up to"), default=dict, blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("ERP connection")
        verbose_name_plural = _("ERP connections")

    def __str__(self) -> str:
        return self.name

    def get_credentials(self) -> dict[str, str]:
        return decrypt_json(self.credentials_encrypted) if self.credentials_encrypted else {}

    def set_credentials(self, credentials: dict[str, str]) -> None:
        self.credentials_encrypted = encrypt_json(credentials)


class ErpOutboundLine(models.Model):
    """One line of an audited sales outbound bill (SAL_OUTSTOCK) in the ERP: what the ERP says was shipped."""

    erp_connection = models.ForeignKey(
        ErpConnection, verbose_name=_("ERP connection"), on_delete=models.CASCADE, related_name="outbound_lines"
    )
    entry_id = models.CharField(_("ERP entry id"), max_length=64)
    bill_number = models.CharField(_("outbound bill"), max_length=64)
    bill_date = models.DateField(_("outbound date"), db_index=True)
    customer_number = models.CharField(_("ERP customer code"), max_length=64, blank=True)
    sale_order_number = models.CharField(_("ERP sales order"), max_length=64, blank=True)
    item = models.ForeignKey(
        "production.Item", verbose_name=_("item"), on_delete=models.PROTECT, related_name="erp_outbound_lines"
    )
    qty = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    warehouse_code = models.CharField(_("ERP warehouse code"), max_length=64, blank=True)
    modified_at = models.DateTimeField(_("modified in the ERP"), null=True, blank=True)
    pulled_at = models.DateTimeField(_("pulled at"), auto_now=True)

    class Meta:
        verbose_name = _("ERP outbound line")
        verbose_name_plural = _("ERP outbound lines")
        ordering = ["-bill_date", "bill_number", "entry_id"]
        constraints = [
            models.UniqueConstraint(fields=["erp_connection", "entry_id"], name="erpoutbound_unique_entry"),
        ]
        indexes = [models.Index(fields=["bill_date", "item"], name="erpoutbound_day_item_idx")]

    def __str__(self) -> str:
        return f"{self.bill_number} {self.item_id} × {self.qty}"


class WmsShipmentLine(models.Model):
    """One shipped line reported by the WMS (API or upload); the WMS's line id makes a repeat harmless."""

    class Source(models.TextChoices):
        API = "api", _("API")
        UPLOAD = "upload", _("Upload")

    line_id = models.CharField(_("WMS shipment line id"), max_length=64, unique=True)
    shipped_at = models.DateTimeField(_("shipped at"))
    ship_date = models.DateField(_("ship date"), db_index=True, help_text=_("The day of shipped_at in Asia/Shanghai."))
    item = models.ForeignKey(
        "production.Item", verbose_name=_("item"), on_delete=models.PROTECT, related_name="wms_shipment_lines"
    )
    qty = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    warehouse_code = models.CharField(_("warehouse"), max_length=64, blank=True)
    order_number = models.CharField(_("order number"), max_length=64, blank=True)
    customer = models.CharField(_("customer"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("WMS shipment line")
        verbose_name_plural = _("WMS shipment lines")
        ordering = ["-shipped_at", "line_id"]
        constraints = [models.CheckConstraint(condition=Q(qty__gte=0), name="wmsshipment_qty_not_negative")]
        indexes = [models.Index(fields=["ship_date", "item"], name="wmsshipment_day_item_idx")]

    def __str__(self) -> str:
        return f"{self.line_id} {self.item_id} × {self.qty}"
