"""REST API of order intake: sales orders with their lines and issues, the review actions, channel accounts,
sync runs and SKU mappings.

The sales-order resource lives here rather than in orders/ because an issue's message (integrations.pipeline)
and every review action (integrations.services) belong to the intake, and orders may not import integrations.
Thin: serializers parse and render, each state change calls one service. Channel credentials never leave the
server: no serializer below has a field for them, and the encrypted blob is not even loaded.
"""

from decimal import Decimal

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import (
    CursorPagination,
    ErrorSerializer,
    ModelOrObjectPermissions,
    Pagination,
    RestrictedQuerysetMixin,
)
from accounts.permissions import (
    PRICING_ISSUE_CODES,
    HidePricingMixin,
    get_for_user_or_404,
    issue_data_for,
    restrict,
    sees_pricing,
)
from integrations import filters, services
from integrations.erp.outbox import erp_push_retry
from integrations.models import ChannelAccount, SkuMapping, SyncRun
from integrations.pipeline import issue_message
from orders.models import ErpPush, OrderIssue, OrderLine, SalesOrder
from orders.services import RECEIVER_FIELDS
from production.models import Item

REVIEW = "orders.review_salesorder"
FORCE_APPROVE = "orders.force_approve_salesorder"
OPERATE_ACCOUNTS = "integrations.change_channelaccount"

# Codes and order numbers appear in URLs, so they may hold dots or dashes but no slash.
CODE_LOOKUP_REGEX = "[^/]+"

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input or a broken business rule."),
    403: OpenApiResponse(ErrorSerializer, description="Not signed in, or lacking the permission the action needs."),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or not visible to the caller."),
}
NUMBER = OpenApiParameter("number", str, OpenApiParameter.PATH, description="Loopline's number of the order.")
ACCOUNT_CODE = OpenApiParameter(
    "code", str, OpenApiParameter.PATH, description="Code of the channel account (shop), e.g. TB1."
)


class RequiredPermissions(permissions.BasePermission):
    """The caller holds every permission the action names in `required_perms` (set per @action)."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perms(view.required_perms))


# Choice sets whose field names ("kind", "status") other resources use for other choices get a component of
# their own, so the schema names each set once instead of inventing hashed enum names.


@extend_schema_field({"type": "string", "enum": ChannelAccount.Kind.values}, component_name="Marketplace")
class MarketplaceField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ChannelAccount.Kind.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": SalesOrder.Status.values}, component_name="SalesOrderStatus")
class SalesOrderStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SalesOrder.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": ErpPush.Status.values}, component_name="ErpPushStatus")
class ErpPushStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ErpPush.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": SyncRun.Kind.values}, component_name="SyncRunKind")
class SyncRunKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SyncRun.Kind.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": SyncRun.Status.values}, component_name="SyncRunStatus")
class SyncRunStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=SyncRun.Status.choices, **kwargs)


# --- Sales orders ---------------------------------------------------------------------------------------


def order_queryset() -> QuerySet[SalesOrder]:
    """Orders with everything the serializers show fetched up front: a constant number of queries per page."""
    lines = OrderLine.objects.select_related("item").order_by("line_no")
    issues = OrderIssue.objects.select_related("resolved_by").order_by("created_at", "id")
    return (
        SalesOrder.objects.select_related("channel_account", "confirmed_by", "erp_push")
        .defer("channel_account__credentials_encrypted")
        .prefetch_related(Prefetch("lines", queryset=lines), Prefetch("issues", queryset=issues))
    )


class OrderPushSerializer(serializers.ModelSerializer):
    """Where the order's push into the ERP stands (its outbox entry)."""

    status = ErpPushStatusField(
        read_only=True, help_text=_("pending (waiting or retrying), done (in the ERP) or dead (needs IT).")
    )

    class Meta:
        model = ErpPush
        fields = ["status", "attempts", "last_error_code", "last_error", "pushed_at"]
        read_only_fields = fields
        extra_kwargs = {
            "status": {"help_text": _("pending (waiting or retrying), done (in the ERP) or dead (needs IT).")},
            "attempts": {"help_text": _("Pushes tried so far.")},
            "last_error_code": {"help_text": _("Code of the last failure, e.g. K3_VALIDATION or TIMEOUT.")},
            "last_error": {"help_text": _("The ERP's own message of the last failure.")},
            "pushed_at": {"help_text": _("When the ERP accepted the order.")},
        }


class OrderLineSerializer(HidePricingMixin, serializers.ModelSerializer):
    item = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("Material code of the internal item the SKU maps to; null while the SKU is unmapped."),
    )

    class Meta:
        model = OrderLine
        fields = ["line_no", "external_sku", "title", "item", "qty", "item_qty", "unit_price", "discount"]
        extra_kwargs = {
            "line_no": {"help_text": _("Position of the line in the order, from 1.")},
            "external_sku": {"help_text": _("The marketplace's SKU (outer SKU id) of the line; may be blank.")},
            "title": {"help_text": _("Product title as the marketplace sent it.")},
            "qty": {"help_text": _("Quantity sold, in marketplace units.")},
            "item_qty": {
                "help_text": _("Quantity in the item's unit: qty × items per unit of a bundle (qty while unmapped).")
            },
            "unit_price": {
                "help_text": _(
                    "Price of one marketplace unit, in the order's currency. Left out for callers without "
                    "orders.view_pricing_salesorder."
                )
            },
            "discount": {
                "help_text": _(
                    "Discount on the whole line, in the order's currency. Left out for callers without "
                    "orders.view_pricing_salesorder."
                )
            },
        }


class OrderIssueSerializer(serializers.ModelSerializer):
    """An issue; one about prices quotes no figures to callers who may not see pricing."""

    label = serializers.CharField(
        source="get_code_display", read_only=True, help_text=_("Name of the issue code, in the request's language.")
    )
    message = serializers.SerializerMethodField(
        help_text=_("What is wrong with the order, in the request's language (Accept-Language: zh-hans or en).")
    )
    resolved_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("Username of who closed the issue; null while open or when the system closed it."),
    )

    class Meta:
        model = OrderIssue
        fields = ["id", "code", "label", "message", "data", "created_at", "resolved_at", "resolved_by", "resolution"]
        extra_kwargs = {
            "id": {"help_text": _("Id of the issue, for /order-issues/{id}/acknowledge/ and resolve-change/.")},
            "code": {"help_text": _("Stable code of the issue, e.g. SKU_UNMAPPED, ADDRESS_INCOMPLETE.")},
            "data": {"help_text": _('The facts behind the message, e.g. {"sku": "HK-01"}; keys depend on the code.')},
            "created_at": {"help_text": _("When the issue was raised.")},
            "resolved_at": {"help_text": _("When the issue was closed; null while it is open and holds the order.")},
            "resolution": {"help_text": _("How the issue was closed; blank while open.")},
        }

    def get_message(self, issue: OrderIssue) -> str:
        # Rendered now from code + data rather than the stored detail, so each caller reads its own language.
        if self._hides_figures(issue):
            return issue.get_code_display()
        return issue_message(issue.code, issue.data)

    def _hides_figures(self, issue: OrderIssue) -> bool:
        request = self.context.get("request")
        return issue.code in PRICING_ISSUE_CODES and request is not None and not sees_pricing(request.user)

    def to_representation(self, issue: OrderIssue) -> dict:
        data = super().to_representation(issue)
        request = self.context.get("request")
        if request is not None:
            data["data"] = issue_data_for(request.user, issue.code, data["data"])
        return data


class SalesOrderSerializer(HidePricingMixin, serializers.ModelSerializer):
    channel_account = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the channel account (shop) it came from, e.g. TB1.")
    )
    marketplace = MarketplaceField(
        source="channel_account.kind", read_only=True, help_text=_("The marketplace of that shop.")
    )
    status = SalesOrderStatusField(
        read_only=True,
        help_text=_(
            "received, needs_review (waiting in the review queue), confirmed, rejected, in_production, shipped or "
            "cancelled."
        ),
    )
    confirmed_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("Username of who approved the order; null if not confirmed or confirmed by the system."),
    )
    lines = OrderLineSerializer(many=True, read_only=True, help_text=_("The order's lines, by line number."))
    erp_push = serializers.SerializerMethodField(
        help_text=_("The order's ERP outbox entry: its status, attempts and the ERP's last error; null before.")
    )
    issues = OrderIssueSerializer(
        many=True, read_only=True, help_text=_("Every issue the order has had, open and closed, oldest first.")
    )

    class Meta:
        model = SalesOrder
        fields = [
            "number",
            "channel_account",
            "marketplace",
            "external_id",
            "external_number",
            "external_status",
            "status",
            "buyer",
            "buyer_note",
            *RECEIVER_FIELDS,
            "currency",
            "goods_amount",
            "shipping_amount",
            "discount_amount",
            "paid_amount",
            "ordered_at",
            "paid_at",
            "received_at",
            "updated_at",
            "confirmed_at",
            "confirmed_by",
            "promised_date",
            "erp_number",
            "erp_state",
            "erp_push",
            "lines",
            "issues",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "number": {"help_text": _("Loopline's order number: the shop code and the marketplace order id.")},
            "external_id": {"help_text": _("The marketplace's order id; unique within the shop.")},
            "external_number": {"help_text": _("The order number the marketplace shows the buyer.")},
            "external_status": {"help_text": _("The order's status on the marketplace, as it sent it.")},
            "buyer": {"help_text": _("The buyer's marketplace nickname or name.")},
            "buyer_note": {"help_text": _("What the buyer wrote with the order; may be blank.")},
            "receiver_name": {"help_text": _("Who receives the goods.")},
            "receiver_phone": {"help_text": _("The receiver's phone number.")},
            "receiver_country": {"help_text": _("The receiver's country; may be blank for domestic orders.")},
            "receiver_province": {"help_text": _("Province of the delivery address.")},
            "receiver_city": {"help_text": _("City of the delivery address.")},
            "receiver_district": {"help_text": _("District or county of the delivery address.")},
            "receiver_address": {"help_text": _("Street address.")},
            "receiver_zip": {"help_text": _("Postcode; may be blank.")},
            "currency": {"help_text": _("ISO 4217 currency of every amount of the order, e.g. CNY.")},
            "goods_amount": {
                "help_text": _(
                    "Sum of the lines before discounts, as a decimal string. Left out for callers without "
                    "orders.view_pricing_salesorder."
                )
            },
            "shipping_amount": {"help_text": _("Shipping charged to the buyer, as a decimal string.")},
            "discount_amount": {
                "help_text": _(
                    "All discounts of the order, lines included, as a decimal string. Left out for callers without "
                    "orders.view_pricing_salesorder."
                )
            },
            "paid_amount": {"help_text": _("What the buyer paid, as a decimal string.")},
            "ordered_at": {"help_text": _("When the buyer placed the order on the marketplace; may be null.")},
            "paid_at": {"help_text": _("When the buyer paid; may be null.")},
            "received_at": {"help_text": _("When Loopline first received the order.")},
            "updated_at": {"help_text": _("When Loopline last changed the order.")},
            "confirmed_at": {"help_text": _("When the order was approved for production and the ERP; null before.")},
            "promised_date": {"help_text": _("Delivery date promised to the buyer; may be null.")},
            "erp_number": {"help_text": _("The bill number the ERP gave the order; blank until pushed.")},
            "erp_state": {"help_text": _("Where the push to the ERP stands; blank until pushed.")},
        }

    @extend_schema_field(OrderPushSerializer(allow_null=True))
    def get_erp_push(self, order: SalesOrder) -> dict | None:
        try:
            push = order.erp_push
        except ErpPush.DoesNotExist:
            return None
        return OrderPushSerializer(push).data


class SalesOrderDetailSerializer(SalesOrderSerializer):
    payload = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "The order exactly as the marketplace sent it; null unless the caller holds orders.review_salesorder, "
            "left out for callers without orders.view_pricing_salesorder."
        ),
    )

    class Meta(SalesOrderSerializer.Meta):
        fields = [*SalesOrderSerializer.Meta.fields, "payload"]
        read_only_fields = fields

    def to_representation(self, order: SalesOrder) -> dict:
        data = super().to_representation(order)
        request = self.context.get("request")
        if "payload" in data and (request is None or not request.user.has_perm(REVIEW)):
            data["payload"] = None
        return data


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text=_("Why; kept in the audit trail (force-approve needs at least 4 characters).")
    )


class ResolutionSerializer(serializers.Serializer):
    resolution = serializers.CharField(
        max_length=300,
        help_text=_("How the change was handled (ERP, production, buyer), at least 4 characters; kept on the issue."),
    )


class ReceiverSerializer(serializers.ModelSerializer):
    """The receiver fields to correct; fields left out keep their value."""

    class Meta:
        model = SalesOrder
        fields = RECEIVER_FIELDS
        extra_kwargs = {
            "receiver_name": {"required": False, "help_text": _("Who receives the goods.")},
            "receiver_phone": {"required": False, "help_text": _("The receiver's phone number, e.g. 13800138000.")},
            "receiver_country": {"required": False, "help_text": _("The receiver's country.")},
            "receiver_province": {"required": False, "help_text": _("Province, e.g. 广东省.")},
            "receiver_city": {"required": False, "help_text": _("City, e.g. 东莞市.")},
            "receiver_district": {"required": False, "help_text": _("District or county, e.g. 长安镇.")},
            "receiver_address": {"required": False, "help_text": _("Street address.")},
            "receiver_zip": {"required": False, "help_text": _("Postcode.")},
        }

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError(_("Give at least one receiver field to change."))
        return attrs


REVIEW_ERRORS = {
    200: SalesOrderDetailSerializer,
    400: ERRORS[400],
    403: ERRORS[403],
    404: ERRORS[404],
}


@extend_schema_view(
    list=extend_schema(
        summary="List sales orders",
        description=(
            "Orders from every sales channel with their lines and issues, newest first (cursor-paginated: follow "
            "`next`). Filter by status, shop, open issue code, open issues at all and reception time; search "
            "number, marketplace id and number, buyer, receiver and SKU. The raw marketplace payload is only on "
            "the single order. Needs orders.view_salesorder."
        ),
    ),
    retrieve=extend_schema(
        summary="One sales order",
        description=(
            "One order by its number, with lines, issues and, for holders of orders.review_salesorder, the raw "
            "marketplace payload. Needs orders.view_salesorder."
        ),
        parameters=[NUMBER],
        responses={200: SalesOrderDetailSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["orders"])
class SalesOrderViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Sales orders (read), and one endpoint per review decision."""

    queryset = order_queryset()
    # Reading is also open to holders of the view permission on particular orders (django-guardian).
    permission_classes = [ModelOrObjectPermissions]
    pagination_class = CursorPagination
    lookup_field = "number"
    lookup_value_regex = CODE_LOOKUP_REGEX
    filterset_class = filters.SalesOrderFilter
    search_fields = ["number", "external_id", "external_number", "buyer", "receiver_name", "lines__external_sku"]
    ordering_fields = ["received_at", "number"]
    ordering = ["-received_at", "-id"]
    required_perms: tuple[str, ...] = ()

    def get_queryset(self) -> QuerySet[SalesOrder]:
        orders = super().get_queryset()
        # A list does not carry the payload, which can be large; the single order does.
        return orders.defer("payload") if self.action == "list" else orders

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return SalesOrderSerializer if self.action == "list" else SalesOrderDetailSerializer

    def _to_review(self, number: str) -> SalesOrder:
        return get_for_user_or_404(SalesOrder.objects.all(), self.request.user, "review", number=number)

    def _updated(self, order_id: int) -> Response:
        # Fetched again through the permission, so the answer shows the order as it now is to this caller.
        order = get_for_user_or_404(order_queryset(), self.request.user, "review", pk=order_id)
        return Response(SalesOrderDetailSerializer(order, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Approve an order",
        description=(
            "Checks the waiting order again (a SKU mapped or an address fixed since clears its issue) and confirms "
            "it for production and the ERP. Refused with 400 and code `open_issues` (each issue in the detail) "
            "while any issue is open, `not_in_review` once the order has left the queue; nothing changes then. "
            "Audited. Needs orders.review_salesorder."
        ),
        parameters=[NUMBER],
        request=None,
        responses=REVIEW_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=(REVIEW,),
        filter_backends=[],
    )
    def approve(self, request: Request, number: str | None = None) -> Response:
        order = services.review_approve(order=self._to_review(number), by=request.user)
        return self._updated(order.pk)

    @extend_schema(
        summary="Approve an order over its open issues",
        description=(
            "Closes every open issue with the reason and confirms the order; the audit trail keeps the reason and "
            "the issues. Every SKU must be mapped first (code `sku_unmapped`); a reason under 4 characters is "
            "refused with code `reason_required`. Needs orders.review_salesorder and "
            "orders.force_approve_salesorder."
        ),
        parameters=[NUMBER],
        request=ReasonSerializer,
        responses=REVIEW_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="force-approve",
        permission_classes=[RequiredPermissions],
        required_perms=(REVIEW, FORCE_APPROVE),
        filter_backends=[],
    )
    def force_approve(self, request: Request, number: str | None = None) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.review_force_approve(
            order=self._to_review(number), by=request.user, reason=body.validated_data["reason"]
        )
        return self._updated(order.pk)

    @extend_schema(
        summary="Reject an order",
        description=(
            "Rejects a waiting order (a fraud, a duplicate, a cancelled sale): it is neither produced nor pushed "
            "to the ERP, and its open issues close. The reason is required and audited. Needs "
            "orders.review_salesorder."
        ),
        parameters=[NUMBER],
        request=ReasonSerializer,
        responses=REVIEW_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=(REVIEW,),
        filter_backends=[],
    )
    def reject(self, request: Request, number: str | None = None) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.review_reject(
            order=self._to_review(number), by=request.user, reason=body.validated_data["reason"]
        )
        return self._updated(order.pk)

    @extend_schema(
        summary="Correct the receiver",
        description=(
            "Changes the given receiver fields of a waiting order, then checks it again (a completed address "
            "clears ADDRESS_INCOMPLETE); the order stays in review until approved. The old values stay in the "
            "audit trail. Needs orders.review_salesorder."
        ),
        parameters=[NUMBER],
        request=ReceiverSerializer,
        responses=REVIEW_ERRORS,
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=(REVIEW,),
        filter_backends=[],
    )
    def receiver(self, request: Request, number: str | None = None) -> Response:
        body = ReceiverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = self._to_review(number)
        services.review_update_receiver(order=order, by=request.user, **body.validated_data)
        return self._updated(order.pk)


ISSUE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Id of the order issue.")


@extend_schema(tags=["orders"])
class OrderIssueViewSet(viewsets.GenericViewSet):
    """Decisions on one issue of an order; the issues themselves are read on their order."""

    queryset = OrderIssue.objects.all()
    permission_classes = [RequiredPermissions]
    required_perms: tuple[str, ...] = (REVIEW,)
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[OrderIssue]:
        reviewable = restrict(SalesOrder.objects.all(), self.request.user, "review")
        return OrderIssue.objects.filter(order__in=reviewable.values("pk"))

    def _updated(self, order_id: int) -> Response:
        order = get_for_user_or_404(order_queryset(), self.request.user, "review", pk=order_id)
        return Response(SalesOrderDetailSerializer(order, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Acknowledge a buyer's note",
        description=(
            "Marks a BUYER_NOTE issue as read so it no longer holds the order; it does not come back when the "
            "order is checked again. Any other issue is refused with 400 and code `not_informational`: fix it or "
            "approve over it. Answers with the order. Needs orders.review_salesorder."
        ),
        parameters=[ISSUE_ID],
        request=None,
        responses=REVIEW_ERRORS,
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        issue = services.review_acknowledge_issue(issue=self.get_object(), by=request.user)
        return self._updated(issue.order_id)

    @extend_schema(
        summary="Close a change made after confirmation",
        description=(
            "Closes a CHANGED_AFTER_CONFIRMATION issue once the change was handled, saying how. Another issue is "
            "refused with code `wrong_issue`, a resolution under 4 characters with `reason_required`. Answers "
            "with the order. Needs orders.review_salesorder."
        ),
        parameters=[ISSUE_ID],
        request=ResolutionSerializer,
        responses=REVIEW_ERRORS,
    )
    @action(detail=True, methods=["post"], url_path="resolve-change")
    def resolve_change(self, request: Request, pk: str | None = None) -> Response:
        body = ResolutionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issue = services.review_resolve_change(
            issue=self.get_object(), by=request.user, resolution=body.validated_data["resolution"]
        )
        return self._updated(issue.order_id)


# --- Sync runs -------------------------------------------------------------------------------------------


class SyncErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        read_only=True, default="", help_text=_("The marketplace's or Loopline's error code, e.g. TOP_25, TIMEOUT.")
    )
    message = serializers.CharField(read_only=True, default="", help_text=_("What went wrong, as reported."))
    external_id = serializers.CharField(
        read_only=True, default="", help_text=_("The marketplace order id it concerns; blank for the whole run.")
    )


class SyncRunSerializer(serializers.ModelSerializer):
    channel_account = serializers.SlugRelatedField(
        source="account",
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the channel account pulled; null for a pull from the ERP."),
    )
    erp_connection = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text=_("Name of the ERP connection pulled; null for a pull from a channel."),
    )
    kind = SyncRunKindField(
        read_only=True,
        help_text=_(
            "What was pulled: orders (a channel's orders), erp_materials, erp_stock, erp_boms, erp_prd_mo "
            "(production orders) or erp_outbound (the ERP's sales outbound bills)."
        ),
    )
    duration_seconds = serializers.FloatField(
        read_only=True, allow_null=True, help_text=_("How long the run took, in seconds; null while it runs.")
    )
    status = SyncRunStatusField(
        read_only=True,
        help_text=_(
            "running; succeeded; partial (some pages failed, the cursor did not move past them); failed; "
            "skipped (another poll of the shop was running)."
        ),
    )
    errors = SyncErrorSerializer(many=True, read_only=True, help_text=_("The errors met, at most 200."))

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "channel_account",
            "erp_connection",
            "trigger",
            "status",
            "window_start",
            "window_end",
            "started_at",
            "finished_at",
            "duration_seconds",
            "pages",
            "http_calls",
            "retries",
            "fetched",
            "created",
            "updated",
            "unchanged",
            "anomalies",
            "errors",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": _("Id of the run.")},
            "trigger": {"help_text": _("schedule, manual (poll now), webhook or test (connection test).")},
            "window_start": {"help_text": _("Start of the time window pulled (orders changed since); null for tests.")},
            "window_end": {"help_text": _("End of the time window pulled; null for tests.")},
            "started_at": {"help_text": _("When the run started.")},
            "finished_at": {"help_text": _("When the run ended; null while it runs.")},
            "pages": {"help_text": _("Pages fetched from the marketplace.")},
            "http_calls": {"help_text": _("HTTP requests made, retries included.")},
            "retries": {"help_text": _("Requests repeated after a throttle, a timeout or a server error.")},
            "fetched": {"help_text": _("Orders received from the marketplace.")},
            "created": {"help_text": _("Orders new to Loopline.")},
            "updated": {"help_text": _("Known orders that had changed.")},
            "unchanged": {"help_text": _("Known orders that had not changed (skipped by their payload hash).")},
            "anomalies": {"help_text": _("Orders that got new issues and wait in the review queue.")},
        }


@extend_schema_view(
    list=extend_schema(
        summary="List sync runs",
        description=(
            "Every pull from a sales channel or the ERP (and connection test) with its window, counts and errors, "
            "newest first (cursor-paginated: follow `next`); filter by shop, kind, status, trigger and start time. "
            "Needs integrations.view_syncrun."
        ),
    ),
    retrieve=extend_schema(
        summary="One sync run",
        description="One run by its id. Needs integrations.view_syncrun.",
        responses={200: SyncRunSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["intake"])
class SyncRunViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The sync log (read-only), kept for audit."""

    queryset = SyncRun.objects.select_related("account", "erp_connection").defer(
        "account__credentials_encrypted", "erp_connection__credentials_encrypted"
    )
    serializer_class = SyncRunSerializer
    pagination_class = CursorPagination
    filterset_class = filters.SyncRunFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["started_at"]
    ordering = ["-started_at", "-id"]


# --- Channel accounts ------------------------------------------------------------------------------------


class ChannelAccountSerializer(serializers.ModelSerializer):
    """A shop's settings: deliberately without any credential, only whether some are stored."""

    kind = MarketplaceField(read_only=True, help_text=_("The marketplace: taobao (Taobao / Tmall), jd or shopify."))
    trigger_status = serializers.CharField(
        source="effective_trigger_status",
        read_only=True,
        help_text=_("Marketplace status of the orders pulled: the configured one, else the marketplace's default."),
    )
    currency = serializers.CharField(
        source="default_currency", read_only=True, help_text=_("Currency of orders that do not name one.")
    )
    has_credentials = serializers.BooleanField(
        source="credentials_stored",
        read_only=True,
        help_text=_("Whether secrets are stored (encrypted); their values are never shown."),
    )

    class Meta:
        model = ChannelAccount
        fields = [
            "kind",
            "name",
            "code",
            "base_url",
            "app_key",
            "poll_interval_minutes",
            "trigger_status",
            "backfill_from",
            "cursor",
            "overlap_minutes",
            "page_size",
            "currency",
            "enabled",
            "last_polled_at",
            "has_credentials",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "name": {"help_text": _("Shop name, unique.")},
            "code": {"help_text": _("Short unique code of the shop, the prefix of its order numbers, e.g. TB1.")},
            "base_url": {"help_text": _("Address of the marketplace API the shop is pulled from.")},
            "app_key": {"help_text": _("The public App Key (Taobao, JD) or shop domain (Shopify); not a secret.")},
            "poll_interval_minutes": {"help_text": _("Minutes between two scheduled polls.")},
            "backfill_from": {"help_text": _("Where the first poll starts; null: one day before it.")},
            "cursor": {"help_text": _("Orders changed up to this time are in Loopline; null before the first poll.")},
            "overlap_minutes": {"help_text": _("How far before the cursor each poll reads again, in minutes.")},
            "page_size": {"help_text": _("Orders asked for per page (1 to 250).")},
            "enabled": {"help_text": _("False: the shop is not polled.")},
            "last_polled_at": {"help_text": _("When the last poll ended; null if never.")},
        }


class PollQueuedSerializer(serializers.Serializer):
    channel_account = serializers.CharField(help_text=_("Code of the channel account queued for a poll."))
    trigger = serializers.CharField(help_text=_("Always manual: the run appears in /sync-runs/ with this trigger."))
    detail = serializers.CharField(help_text=_("What happens next, in the request's language."))


@extend_schema_view(
    list=extend_schema(
        summary="List channel accounts",
        description=(
            "The shops Loopline pulls orders from, with their polling settings and sync cursor. Credentials are "
            "never returned, only whether some are stored. Needs integrations.view_channelaccount."
        ),
    ),
    retrieve=extend_schema(
        summary="One channel account",
        description="One shop by its code, without its credentials. Needs integrations.view_channelaccount.",
        parameters=[ACCOUNT_CODE],
        responses={200: ChannelAccountSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["intake"])
class ChannelAccountViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Channel accounts (read-only here: IT sets them and their secrets up in the admin), test and poll now."""

    # The encrypted credentials are not even loaded: only whether there are any.
    queryset = ChannelAccount.objects.defer("credentials_encrypted").annotate(
        credentials_stored=ExpressionWrapper(~Q(credentials_encrypted=""), output_field=BooleanField())
    )
    serializer_class = ChannelAccountSerializer
    pagination_class = Pagination
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "last_polled_at"]
    required_perms: tuple[str, ...] = ()

    def _to_operate(self, code: str) -> ChannelAccount:
        return get_for_user_or_404(ChannelAccount.objects.all(), self.request.user, "change", code=code)

    @extend_schema(
        summary="Test the connection",
        description=(
            "Fetches one page from the marketplace now with the stored URL and credentials. Answers 200 with the "
            "resulting sync run (trigger `test`): status succeeded, or failed with the marketplace's precise error "
            "in `errors`. Audited. Needs integrations.change_channelaccount."
        ),
        parameters=[ACCOUNT_CODE],
        request=None,
        responses={200: SyncRunSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=(OPERATE_ACCOUNTS,),
        filter_backends=[],
    )
    def test(self, request: Request, code: str | None = None) -> Response:
        run = services.channel_account_test(account=self._to_operate(code), by=request.user)
        return Response(SyncRunSerializer(run).data)

    @extend_schema(
        summary="Poll now",
        description=(
            "Queues a poll of the shop for the worker once this request commits, and answers 202 at once; the "
            "run then appears in /sync-runs/ with trigger `manual` (or `skipped` if a poll was running). A "
            "disabled shop is refused with 400 and code `account_disabled`. Needs "
            "integrations.change_channelaccount."
        ),
        parameters=[ACCOUNT_CODE],
        request=None,
        responses={202: PollQueuedSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=(OPERATE_ACCOUNTS,),
        filter_backends=[],
    )
    def poll(self, request: Request, code: str | None = None) -> Response:
        account = self._to_operate(code)
        services.channel_poll_request(account=account, by=request.user)
        body = {
            "channel_account": account.code,
            "trigger": SyncRun.Trigger.MANUAL.value,
            "detail": _("Poll of %(shop)s queued; its run appears in the sync runs when it ends.")
            % {"shop": account.name},
        }
        return Response(PollQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


# --- SKU mappings ----------------------------------------------------------------------------------------


class SkuMappingSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Material code of the item."))
    item_name = serializers.CharField(source="item.name", read_only=True, help_text=_("Name of the item."))
    channel_account = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("Code of the shop the mapping is for; null: it applies to every shop."),
    )
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text=_("Username of who made the mapping.")
    )

    class Meta:
        model = SkuMapping
        fields = [
            "id",
            "external_sku",
            "item",
            "item_name",
            "channel_account",
            "qty_per_unit",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": _("Id of the mapping.")},
            "external_sku": {"help_text": _("The marketplace SKU.")},
            "qty_per_unit": {"help_text": _("How many items one marketplace unit contains (1 unless a bundle).")},
            "created_at": {"help_text": _("When the mapping was made.")},
        }


class SkuMappingCreatedSerializer(SkuMappingSerializer):
    cleared_orders = serializers.IntegerField(
        read_only=True,
        help_text=_("How many waiting orders the mapping cleared of their last issue and so confirmed."),
    )

    class Meta(SkuMappingSerializer.Meta):
        fields = [*SkuMappingSerializer.Meta.fields, "cleared_orders"]
        read_only_fields = fields


class SkuMappingCreateSerializer(serializers.Serializer):
    external_sku = serializers.CharField(
        max_length=128, help_text=_("The marketplace SKU to map; surrounding spaces are ignored.")
    )
    item = serializers.SlugRelatedField(
        slug_field="code", queryset=Item.objects.all(), help_text=_("Material code of the active item it means.")
    )
    channel_account = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ChannelAccount.objects.defer("credentials_encrypted"),
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Code of the one shop the mapping is for; left out or null: every shop."),
    )
    qty_per_unit = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        required=False,
        default=Decimal(1),
        help_text=_("For bundles: how many items one marketplace unit contains; greater than zero, default 1."),
    )

    def validate_qty_per_unit(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError(_("The items per unit must be greater than zero."))
        return value


@extend_schema_view(
    list=extend_schema(
        summary="List SKU mappings",
        description=(
            "Which internal item each marketplace SKU means, for one shop or every shop. "
            "Needs integrations.view_skumapping."
        ),
    ),
    retrieve=extend_schema(
        summary="One SKU mapping",
        description="Needs integrations.view_skumapping.",
        responses={200: SkuMappingSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Map a marketplace SKU to an item",
        description=(
            "Maps the SKU (for one shop, or every shop when no channel_account is given) and checks every waiting "
            "order with that SKU again: those with no issue left are confirmed, and `cleared_orders` says how "
            "many. An existing mapping of the same SKU and scope is replaced. An inactive item is refused with "
            "code `item_inactive`. Audited. Needs integrations.add_skumapping."
        ),
        request=SkuMappingCreateSerializer,
        responses={201: SkuMappingCreatedSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
    destroy=extend_schema(
        summary="Remove a SKU mapping",
        description=(
            "Orders already mapped keep their item; orders received later with the SKU wait for a new mapping. "
            "Audited. Needs integrations.delete_skumapping."
        ),
        responses={204: None, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["intake"])
class SkuMappingViewSet(
    RestrictedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Marketplace SKU → internal item mappings."""

    queryset = SkuMapping.objects.select_related("item", "channel_account", "created_by").defer(
        "channel_account__credentials_encrypted"
    )
    serializer_class = SkuMappingSerializer
    pagination_class = Pagination
    filterset_class = filters.SkuMappingFilter
    search_fields = ["external_sku", "item__code", "item__name"]
    ordering_fields = ["external_sku", "created_at"]

    def create(self, request: Request) -> Response:
        body = SkuMappingCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        mapping, cleared = services.sku_mapping_create(
            external_sku=data["external_sku"],
            item=data["item"],
            account=data["channel_account"],
            qty_per_unit=data["qty_per_unit"],
            by=request.user,
        )
        mapping.cleared_orders = cleared
        return Response(SkuMappingCreatedSerializer(mapping).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: SkuMapping) -> None:
        services.sku_mapping_delete(mapping=instance, by=self.request.user)


# --- The ERP outbox --------------------------------------------------------------------------------------


class ErpPushSerializer(serializers.ModelSerializer):
    """Where a confirmed order stands on its way into the ERP."""

    order = serializers.SlugRelatedField(
        slug_field="number", read_only=True, help_text=_("Loopline number of the order pushed.")
    )
    erp_number = serializers.CharField(
        source="order.erp_number", read_only=True, help_text=_("The ERP's bill number once pushed, else empty.")
    )
    status = ErpPushStatusField(
        read_only=True, help_text=_("pending (waiting or retrying), done (in the ERP) or dead (needs IT).")
    )

    class Meta:
        model = ErpPush
        fields = ["id", "order", "status", "attempts", "next_attempt_at", "last_error_code", "last_error",
                  "created_at", "pushed_at", "erp_number"]  # fmt: skip
        extra_kwargs = {
            "id": {"help_text": _("Id of the outbox entry, for the retry endpoint.")},
            "status": {"help_text": _("pending (waiting or retrying), done (in the ERP) or dead (needs IT).")},
            "attempts": {"help_text": _("Pushes tried so far.")},
            "next_attempt_at": {"help_text": _("When the next try is due; null once done or dead.")},
            "last_error_code": {"help_text": _("Code of the last failure, e.g. K3_VALIDATION or TIMEOUT.")},
            "last_error": {"help_text": _("The ERP's own message of the last failure.")},
            "created_at": {"help_text": _("When the order was confirmed and queued.")},
            "pushed_at": {"help_text": _("When the ERP accepted the order.")},
        }


@extend_schema_view(
    list=extend_schema(
        summary="ERP outbox entries",
        description=(
            "One entry per confirmed order; filter with `status` (pending, done, dead). Needs orders.view_erppush."
        ),
    ),
    retrieve=extend_schema(summary="One ERP outbox entry", responses={200: ErpPushSerializer, **ERRORS}),
)
@extend_schema(tags=["erp"])
class ErpPushViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """The ERP outbox, read-only, with a retry for dead-lettered entries."""

    queryset = ErpPush.objects.select_related("order")
    serializer_class = ErpPushSerializer
    pagination_class = CursorPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]
    required_perms: tuple[str, ...] = ()

    @extend_schema(
        summary="Retry a failed push",
        description=(
            "Puts a dead-lettered (or waiting) entry back in the queue after the cause was fixed in the ERP or on "
            "the order; audited. Code `already_pushed` if the order is in the ERP. Needs orders.change_erppush."
        ),
        request=None,
        responses={200: ErpPushSerializer, **ERRORS},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[RequiredPermissions],
        required_perms=("orders.change_erppush",),
        filter_backends=[],
    )
    def retry(self, request: Request, pk: str | None = None) -> Response:
        push = get_for_user_or_404(ErpPush.objects.all(), request.user, "view", pk=pk)
        return Response(self.get_serializer(erp_push_retry(push=push, by=request.user)).data)


# --- Pulls from the ERP ----------------------------------------------------------------------------------


class ErpPullRequestSerializer(serializers.Serializer):
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=[kind for kind in SyncRun.Kind.values if kind != SyncRun.Kind.ORDERS]),
        required=False,
        allow_empty=False,
        help_text=_("What to pull; default: erp_materials, erp_stock and erp_boms, in that order."),
    )


class ErpPullQueuedSerializer(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.CharField(), help_text=_("The kinds queued, in pull order."))
    trigger = serializers.CharField(help_text=_("Always manual: the runs appear in /sync-runs/ when they end."))


@extend_schema(tags=["erp"])
class ErpPullViewSet(viewsets.ViewSet):
    """Pull data from the ERP now, without waiting for the schedule."""

    permission_classes = [RequiredPermissions]
    required_perms = ("integrations.change_erpconnection",)

    @extend_schema(
        summary="Pull from the ERP now",
        description=(
            "Queues an incremental pull of the given kinds from the active ERP connection (materials → items, "
            "stock → stock levels, BOMs → BOM lines, sales outbound); each becomes a manual sync run with its "
            "counts and errors. Needs integrations.change_erpconnection."
        ),
        request=ErpPullRequestSerializer,
        responses={202: ErpPullQueuedSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        body = ErpPullRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kinds = services.erp_pull_request(kinds=body.validated_data.get("kinds") or [], by=request.user)
        return Response({"kinds": kinds, "trigger": SyncRun.Trigger.MANUAL.value}, status=status.HTTP_202_ACCEPTED)
