"""Query-string filters of the intake API (django-filter); codes, not ids, name related objects."""

import django_filters
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.api_filters import DateTimeFromToRangeFilter
from integrations.models import SkuMapping, SyncRun
from orders.models import OrderIssue, SalesOrder


def _open_issue(**conditions) -> Exists:
    return Exists(OrderIssue.objects.filter(order=OuterRef("pk"), resolved_at__isnull=True, **conditions))


class SalesOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SalesOrder.Status.choices, help_text=_("Only orders in this status."))
    channel_account = django_filters.CharFilter(
        field_name="channel_account__code", help_text=_("Code of the channel account (shop), e.g. TB1.")
    )
    issue = django_filters.ChoiceFilter(
        choices=OrderIssue.Code.choices,
        method="filter_issue",
        help_text=_("Only orders with an open issue of this code."),
    )
    has_open_issues = django_filters.BooleanFilter(
        method="filter_has_open_issues",
        help_text=_("true: only orders with at least one open issue; false: only orders without any."),
    )
    received_at = DateTimeFromToRangeFilter(
        help_text=_(
            "When Loopline received the order: received_at_after ≤ received_at ≤ received_at_before, "
            "ISO 8601 with a time zone, e.g. 2026-03-01T00:00:00+08:00; either end may be left out."
        )
    )

    class Meta:
        model = SalesOrder
        fields = ["status", "channel_account", "issue", "has_open_issues", "received_at"]

    def filter_issue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Exists, not a join on issues: an order with two such issues is still one row.
        return queryset.filter(_open_issue(code=value)) if value else queryset

    def filter_has_open_issues(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(_open_issue()) if value else queryset.exclude(_open_issue())


class SyncRunFilter(django_filters.FilterSet):
    channel_account = django_filters.CharFilter(
        field_name="account__code", help_text=_("Code of the channel account (shop) that was pulled, e.g. TB1.")
    )
    status = django_filters.ChoiceFilter(choices=SyncRun.Status.choices, help_text=_("Only runs that ended so."))
    kind = django_filters.ChoiceFilter(choices=SyncRun.Kind.choices, help_text=_("Only runs that pulled this."))
    trigger = django_filters.ChoiceFilter(choices=SyncRun.Trigger.choices, help_text=_("Only runs started so."))
    started_at = DateTimeFromToRangeFilter(
        help_text=_(
            "When the run started: started_at_after ≤ started_at ≤ started_at_before, ISO 8601 with a time zone, "
            "e.g. 2026-03-01T00:00:00+08:00; either end may be left out."
        )
    )

    class Meta:
        model = SyncRun
        fields = ["channel_account", "kind", "status", "trigger", "started_at"]


class SkuMappingFilter(django_filters.FilterSet):
    external_sku = django_filters.CharFilter(help_text=_("Only mappings of this marketplace SKU (exact match)."))
    item = django_filters.CharFilter(field_name="item__code", help_text=_("Material code of the mapped item."))
    channel_account = django_filters.CharFilter(
        field_name="channel_account__code", help_text=_("Code of the channel account (shop) the mapping is for.")
    )
    for_every_shop = django_filters.BooleanFilter(
        field_name="channel_account",
        lookup_expr="isnull",
        help_text=_("true: only mappings that apply to every shop; false: only mappings of one shop."),
    )

    class Meta:
        model = SkuMapping
        fields = ["external_sku", "item", "channel_account", "for_every_shop"]
