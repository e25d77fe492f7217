from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import AuditedAdmin
from production.errors import BomCycleError
from production.models import (
    BomLine,
    Item,
    Operation,
    OperationAlias,
    RoutingStep,
    StockLevel,
    Warehouse,
    WorkCenter,
    Workshop,
)
from production.selectors import normalise_operation_name
from production.services import check_bom_line_allowed


class BomLineForm(forms.ModelForm):
    class Meta:
        model = BomLine
        fields = ["parent", "sequence", "child", "qty_per", "scrap_pct"]

    def clean(self):
        cleaned = super().clean()
        parent, child = cleaned.get("parent") or getattr(self.instance, "parent", None), cleaned.get("child")
        if parent is not None and child is not None and parent.pk:
            try:
                check_bom_line_allowed(parent=parent, child=child)
            except BomCycleError as exc:
                raise forms.ValidationError(exc.message) from exc
        return cleaned


class BomLineInline(admin.TabularInline):
    model = BomLine
    form = BomLineForm
    fk_name = "parent"
    extra = 0
    autocomplete_fields = ["child"]
    verbose_name = _("component")
    verbose_name_plural = _("BOM components")


class RoutingStepInline(admin.TabularInline):
    model = RoutingStep
    extra = 0
    autocomplete_fields = ["operation", "work_center"]


@admin.register(Item)
class ItemAdmin(AuditedAdmin):
    list_display = ["code", "name", "specification", "category", "kind", "unit", "active"]
    list_filter = ["kind", "category", "active"]
    search_fields = ["code", "name", "specification"]
    inlines = [BomLineInline, RoutingStepInline]


@admin.register(BomLine)
class BomLineAdmin(AuditedAdmin):
    form = BomLineForm
    list_display = ["parent", "sequence", "child", "qty_per", "scrap_pct"]
    list_filter = ["parent__kind", "child__kind"]
    search_fields = ["parent__code", "parent__name", "child__code", "child__name"]
    autocomplete_fields = ["parent", "child"]
    list_select_related = ["parent", "child"]


@admin.register(Warehouse)
class WarehouseAdmin(AuditedAdmin):
    list_display = ["code", "name", "erp_code", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name", "erp_code"]


@admin.register(StockLevel)
class StockLevelAdmin(AuditedAdmin):
    list_display = ["warehouse", "item", "qty_on_hand", "updated_at"]
    list_filter = ["warehouse", "item__kind"]
    search_fields = ["item__code", "item__name", "warehouse__code"]
    autocomplete_fields = ["item"]
    list_select_related = ["warehouse", "item"]


@admin.register(Workshop)
class WorkshopAdmin(AuditedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(WorkCenter)
class WorkCenterAdmin(AuditedAdmin):
    list_display = ["code", "name", "workshop", "team", "erp_code", "capacity_hours_per_day", "active"]
    list_filter = ["workshop", "team", "active"]
    search_fields = ["code", "name", "erp_code"]
    list_select_related = ["workshop", "team"]


class OperationAliasForm(forms.ModelForm):
    class Meta:
        model = OperationAlias
        fields = ["alias"]

    def clean_alias(self):
        return normalise_operation_name(self.cleaned_data["alias"])


class OperationAliasInline(admin.TabularInline):
    model = OperationAlias
    form = OperationAliasForm
    extra = 1


@admin.register(Operation)
class OperationAdmin(AuditedAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name", "aliases__alias"]
    inlines = [OperationAliasInline]


@admin.register(RoutingStep)
class RoutingStepAdmin(AuditedAdmin):
    list_display = ["item", "sequence", "operation", "work_center", "std_minutes_per_unit", "setup_minutes"]
    list_filter = ["work_center__workshop", "work_center", "operation"]
    search_fields = ["item__code", "item__name", "operation__name"]
    autocomplete_fields = ["item", "operation", "work_center"]
    list_select_related = ["item", "operation", "work_center"]
