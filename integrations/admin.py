from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.admin import AuditedAdmin
from integrations import services
from integrations.channels.base import ChannelError
from integrations.models import (
    ChannelAccount,
    ErpConnection,
    FieldMapping,
    Notification,
    NotifyChannel,
    SkuMapping,
    SyncRun,
)
from orders.models import ErpPush

CREDENTIAL_FIELDS = {
    ChannelAccount.Kind.TAOBAO: ["app_secret", "session"],
    ChannelAccount.Kind.JD: ["app_secret", "access_token"],
    ChannelAccount.Kind.SHOPIFY: ["access_token", "webhook_secret", "api_version"],
}


class ChannelAccountForm(forms.ModelForm):
    """Secrets are typed in, stored encrypted and never shown again; leaving them empty keeps the stored ones."""

    app_secret = forms.CharField(label=_("App Secret"), required=False, widget=forms.PasswordInput(render_value=False))
    session = forms.CharField(
        label=_("Session key / access token (Taobao)"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    access_token = forms.CharField(
        label=_("Access token (JD, Shopify)"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    webhook_secret = forms.CharField(
        label=_("Webhook secret (Shopify)"), required=False, widget=forms.PasswordInput(render_value=False)
    )
    api_version = forms.CharField(label=_("API version (Shopify)"), required=False, initial="2025-01")

    class Meta:
        model = ChannelAccount
        fields = [
            "kind",
            "name",
            "code",
            "base_url",
            "app_key",
            "poll_interval_minutes",
            "trigger_status",
            "backfill_from",
            "overlap_minutes",
            "page_size",
            "default_currency",
            "enabled",
        ]

    def new_credentials(self) -> dict[str, str] | None:
        wanted = CREDENTIAL_FIELDS.get(self.cleaned_data.get("kind"), [])
        typed = {name: self.cleaned_data.get(name, "") for name in wanted if self.cleaned_data.get(name)}
        if not typed:
            return None
        return {**(self.instance.get_credentials() if self.instance.pk else {}), **typed}


class FieldMappingInline(admin.TabularInline):
    model = FieldMapping
    extra = 0


@admin.register(ChannelAccount)
class ChannelAccountAdmin(AuditedAdmin):
    form = ChannelAccountForm
    list_display = [
        "name",
        "code",
        "kind",
        "enabled",
        "poll_interval_minutes",
        "cursor",
        "last_polled_at",
        "has_secret",
    ]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "code", "app_key"]
    readonly_fields = ["cursor", "last_polled_at"]
    inlines = [FieldMappingInline]
    actions = ["test_connection", "poll_now"]

    @admin.display(boolean=True, description=_("credentials stored"))
    def has_secret(self, obj: ChannelAccount) -> bool:
        return obj.has_credentials

    def save_model(self, request, obj, form, change):
        services.channel_account_save(account=obj, credentials=form.new_credentials(), by=request.user)

    @admin.action(description=_("Test connection (fetch one page)"))
    def test_connection(self, request, queryset):
        for account in queryset:
            run = services.channel_account_test(account=account, by=request.user)
            if run.status == SyncRun.Status.SUCCEEDED:
                self.message_user(request, _("%(shop)s: connection works.") % {"shop": account}, messages.SUCCESS)
            else:
                error = run.errors[0] if run.errors else {}
                self.message_user(
                    request,
                    _("%(shop)s: %(code)s %(message)s")
                    % {"shop": account, "code": error.get("code", ""), "message": error.get("message", "")},
                    messages.ERROR,
                )

    @admin.action(description=_("Poll now"))
    def poll_now(self, request, queryset):
        for account in queryset:
            try:
                services.channel_poll_request(account=account, by=request.user)
            except services.IntakeError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, _("Polls started; see the sync runs."), messages.INFO)


@admin.register(SyncRun)
class SyncRunAdmin(AuditedAdmin):
    list_display = ["started_at", "kind", "account", "erp_connection", "trigger", "status", "pages", "fetched",
                    "created", "updated", "unchanged", "anomalies", "http_calls", "retries"]  # fmt: skip
    list_filter = ["kind", "status", "trigger", "account"]
    date_hierarchy = "started_at"
    list_select_related = ["account", "erp_connection"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SkuMapping)
class SkuMappingAdmin(AuditedAdmin):
    list_display = ["external_sku", "item", "qty_per_unit", "channel_account", "created_by", "created_at"]
    list_filter = ["channel_account"]
    search_fields = ["external_sku", "item__code", "item__name"]
    autocomplete_fields = ["item"]
    list_select_related = ["item", "channel_account", "created_by"]


class NotifyChannelForm(forms.ModelForm):
    secret = forms.CharField(
        label=_("Robot secret (DingTalk, starts with SEC)"), required=False, widget=forms.PasswordInput()
    )
    access_key_id = forms.CharField(label=_("AccessKey ID (Aliyun SMS)"), required=False)
    access_key_secret = forms.CharField(
        label=_("AccessKey secret (Aliyun SMS)"), required=False, widget=forms.PasswordInput()
    )

    class Meta:
        model = NotifyChannel
        fields = ["name", "kind", "audience", "url", "recipients", "sms_sign_name", "sms_template_code",
                  "per_minute_limit", "enabled"]  # fmt: skip


@admin.register(NotifyChannel)
class NotifyChannelAdmin(AuditedAdmin):
    form = NotifyChannelForm
    list_display = ["name", "kind", "audience", "enabled", "per_minute_limit"]
    list_filter = ["kind", "audience", "enabled"]
    search_fields = ["name"]

    def save_model(self, request, obj, form, change):
        typed = {
            key: form.cleaned_data[key]
            for key in ("secret", "access_key_id", "access_key_secret")
            if form.cleaned_data.get(key)
        }
        if typed:
            obj.set_secrets({**(obj.get_secrets() if obj.secret_encrypted else {}), **typed})
        super().save_model(request, obj, form, change)


@admin.register(Notification)
class NotificationAdmin(AuditedAdmin):
    list_display = ["created_at", "channel", "subject", "status", "attempts", "sent_at", "next_attempt_at"]
    list_filter = ["status", "channel"]
    search_fields = ["subject", "body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ErpConnectionForm(forms.ModelForm):
    """Passwords and secrets are typed in, stored encrypted and never shown again."""

    password = forms.CharField(label=_("Password"), required=False, widget=forms.PasswordInput(render_value=False))
    app_id = forms.CharField(label=_("App ID"), required=False)
    app_secret = forms.CharField(label=_("App secret"), required=False, widget=forms.PasswordInput(render_value=False))

    class Meta:
        model = ErpConnection
        fields = ["name", "server_url", "acct_id", "username", "auth_mode", "lcid", "sale_org_number",
                  "currency_numbers", "tax_rate", "push_enabled", "pull_enabled", "pull_overlap_minutes",
                  "enabled"]  # fmt: skip


@admin.register(ErpConnection)
class ErpConnectionAdmin(AuditedAdmin):
    form = ErpConnectionForm
    list_display = ["name", "server_url", "acct_id", "username", "auth_mode", "push_enabled", "enabled"]
    actions = ["test_connection", "pull_master_data"]

    def save_model(self, request, obj, form, change):
        typed = {
            key: form.cleaned_data[key] for key in ("password", "app_id", "app_secret") if form.cleaned_data.get(key)
        }
        if typed:
            obj.set_credentials({**(obj.get_credentials() if obj.credentials_encrypted else {}), **typed})
        super().save_model(request, obj, form, change)
        from accounts.services import audit_record

        audit_record(
            actor=request.user,
            verb="erp_connection.update" if change else "erp_connection.create",
            obj=obj,
            changes={"server_url": obj.server_url, "credentials_changed": sorted(typed)},
        )

    @admin.action(description=_("Test connection (sign in)"))
    def test_connection(self, request, queryset):
        from integrations.erp.outbox import erp_client

        for connection in queryset:
            try:
                erp_client(connection).test_connection()
            except ChannelError as exc:
                self.message_user(request, f"{connection}: {exc.code} {exc.message}", messages.ERROR)
            else:
                self.message_user(request, _("%(name)s: signed in.") % {"name": connection}, messages.SUCCESS)

    @admin.action(description=_("Pull materials, stock and BOMs now"), permissions=["change"])
    def pull_master_data(self, request, queryset):

        from integrations.tasks import pull_erp_data

        transaction.on_commit(lambda: pull_erp_data.delay(None, SyncRun.Trigger.MANUAL.value))
        self.message_user(
            request, _("Pull queued; its runs appear on the sync health page when they end."), messages.INFO
        )


@admin.register(ErpPush)
class ErpPushAdmin(AuditedAdmin):
    """The ERP outbox: IT sees what failed with the ERP's own message, fixes the cause and retries."""

    list_display = ["order", "status", "attempts", "last_error_code", "last_error", "next_attempt_at", "pushed_at"]
    list_filter = ["status", "last_error_code"]
    search_fields = ["order__number", "last_error"]
    list_select_related = ["order"]
    readonly_fields = ["order", "status", "attempts", "next_attempt_at", "last_error", "last_error_code",
                       "created_at", "pushed_at"]  # fmt: skip
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Retry the push"), permissions=["change"])
    def retry(self, request, queryset):
        from integrations.erp.outbox import erp_push_retry

        for push in queryset:
            erp_push_retry(push=push, by=request.user)
        self.message_user(request, _("The pushes are queued again."), messages.SUCCESS)
