"""Query-string filters of the production API (django-filter); codes, not ids, name related objects."""

import django_filters
from django.utils.translation import gettext_lazy as _

from production.models import BomLine, Item, RoutingStep, StockLevel, WorkCenter


class ItemFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Item.Kind.choices, help_text=_("Only items of this kind."))
    category = django_filters.CharFilter(help_text=_("Only items of this category (exact match)."))
    active = django_filters.BooleanFilter(help_text=_("true: only active items; false: only retired ones."))

    class Meta:
        model = Item
        fields = ["kind", "category", "active"]


class BomLineFilter(django_filters.FilterSet):
    parent = django_filters.CharFilter(
        field_name="parent__code", help_text=_("Material code of the parent: the lines of that item's BOM.")
    )
    child = django_filters.CharFilter(
        field_name="child__code", help_text=_("Material code of the component: where that item is used.")
    )

    class Meta:
        model = BomLine
        fields = ["parent", "child"]


class StockLevelFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code", help_text=_("Code of the warehouse."))
    item = django_filters.CharFilter(field_name="item__code", help_text=_("Material code of the item."))

    class Meta:
        model = StockLevel
        fields = ["warehouse", "item"]


class WorkCenterFilter(django_filters.FilterSet):
    workshop = django_filters.CharFilter(field_name="workshop__code", help_text=_("Code of the workshop."))
    team = django_filters.CharFilter(field_name="team__code", help_text=_("Code of the team running it."))
    active = django_filters.BooleanFilter(help_text=_("true: only work centres in use; false: only retired ones."))

    class Meta:
        model = WorkCenter
        fields = ["workshop", "team", "active"]


class RoutingStepFilter(django_filters.FilterSet):
    item = django_filters.CharFilter(field_name="item__code", help_text=_("Material code of the routed item."))

    class Meta:
        model = RoutingStep
        fields = ["item"]
