"""Forms of the intake pages: queue and run filters, bulk review, SKU mapping, receiver correction, reasons."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations.models import ChannelAccount, SyncRun
from integrations.selectors import QueueFilters, RunFilters
from orders.models import OrderIssue, SalesOrder
from production.models import Item


class QueueFilterForm(forms.Form):
    """Narrow the review queue by shop, issue, waiting time, or a search over number, buyer, receiver and SKU."""

    AGES = [
        ("", _("Any age")),
        ("1h", _("Waiting > 1 h")),
        ("4h", _("Waiting > 4 h")),
        ("24h", _("Waiting > 24 h")),
        ("72h", _("Waiting > 3 days")),
    ]

    account = forms.ModelChoiceField(
        queryset=ChannelAccount.objects.order_by("name"),
        required=False,
        empty_label=_("All shops"),
        label=_("Shop"),
        widget=forms.Select(attrs={"aria-label": _("Shop")}),
    )
    code = forms.ChoiceField(
        choices=[("", _("All issues")), *OrderIssue.Code.choices],
        required=False,
        label=_("Issue"),
        widget=forms.Select(attrs={"aria-label": _("Issue")}),
    )
    age = forms.ChoiceField(
        choices=AGES, required=False, label=_("Age"), widget=forms.Select(attrs={"aria-label": _("Age")})
    )
    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.SearchInput(attrs={"placeholder": _("Order number, buyer, receiver or SKU")}),
    )

    def filters(self) -> QueueFilters:
        """The filters typed in; an invalid value is ignored rather than failing the page."""
        self.is_valid()  # keeps the fields that are valid in cleaned_data
        data = getattr(self, "cleaned_data", {})
        account = data.get("account")
        return QueueFilters(
            account_id=account.pk if account else None,
            code=data.get("code", ""),
            age=data.get("age", ""),
            q=data.get("q", ""),
        )


class BulkReviewForm(forms.Form):
    """Approve, reject or force-approve the ticked orders; reject and force-approve need a reason."""

    ACTIONS = [("approve", _("Approve")), ("reject", _("Reject")), ("force_approve", _("Force-approve"))]

    action = forms.ChoiceField(choices=ACTIONS)
    orders = forms.ModelMultipleChoiceField(
        queryset=SalesOrder.objects.none(),
        to_field_name="number",
        error_messages={"required": _("Tick at least one order.")},
    )
    reason = forms.CharField(required=False, max_length=300, label=_("Reason"))

    def __init__(self, *args, orders=None, **kwargs):
        super().__init__(*args, **kwargs)
        if orders is not None:
            self.fields["orders"].queryset = orders

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") in ("reject", "force_approve") and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Give a reason for rejecting or force-approving."))
        return cleaned


class SkuMappingForm(forms.Form):
    """Map an unmapped marketplace SKU to an item, for this shop or for every shop."""

    SCOPES = [("shop", _("This shop only")), ("all", _("All shops"))]

    external_sku = forms.CharField(max_length=128, widget=forms.HiddenInput)
    item = forms.ModelChoiceField(
        queryset=Item.objects.filter(active=True),
        to_field_name="code",
        label=_("Item"),
        error_messages={"required": _("Choose an item."), "invalid_choice": _("No active item has this code.")},
    )
    scope = forms.ChoiceField(choices=SCOPES, initial="shop", widget=forms.RadioSelect, label=_("Applies to"))
    qty_per_unit = forms.DecimalField(
        max_digits=10,
        decimal_places=3,
        min_value=Decimal("0.001"),
        initial=Decimal(1),
        label=_("Items per unit sold"),
        help_text=_("For bundles: how many items one marketplace unit contains."),
    )


class ReceiverForm(forms.Form):
    """The receiver's name, phone and address as customer service corrects them."""

    receiver_name = forms.CharField(max_length=200, required=False, label=_("Receiver"))
    receiver_phone = forms.CharField(max_length=64, required=False, label=_("Phone"), widget=forms.TelInput)
    receiver_province = forms.CharField(max_length=64, required=False, label=_("Province"))
    receiver_city = forms.CharField(max_length=64, required=False, label=_("City"))
    receiver_district = forms.CharField(max_length=64, required=False, label=_("District"))
    receiver_address = forms.CharField(max_length=500, required=False, label=_("Street address"))
    receiver_zip = forms.CharField(max_length=20, required=False, label=_("Postcode"))

    @classmethod
    def for_order(cls, order: SalesOrder) -> "ReceiverForm":
        """The form filled with the order's current receiver."""
        return cls(initial={name: getattr(order, name) for name in cls.base_fields})


class ReasonForm(forms.Form):
    """A reason, required for rejecting an order or approving it over its issues."""

    reason = forms.CharField(
        max_length=300,
        label=_("Reason"),
        error_messages={"required": _("Give a reason.")},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class RunFilterForm(forms.Form):
    """Narrow the sync run log by shop, status and a range of days (Asia/Shanghai)."""

    account = forms.ModelChoiceField(
        queryset=ChannelAccount.objects.order_by("name"),
        required=False,
        empty_label=_("All shops"),
        label=_("Shop"),
        widget=forms.Select(attrs={"aria-label": _("Shop")}),
    )
    status = forms.ChoiceField(
        choices=[("", _("Any status")), *SyncRun.Status.choices],
        required=False,
        label=_("Status"),
        widget=forms.Select(attrs={"aria-label": _("Status")}),
    )
    kind = forms.ChoiceField(
        choices=[("", _("Any data")), *SyncRun.Kind.choices],
        required=False,
        label=_("Data pulled"),
        widget=forms.Select(attrs={"aria-label": _("Data pulled")}),
    )
    date_from = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> RunFilters:
        """The filters typed in; an invalid value is ignored rather than failing the page."""
        self.is_valid()  # keeps the fields that are valid in cleaned_data
        data = getattr(self, "cleaned_data", {})
        account = data.get("account")
        return RunFilters(
            account_id=account.pk if account else None,
            status=data.get("status", ""),
            kind=data.get("kind", ""),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class OrderExportForm(forms.Form):
    """Which orders go into the Excel export: status and a range of reception days (Asia/Shanghai)."""

    status = forms.ChoiceField(
        choices=[("", _("Any status")), *SalesOrder.Status.choices],
        required=False,
        label=_("Status"),
        widget=forms.Select(attrs={"aria-label": _("Status")}),
    )
    date_from = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> dict:
        """The filters typed in; an invalid value is ignored rather than failing the export."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"status": data.get("status", ""), "date_from": data.get("date_from"), "date_to": data.get("date_to")}


class AcknowledgeForm(forms.Form):
    """Which of the order's issues the reviewer has read."""

    issue = forms.IntegerField(widget=forms.HiddenInput)


class ResolveChangeForm(forms.Form):
    """How a change made on the marketplace after confirmation was handled."""

    issue = forms.IntegerField(widget=forms.HiddenInput)
    resolution = forms.CharField(
        label=_("How was it handled?"),
        max_length=300,
        min_length=4,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. cancelled in the ERP and stopped production")}),
    )
