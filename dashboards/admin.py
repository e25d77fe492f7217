from django.contrib import admin

from accounts.admin import AuditedAdmin
from dashboards.models import Alert, AlertRule, TeamAlertChannel
from dashboards.services import alert_rule_update


@admin.register(Alert)
class AlertAdmin(AuditedAdmin):
    """Alerts are read here; people acknowledge and resolve them in the inbox (/alerts/) or the API, audited."""

    list_display = ["kind", "subject_label", "state", "level", "escalation_level", "team", "first_seen_at",
                    "last_seen_at", "acknowledged_by", "resolved_by"]  # fmt: skip
    list_filter = ["state", "kind", "level", "team"]
    search_fields = ["subject_label", "message", "dedupe_key"]
    date_hierarchy = "first_seen_at"
    list_select_related = ["team", "acknowledged_by", "resolved_by"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """The rules; a change goes through the same checks and audit trail as the rules page."""

    list_display = ["kind", "enabled", "threshold", "check_hour", "escalate_after_days", "channels", "updated_at",
                    "updated_by"]  # fmt: skip
    fields = ["kind", "enabled", "threshold", "check_hour", "escalate_after_days", "channels"]
    readonly_fields = ["kind"]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.changed_data if name != "kind"}
        original = AlertRule.objects.get(pk=obj.pk)
        alert_rule_update(rule=original, by=request.user, **values)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TeamAlertChannel)
class TeamAlertChannelAdmin(AuditedAdmin):
    """Which notification channels belong to a team: its alerts go there (e.g. the leader's own SMS)."""

    list_display = ["team", "channel"]
    list_filter = ["team"]
    list_select_related = ["team", "channel"]
