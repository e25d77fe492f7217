"""Forms of the alert pages: the inbox filters and one rule's settings (checked again by the service)."""

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team, User
from dashboards.models import Alert, AlertKind, AlertRule, ChannelKind

# What the threshold means for each kind, shown beside its input.
THRESHOLD_UNITS = {
    AlertKind.OPERATION_STALLED: _("hours without a report"),
    AlertKind.LOW_DAILY_COMPLETION: _("percent of today's plan"),
    AlertKind.ORDER_AT_RISK: _("days of margin before the promised date"),
    AlertKind.SYNC_FAILING: _("failed runs in a row"),
    AlertKind.ERP_PUSH_DEAD: _("dead ERP pushes"),
}


class AlertFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Open and acknowledged")), *Alert.State.choices]
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *AlertKind.choices])
    team = forms.ModelChoiceField(
        label=_("Team"), required=False, queryset=Team.objects.none(), empty_label=_("All teams")
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any):
        super().__init__(*args, **kwargs)
        teams = Team.objects.all()
        if not user.has_perm("dashboards.view_alert"):
            teams = teams.filter(Q(leader=user) | Q(pk=user.team_id or 0))
        self.fields["team"].queryset = teams.order_by("code")


class AlertRuleForm(forms.Form):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    threshold = forms.DecimalField(label=_("Threshold"), max_digits=8, decimal_places=2, min_value=0)
    check_hour = forms.IntegerField(label=_("Check at hour"), required=False, min_value=0, max_value=23)
    escalate_after_days = forms.IntegerField(
        label=_("Escalate after consecutive days"), required=False, min_value=1, max_value=30
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"), required=False, choices=ChannelKind.choices, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, rule: AlertRule, read_only: bool = False, **kwargs: Any):
        initial = {"enabled": rule.enabled, "threshold": rule.threshold, "check_hour": rule.check_hour,
                   "escalate_after_days": rule.escalate_after_days, "channels": rule.channels}  # fmt: skip
        super().__init__(*args, initial=initial, prefix=rule.kind, **kwargs)
        self.rule = rule
        self.unit = THRESHOLD_UNITS.get(rule.kind, "")
        if rule.kind != AlertKind.LOW_DAILY_COMPLETION:
            del self.fields["check_hour"]
            del self.fields["escalate_after_days"]
        else:
            self.fields["check_hour"].required = True
            self.fields["escalate_after_days"].required = True
        for field in self.fields.values():
            field.disabled = read_only

    def add_service_errors(self, exc: Exception) -> None:
        """Show the service's refusals beside their fields."""
        fields = getattr(exc, "extra", {}).get("fields", {})
        for name, message in fields.items():
            self.add_error(name if name in self.fields else None, message)
        if not fields:
            self.add_error(None, str(exc))
