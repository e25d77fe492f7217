from django.contrib import admin

from orders.models import OrderIssue, OrderLine, SalesOrder


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ["line_no", "external_sku", "title", "item", "qty", "item_qty", "unit_price", "discount"]
    readonly_fields = fields
    can_delete = False


class OrderIssueInline(admin.TabularInline):
    model = OrderIssue
    extra = 0
    fields = ["code", "detail", "created_at", "resolved_at", "resolved_by", "resolution"]
    readonly_fields = fields
    can_delete = False


@admin.register(SalesOrder)
class SalesOrderAdmin(admin.ModelAdmin):
    """Orders are read here; they change through the review queue and the intake, which audit each step."""

    list_display = ["number", "channel_account", "status", "buyer", "receiver_name", "paid_amount", "currency",
                    "received_at", "erp_number"]  # fmt: skip
    list_filter = ["status", "channel_account", "currency"]
    search_fields = ["number", "external_id", "buyer", "receiver_name", "receiver_phone", "lines__external_sku"]
    date_hierarchy = "received_at"
    list_select_related = ["channel_account"]
    inlines = [OrderLineInline, OrderIssueInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
