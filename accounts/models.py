import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role

BADGE_PREFIX = "LLB-"


def new_badge_code() -> str:
    """A badge code long enough that nobody guesses one: it logs an operator in on its own."""
    return BADGE_PREFIX + secrets.token_hex(8).upper()


class Team(models.Model):
    """A shift team on the floor (e.g. 冲压一班); its leader receives the team's alerts."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    """A person who uses Loopline: office staff log in by password, operators by badge or PIN."""

    class Language(models.TextChoices):
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    employee_number = models.CharField(_("employee number"), max_length=32, unique=True, null=True, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)
    dingtalk_user_id = models.CharField(_("DingTalk user id"), max_length=64, blank=True)
    wecom_user_id = models.CharField(_("WeCom user id"), max_length=64, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    badge_code = models.CharField(
        _("badge code"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Printed on the operator's badge; scanning it on a tablet logs the operator in."),
    )
    pin_hash = models.CharField(_("PIN (hashed)"), max_length=128, blank=True, editable=False)
    failed_pin_attempts = models.PositiveSmallIntegerField(_("failed PIN attempts"), default=0, editable=False)
    pin_locked_until = models.DateTimeField(_("PIN locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=~Q(employee_number=""), name="user_employee_number_not_blank"),
            models.CheckConstraint(condition=~Q(badge_code=""), name="user_badge_code_not_blank"),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    def get_full_name(self) -> str:
        # Chinese names are written family name first with no space.
        return f"{self.last_name}{self.first_name}".strip()

    def set_pin(self, raw_pin: str) -> None:
        self.pin_hash = make_password(raw_pin)

    def check_pin(self, raw_pin: str) -> bool:
        return bool(self.pin_hash) and check_password(raw_pin, self.pin_hash)

    @property
    def has_pin(self) -> bool:
        return bool(self.pin_hash)


API_KEY_PREFIX_LENGTH = 8


def api_key_digest(raw_key: str) -> str:
    """SHA-256 of a key: keys are 256-bit random, so a fast hash is enough and lets a lookup find the row."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A key another system (WMS, BI, MES) uses on the REST API; only its hash is stored, the key is shown once.

    Each key acts through its own service user, who holds the key's role, so permissions, object scoping and
    the audit trail work exactly as for a person.
    """

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("Which system uses the key."))
    role = models.CharField(
        _("role"), max_length=32, choices=Role.choices, help_text=_("The key acts with this role's permissions.")
    )
    prefix = models.CharField(
        _("prefix"),
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("The first characters of the key, to recognise it; the rest is never stored."),
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service user"),
        on_delete=models.PROTECT,
        related_name="api_key",
        editable=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys_created",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys_revoked",
        editable=False,
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]
        permissions = [("revoke_apikey", _("Can revoke API keys"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEvent(models.Model):
    """An append-only record of who changed what, from where, and when."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_label = models.CharField(
        _("actor label"),
        max_length=150,
        blank=True,
        help_text=_("Who acted, kept even if the user is deleted."),
    )
    verb = models.CharField(_("action"), max_length=64, db_index=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), null=True, blank=True, on_delete=models.SET_NULL
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    api_key = models.ForeignKey(
        ApiKey,
        verbose_name=_("API key"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        help_text=_("The API key the actor used, if the change came through the API with a key."),
    )
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-at"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.object_repr}"
