"""REST API of the reconciliation: WMS shipments in (bulk, idempotent by line id), item-days and periods out,
and today's shipments. Definitions in integrations.reconciliation."""

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import CursorPagination, Pagination
from integrations import reconciliation
from integrations.api import ERRORS, RequiredPermissions
from integrations.models import WmsShipmentLine

READ = "integrations.view_wmsshipmentline"
UPLOAD = "integrations.add_wmsshipmentline"
SHIPMENTS = "integrations.view_erpoutboundline"
PERIOD_CHOICES = list(reconciliation.PERIODS)
QTY = {"max_digits": 18, "decimal_places": 4, "read_only": True}


class WmsLineInSerializer(serializers.Serializer):
    """One line as the WMS sends it; checked by the service, so that every refused line is reported at once."""

    line_id = serializers.CharField(help_text=_("The WMS's own id of the shipment line; re-sending it is harmless."))
    shipped_at = serializers.CharField(help_text=_("When it left, ISO 8601 (no zone means Asia/Shanghai)."))
    item = serializers.CharField(help_text=_("Material code of the item shipped."))
    qty = serializers.DecimalField(max_digits=18, decimal_places=4, help_text=_("Quantity shipped, 0 or more."))
    warehouse = serializers.CharField(required=False, help_text=_("Warehouse it left from."))
    order_number = serializers.CharField(required=False, help_text=_("Loopline's or the marketplace's order number."))
    customer = serializers.CharField(required=False, help_text=_("Customer shipped to."))


class WmsBatchSerializer(serializers.Serializer):
    lines = WmsLineInSerializer(many=True, help_text=_("Up to 5,000 lines; all are taken or none."))


class WmsResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Lines new to Loopline."))
    updated = serializers.IntegerField(help_text=_("Known line ids whose values changed."))
    unchanged = serializers.IntegerField(help_text=_("Known line ids sent again unchanged."))


class WmsLineSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Material code."))

    class Meta:
        model = WmsShipmentLine
        fields = ["line_id", "shipped_at", "ship_date", "item", "qty", "warehouse_code", "order_number", "customer",
                  "source", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "line_id": {"help_text": _("The WMS's own id of the shipment line.")},
            "shipped_at": {"help_text": _("When it left.")},
            "ship_date": {"help_text": _("The day of shipped_at in Asia/Shanghai.")},
            "qty": {"help_text": _("Quantity shipped.")},
            "warehouse_code": {"help_text": _("Warehouse it left from.")},
            "order_number": {"help_text": _("Loopline's or the marketplace's order number.")},
            "customer": {"help_text": _("Customer shipped to.")},
            "source": {"help_text": _("api or upload.")},
            "created_at": {"help_text": _("When Loopline first received the line.")},
            "updated_at": {"help_text": _("When the line last changed.")},
        }


@extend_schema(tags=["reconciliation"])
class WmsShipmentViewSet(viewsets.GenericViewSet):
    """Shipments reported by the WMS."""

    queryset = WmsShipmentLine.objects.select_related("item").order_by("-shipped_at", "-id")
    serializer_class = WmsLineSerializer
    pagination_class = CursorPagination
    ordering = ["-shipped_at", "-id"]
    permission_classes = [RequiredPermissions]
    # A batch is a list of lines, which only JSON carries (a form would flatten them).
    parser_classes = [JSONParser]

    @property
    def required_perms(self) -> tuple[str, ...]:
        return (READ, UPLOAD) if self.request.method == "POST" else (READ,)

    @extend_schema(summary="WMS shipment lines", description="Newest first. Needs integrations.view_wmsshipmentline.")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Record WMS shipments (bulk)",
        description=(
            "Records shipped lines, idempotent by `line_id`: a line id sent before is updated if its values changed, "
            "else left alone. Every line is checked first (unknown item, negative or malformed quantity, bad date, "
            "duplicate line id); if any is refused the answer is 400 with code `invalid_rows` and `errors` "
            "[{row, column, value, reason}] (row counted from 1), and nothing is written. "
            "Needs integrations.add_wmsshipmentline."
        ),
        request=WmsBatchSerializer,
        responses={201: WmsResultSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        lines = request.data.get("lines") if isinstance(request.data, dict) else None
        if not isinstance(lines, list):
            raise reconciliation.ReconciliationError(_('Send {"lines": [...]}.'), code="invalid", extra={"errors": []})
        result = reconciliation.wms_shipments_record(lines=lines, by=request.user)
        return Response(WmsResultSerializer(result).data, status=status.HTTP_201_CREATED)


class ItemDaySerializer(serializers.Serializer):
    day = serializers.DateField(read_only=True, help_text=_("The day, in Asia/Shanghai."))
    item = serializers.CharField(source="item_code", read_only=True, help_text=_("Material code."))
    item_name = serializers.CharField(read_only=True, help_text=_("Name of the item."))
    erp_qty = serializers.DecimalField(**QTY, help_text=_("Σ ERP sales outbound quantity of the item that day."))
    wms_qty = serializers.DecimalField(**QTY, help_text=_("Σ WMS shipped quantity of the item that day."))
    difference = serializers.DecimalField(**QTY, help_text=_("erp_qty − wms_qty."))


class PeriodSerializer(serializers.Serializer):
    period_start = serializers.DateField(read_only=True, help_text=_("First day of the day, week (Monday) or month."))
    erp_qty = serializers.DecimalField(**QTY, help_text=_("Σ ERP sales outbound quantity in the period."))
    wms_qty = serializers.DecimalField(**QTY, help_text=_("Σ WMS shipped quantity in the period."))
    abs_difference = serializers.DecimalField(**QTY, help_text=_("Σ |erp_qty − wms_qty| over the item-days."))
    deviation_rate = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        read_only=True,
        allow_null=True,
        help_text=_("abs_difference ÷ erp_qty as a fraction (0.02 = 2 %); null when erp_qty is 0."),
    )


RANGE = [
    OpenApiParameter("date_from", date, description="First day (Asia/Shanghai); default 30 days before date_to."),
    OpenApiParameter("date_to", date, description="Last day, inclusive; default today."),
]


def _range(request: Request) -> tuple[date, date]:
    try:
        end = date.fromisoformat(request.query_params["date_to"]) if "date_to" in request.query_params else None
        start = date.fromisoformat(request.query_params["date_from"]) if "date_from" in request.query_params else None
    except ValueError:
        raise serializers.ValidationError({"date_from": [_("Dates are YYYY-MM-DD.")]}) from None
    end = end or timezone.localdate()
    try:
        start = start or end - timedelta(days=29)
    except OverflowError:  # 30 days before the first days of year 1
        raise serializers.ValidationError(
            {"date_from": [_("Give date_from: date_to is too early to count back.")]}
        ) from None
    if start > end or (end - start).days > 731:
        raise serializers.ValidationError({"date_from": [_("date_from must be before date_to, at most 2 years.")]})
    return start, end


@extend_schema(tags=["reconciliation"])
class ReconciliationViewSet(viewsets.GenericViewSet):
    """ERP sales outbound against WMS shipments, per item-day and per period."""

    queryset = WmsShipmentLine.objects.none()  # figures are computed; the queryset only names the model
    permission_classes = [RequiredPermissions]
    required_perms = (READ,)
    serializer_class = ItemDaySerializer
    pagination_class = Pagination

    @extend_schema(
        summary="Reconciliation item-days",
        description=(
            "One row per item and day with ERP outbound, WMS shipped and their difference, by day then material "
            "code. Needs integrations.view_wmsshipmentline."
        ),
        parameters=[
            *RANGE,
            OpenApiParameter("item", str, description="Only this material code."),
            OpenApiParameter("differs", bool, description="true: only item-days that differ; false: only equal ones."),
        ],
    )
    def list(self, request: Request) -> Response:
        start, end = _range(request)
        differs = {"true": True, "false": False}.get(request.query_params.get("differs", "").lower())
        item_code = request.query_params.get("item", "")
        if reconciliation.NUL in item_code:  # no code holds one, and PostgreSQL refuses it even in a query
            raise serializers.ValidationError({"item": [_("A NUL character cannot be stored.")]})
        rows = reconciliation.item_days(start=start, end=end, item_code=item_code, differs=differs)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ItemDaySerializer(page, many=True).data)

    @extend_schema(
        summary="Deviation rate per period",
        description=(
            "Per day, week (from Monday) or month: Σ ERP outbound, Σ WMS shipped, Σ |ERP − WMS| over the item-days "
            "and the deviation rate Σ|ERP − WMS| ÷ Σ ERP. Every period of the range is listed, oldest first."
        ),
        parameters=[
            *RANGE,
            OpenApiParameter("period", str, enum=PERIOD_CHOICES, default="day", description="day, week or month."),
        ],
        responses={200: PeriodSerializer(many=True), **ERRORS},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def periods(self, request: Request) -> Response:
        start, end = _range(request)
        period = request.query_params.get("period", "day")
        if period not in reconciliation.PERIODS:
            raise serializers.ValidationError({"period": [_("One of day, week, month.")]})
        rows = reconciliation.deviation_rate_by_period(start, end, period)
        return Response(PeriodSerializer(rows, many=True).data)


class TodayRowSerializer(serializers.Serializer):
    customer = serializers.CharField(read_only=True, help_text=_("ERP customer code, or the WMS's customer."))
    channel = serializers.CharField(read_only=True, help_text=_("Shop name, when the order or customer tells it."))
    item_code = serializers.CharField(read_only=True, help_text=_("Material code."))
    item_name = serializers.CharField(read_only=True, help_text=_("Name of the item."))
    erp_qty = serializers.DecimalField(**QTY, help_text=_("Σ ERP sales outbound quantity today."))
    wms_qty = serializers.DecimalField(**QTY, help_text=_("Σ WMS shipped quantity today."))


class TodaySerializer(serializers.Serializer):
    day = serializers.DateField(read_only=True, help_text=_("Today, in Asia/Shanghai."))
    computed_at = serializers.DateTimeField(read_only=True, help_text=_("When the cached summary was computed."))
    rows = TodayRowSerializer(many=True, read_only=True, help_text=_("Per customer, channel and item."))


@extend_schema(tags=["reconciliation"])
class TodayShipmentsView(GenericAPIView):
    """Today's shipments per customer, channel and item: one summary object, not a list of them."""

    queryset = WmsShipmentLine.objects.none()  # the summary is computed; the queryset only names the model
    permission_classes = [RequiredPermissions]
    required_perms = (SHIPMENTS,)
    serializer_class = TodaySerializer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(
        summary="Today's shipments",
        description=(
            "ERP sales outbound and WMS shipments of today (Asia/Shanghai) per customer, channel and item, from a "
            "cache refreshed every 5 minutes. Needs integrations.view_erpoutboundline."
        ),
        responses={200: TodaySerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(TodaySerializer(reconciliation.today_shipments()).data)
