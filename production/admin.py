from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.utils.translation import gettext_lazy as _

from accounts.admin import AuditedAdmin
from accounts.models import User
from production.errors import BomCycleError
from production.floor import FloorError, check_photo
from production.models import (
    BomLine,
    Downtime,
    Item,
    Operation,
    OperationAlias,
    ReportEvent,
    RoutingStep,
    StockLevel,
    Warehouse,
    WorkCenter,
    WorkOrder,
    WorkOrderOperation,
    Workshop,
)
from production.selectors import normalise_operation_name
from production.services import check_bom_line_allowed
from production.stock import keeper_candidates, keepers_of, warehouse_set_keepers


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


class WarehouseForm(forms.ModelForm):
    keepers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        label=_("Keepers"),
        help_text=_("Warehouse keepers who see and change this warehouse's stock, and no other warehouse's."),
        widget=FilteredSelectMultiple(_("keepers"), is_stacked=False),
    )

    class Meta:
        model = Warehouse
        fields = ["code", "name", "address", "erp_code", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keepers"].queryset = keeper_candidates().order_by("username")
        if self.instance.pk:
            self.fields["keepers"].initial = keepers_of(self.instance)


@admin.register(Warehouse)
class WarehouseAdmin(AuditedAdmin):
    form = WarehouseForm
    list_display = ["code", "name", "erp_code", "active", "keeper_names"]
    list_filter = ["active"]
    search_fields = ["code", "name", "erp_code"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        warehouse_set_keepers(warehouse=obj, keepers=form.cleaned_data.get("keepers") or [], by=request.user)

    @admin.display(description=_("Keepers"))
    def keeper_names(self, warehouse: Warehouse) -> str:
        return ", ".join(user.get_full_name() or user.username for user in keepers_of(warehouse))


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


class WorkOrderOperationInline(admin.TabularInline):
    model = WorkOrderOperation
    extra = 0
    fields = ["sequence", "operation", "work_center", "status", "planned_start", "planned_end", "good_qty",
              "scrap_qty", "rework_qty", "labour_minutes", "code"]  # fmt: skip
    readonly_fields = ["status", "good_qty", "scrap_qty", "rework_qty", "labour_minutes", "code"]
    autocomplete_fields = ["operation", "work_center"]


@admin.register(WorkOrder)
class WorkOrderAdmin(AuditedAdmin):
    list_display = ["number", "item", "qty", "kind", "status", "due_date", "planned_start", "planned_end", "order_line"]
    list_filter = ["status", "kind", "item__category"]
    search_fields = ["number", "item__code", "item__name", "erp_number", "order_line__order__number"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["item"]
    raw_id_fields = ["order_line", "parent", "rework_of"]
    list_select_related = ["item", "order_line"]
    inlines = [WorkOrderOperationInline]


@admin.register(ReportEvent)
class ReportEventAdmin(admin.ModelAdmin):
    """The floor's presses, read-only: they are corrected by new events, never edited."""

    list_display = ["at", "operation", "operator", "action", "good_qty", "scrap_qty", "rework_qty", "reason"]
    list_filter = ["action", "operation__work_center"]
    search_fields = ["operation__code", "operation__work_order__number", "operator__username", "client_uuid"]
    date_hierarchy = "at"
    list_select_related = ["operation", "operator"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DowntimeForm(forms.ModelForm):
    class Meta:
        model = Downtime
        fields = [
            "work_center",
            "reason",
            "note",
            "photo",
            "started_at",
            "ended_at",
            "reported_by",
            "ended_by",
            "client_uuid",
            "end_client_uuid",
        ]

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        # A newly uploaded file only (an unchanged one is the stored photo): the same check as from a tablet.
        if photo and hasattr(photo, "content_type"):
            try:
                check_photo(photo)
            except FloorError as exc:
                raise forms.ValidationError(exc.message) from exc
        return photo


@admin.register(Downtime)
class DowntimeAdmin(AuditedAdmin):
    form = DowntimeForm
    list_display = ["work_center", "reason", "started_at", "ended_at", "reported_by"]
    list_filter = ["reason", "work_center__workshop", "work_center"]
    date_hierarchy = "started_at"
    list_select_related = ["work_center", "reported_by"]
