from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import AuditedAdmin
from accounts.permissions import PRICING_ISSUE_CODES, sees_pricing, without_pricing
from orders.models import OrderIssue, OrderLine, SalesOrder


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    fields = ["line_no", "external_sku", "title", "item", "qty", "item_qty", "unit_price", "discount"]
    can_delete = False

    # Prices and discounts are left out, not blanked, for staff without the pricing permission.
    def get_fields(self, request, obj=None):
        return without_pricing(request.user, self.fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


class OrderIssueInline(admin.TabularInline):
    model = OrderIssue
    extra = 0
    fields = ["code", "detail", "created_at", "resolved_at", "resolved_by", "resolution"]
    can_delete = False

    def get_fields(self, request, obj=None):
        # An issue about prices quotes them in its detail; without the pricing permission only its name shows.
        if sees_pricing(request.user):
            return self.fields
        return [("detail_without_figures" if name == "detail" else name) for name in self.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description=_("detail"))
    def detail_without_figures(self, issue: OrderIssue) -> str:
        return issue.get_code_display() if issue.code in PRICING_ISSUE_CODES else issue.detail


@admin.register(SalesOrder)
class SalesOrderAdmin(AuditedAdmin):
    """Orders are read here; they change through the review queue and the intake, which audit each step."""

    list_display = ["number", "channel_account", "status", "buyer", "receiver_name", "paid_amount", "currency",
                    "received_at", "erp_number"]  # fmt: skip
    list_filter = ["status", "channel_account", "currency"]
    search_fields = ["number", "external_id", "buyer", "receiver_name", "receiver_phone", "lines__external_sku"]
    date_hierarchy = "received_at"
    list_select_related = ["channel_account"]
    inlines = [OrderLineInline, OrderIssueInline]

    def get_fields(self, request, obj=None):
        return without_pricing(request.user, [field.name for field in self.model._meta.fields])

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_list_display(self, request):
        return without_pricing(request.user, self.list_display)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
