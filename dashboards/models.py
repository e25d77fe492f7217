"""Alerts: the rules production managers tune, and the alerts the rules raise (one unresolved per subject)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    OPERATION_STALLED = "operation_stalled", _("Operation stalled")
    LOW_DAILY_COMPLETION = "low_daily_completion", _("Daily completion low")
    ORDER_AT_RISK = "order_at_risk", _("Order at risk of missing its promised date")
    SYNC_FAILING = "sync_failing", _("Sync failing")
    ERP_PUSH_DEAD = "erp_push_dead", _("ERP pushes failed")


class ChannelKind(models.TextChoices):
    # The same values as integrations.NotifyChannel.Kind, kept here so a rule can name them without a query.
    SMS = "sms", _("SMS (Aliyun)")
    DINGTALK = "dingtalk", _("DingTalk group robot")
    WECOM = "wecom", _("WeCom group robot")
    EMAIL = "email", _("E-mail")


def default_channels() -> list[str]:
    """SMS + DingTalk, as the team leaders asked for."""
    return [ChannelKind.SMS.value, ChannelKind.DINGTALK.value]


class AlertRule(models.Model):
    """One rule per kind of alert, with the thresholds the production manager may change.

    `threshold` is read in the unit of the kind: hours without a report (stall), a percentage (daily completion),
    days of margin before the promised date (order at risk), failed runs in a row (sync), dead ERP pushes.
    """

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    threshold = models.DecimalField(_("threshold"), max_digits=8, decimal_places=2)
    check_hour = models.PositiveSmallIntegerField(
        _("check at hour"),
        null=True,
        blank=True,
        help_text=_("Daily completion only: the hour of the day (0-23) the day's completion is judged."),
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        _("escalate after consecutive days"),
        null=True,
        blank=True,
        help_text=_(
            "Daily completion only: after this many working days in a row below the threshold the "
            "production manager is alerted too."
        ),
    )
    channels = models.JSONField(_("channels"), default=default_channels, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gt=0), name="alertrule_threshold_positive"),
            models.CheckConstraint(
                condition=Q(check_hour__isnull=True) | Q(check_hour__lte=23), name="alertrule_check_hour_in_day"
            ),
            models.CheckConstraint(
                condition=Q(escalate_after_days__isnull=True) | Q(escalate_after_days__gte=1),
                name="alertrule_escalate_after_positive",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_kind_display())


# The rules as shipped; a data migration creates them and `alert_rules.rules_by_kind` falls back to them.
RULE_DEFAULTS: dict[str, dict] = {
    AlertKind.OPERATION_STALLED: {"threshold": Decimal("2")},
    AlertKind.LOW_DAILY_COMPLETION: {"threshold": Decimal("60"), "check_hour": 17, "escalate_after_days": 2},
    AlertKind.ORDER_AT_RISK: {"threshold": Decimal("1")},
    AlertKind.SYNC_FAILING: {"threshold": Decimal("3"), "channels": ["dingtalk", "email"]},
    AlertKind.ERP_PUSH_DEAD: {"threshold": Decimal("1"), "channels": ["dingtalk", "email"]},
}


class Alert(models.Model):
    """Something on the floor or in the integrations that needs a person; one unresolved alert per dedupe key."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    class Level(models.TextChoices):
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    class SubjectType(models.TextChoices):
        OPERATION = "operation", _("Operation")
        TEAM = "team", _("Team")
        WORKSHOP = "workshop", _("Workshop")
        SALES_ORDER = "sales_order", _("Sales order")
        CHANNEL_ACCOUNT = "channel_account", _("Shop")
        ERP_OUTBOX = "erp_outbox", _("ERP outbox")
        ERP_SYNC = "erp_sync", _("ERP pull")

    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices, db_index=True)
    subject_type = models.CharField(_("subject type"), max_length=32, choices=SubjectType.choices)
    subject_id = models.CharField(_("subject id"), max_length=64)
    subject_label = models.CharField(_("subject"), max_length=200)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.WARNING)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN, db_index=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), default=0, help_text=_("0: the team leader (or IT); 1: the production manager too.")
    )
    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    workshop = models.ForeignKey(
        "production.Workshop",
        verbose_name=_("workshop"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message = models.TextField(_("message"))
    data = models.JSONField(_("figures"), default=dict, blank=True)
    breach_days = models.PositiveSmallIntegerField(
        _("days below threshold"), default=0, help_text=_("Daily completion: working days in a row below.")
    )
    last_breach_date = models.DateField(_("last day below threshold"), null=True, blank=True)
    first_seen_at = models.DateTimeField(_("first seen at"))
    last_seen_at = models.DateTimeField(_("last seen at"))
    notified_level = models.SmallIntegerField(
        _("notified up to level"), default=-1, help_text=_("The escalation level already sent; -1: none yet.")
    )
    notifications_sent = models.PositiveIntegerField(_("notifications queued"), default=0)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty when the alert resolved itself because the condition cleared."),
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # A re-evaluation finds the unresolved alert and updates it: never a second one, never a second message.
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=~Q(state="resolved"), name="alert_one_unresolved_per_key"
            ),
            models.CheckConstraint(
                condition=Q(state="resolved", resolved_at__isnull=False) | ~Q(state="resolved"),
                name="alert_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["state", "kind"], name="alert_state_kind_idx")]
        permissions = [
            ("acknowledge_alert", _("Can acknowledge and resolve alerts it may see")),
            ("view_team_alerts", _("Can see the alerts of the team one leads or belongs to")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject_label}"


class TeamAlertChannel(models.Model):
    """A notification channel of one team (e.g. the team leader's SMS, the team's DingTalk group): that team's
    alerts go there instead of the production channels every team shares."""

    team = models.ForeignKey(
        "accounts.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="alert_channels"
    )
    channel = models.ForeignKey(
        "integrations.NotifyChannel",
        verbose_name=_("notification channel"),
        on_delete=models.CASCADE,
        related_name="team_bindings",
    )

    class Meta:
        verbose_name = _("team alert channel")
        verbose_name_plural = _("team alert channels")
        ordering = ["team", "channel"]
        constraints = [models.UniqueConstraint(fields=["team", "channel"], name="teamalertchannel_unique")]

    def __str__(self) -> str:
        return f"{self.team} → {self.channel}"
