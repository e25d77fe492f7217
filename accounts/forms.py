from django import forms
from django.utils.translation import gettext_lazy as _


class BadgeLoginForm(forms.Form):
    badge_code = forms.CharField(
        label=_("Scan your badge"),
        max_length=64,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "inputmode": "none"}),
    )


class PinLoginForm(forms.Form):
    employee_number = forms.CharField(
        label=_("Employee number"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    pin = forms.CharField(
        label=_("PIN"),
        max_length=8,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=[("zh-hans", "简体中文"), ("en", "English")])
    next = forms.CharField(required=False)


class AuditFilterForm(forms.Form):
    """Narrow the audit trail by who, what, which object and a range of days (Asia/Shanghai)."""

    actor = forms.CharField(required=False, max_length=150, label=_("Who"))
    action = forms.CharField(required=False, max_length=64, label=_("Action"))
    object = forms.CharField(required=False, max_length=255, label=_("Object"))
    date_from = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> dict:
        """The filters typed in; an invalid value is ignored rather than failing the page."""
        self.is_valid()  # keeps the fields that are valid in cleaned_data
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) or None for name in self.fields}
