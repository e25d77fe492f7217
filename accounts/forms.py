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
