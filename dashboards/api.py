"""Read-only REST API of the dashboards: the Gantt's rows and order progress, as the pages compute them."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ErrorSerializer
from accounts.roles import GANTT, ORDER_PROGRESS
from dashboards.forms import GanttForm, OrderProgressForm
from dashboards.gantt import GROUPS, ZOOMS, WOStatus, gantt_fingerprint, gantt_rows
from dashboards.progress import ORDER_SCOPES, RISK_ORDER, order_progress_page
from production.models import WorkOrderOperation
from production.models.execution import DowntimeReason


class HasPermission(permissions.BasePermission):
    """Signed-in users holding the view's `required_permission`."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perm(view.required_permission))


def _flag(help_text: str) -> serializers.BooleanField:
    return serializers.BooleanField(help_text=help_text)


def _moment(help_text: str) -> serializers.DateTimeField:
    return serializers.DateTimeField(allow_null=True, help_text=help_text)


def _qty(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=3, help_text=help_text)


class GanttOperationSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Scan code of the operation (as on the traveller's QR code).")
    sequence = serializers.IntegerField(help_text="Place of the step in its work order's routing.")
    name = serializers.CharField(help_text="Standard name of the operation, e.g. 冲压.")
    work_center = serializers.CharField(help_text="Code of the work centre it runs at.")
    work_order = serializers.CharField(help_text="Number of its work order.")
    status = serializers.ChoiceField(choices=WorkOrderOperation.Status.choices, help_text="Where the step is.")
    planned_start = _moment("Planned start; null when not scheduled.")
    planned_end = _moment("Planned end; null when not scheduled.")
    actual_start = _moment("When it was first started on a tablet; null before.")
    actual_end = _moment("When it was completed; null before.")
    progress = serializers.DecimalField(
        max_digits=5, decimal_places=1, help_text="Share of the work order's quantity processed here, 0-100."
    )
    qty = _qty("Quantity of the work order.")
    good_qty = _qty("Good quantity reported.")
    scrap_qty = _qty("Scrap quantity reported.")
    projected_end = _moment("Projected finish at its current rate (its actual end once done).")
    late = _flag("Not done and past its planned end.")
    at_risk = _flag("Projected after its planned end, or its work order is planned past its due date.")


class GanttDowntimeSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DowntimeReason.choices, help_text="Why the work centre stopped.")
    started_at = serializers.DateTimeField(help_text="When the stop began.")
    ended_at = _moment("When it ended; null while the work centre is still down.")


class GanttRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Work-order number, or work-centre code for rows by work centre.")
    label = serializers.CharField(help_text="What the row is called on the page.")
    detail = serializers.CharField(help_text="Item (work-order rows) or workshop and team (work-centre rows).")
    status = serializers.CharField(help_text="Work-order status; empty for work-centre rows.")
    due_date = serializers.DateField(allow_null=True, help_text="Due date of the work order; null if none.")
    order_number = serializers.CharField(help_text="Sales order the work order is for; empty if none.")
    late = _flag("An operation is late, or the work order is past its due date.")
    at_risk = _flag("Not late, but an operation is at risk.")
    operations = GanttOperationSerializer(source="bars", many=True, help_text="Its operations in the window.")
    downtimes = GanttDowntimeSerializer(many=True, help_text="Downtime in the window (work-centre rows only).")


class GanttSerializer(serializers.Serializer):
    window_start = serializers.DateTimeField(source="window.start", help_text="Start of the window shown.")
    window_end = serializers.DateTimeField(source="window.end", help_text="End of the window (exclusive).")
    zoom = serializers.CharField(source="window.zoom", help_text="day, week or month.")
    count = serializers.IntegerField(help_text="Rows matching the filters, over all pages.")
    page = serializers.IntegerField(help_text="This page's number, from 1.")
    num_pages = serializers.IntegerField(help_text="Number of pages.")
    fingerprint = serializers.CharField(help_text="Changes whenever the data may have changed; poll and compare.")
    rows = GanttRowSerializer(many=True, help_text="The rows of this page.")


GANTT_PARAMETERS = [
    OpenApiParameter("group", str, enum=list(GROUPS), description="Rows by work order (default) or work centre."),
    OpenApiParameter("zoom", str, enum=list(ZOOMS), description="Window around `date`: day, week (default), month."),
    OpenApiParameter("date", str, description="Anchor day, YYYY-MM-DD; default today (Asia/Shanghai)."),
    OpenApiParameter("start", str, description="First day of an explicit range (with `end`), YYYY-MM-DD."),
    OpenApiParameter("end", str, description="Last day of an explicit range (with `start`), YYYY-MM-DD."),
    OpenApiParameter("workshop", str, description="Workshop code; only operations at its work centres."),
    OpenApiParameter(
        "team", str, description="Team id, or `all`; a team leader's own team when left out, everyone's otherwise."
    ),
    OpenApiParameter("category", str, description="Product category of the work order's item."),
    OpenApiParameter(
        "status",
        str,
        enum=["open", "all", *WOStatus.values],
        description="Work-order status: open (planned or in progress, default), all, or one status.",
    ),
    OpenApiParameter("page", int, description="Page number, 50 rows a page."),
]


class GanttView(APIView):
    """The Gantt's rows."""

    permission_classes = [HasPermission]
    required_permission = GANTT

    @extend_schema(
        summary="Gantt rows",
        description="A page of the production Gantt: work orders (or work centres) with each operation's plan, "
        "actual run, progress, projected finish and late/at-risk flags, and downtime on work-centre rows. "
        "Needs production.view_gantt_workorder (production manager, team leader, IT).",
        parameters=GANTT_PARAMETERS,
        responses={200: GanttSerializer, 403: ErrorSerializer},
        tags=["dashboards"],
    )
    def get(self, request: Request) -> Response:
        form = GanttForm(request.query_params, user=request.user)
        fingerprint = gantt_fingerprint()
        chart = gantt_rows(window=form.window(), filters=form.filters(), page=form.page_number())
        chart.fingerprint = fingerprint
        return Response(GanttSerializer(chart).data)


class LineProgressSerializer(serializers.Serializer):
    line_no = serializers.IntegerField(help_text="Line number within the order.")
    sku = serializers.CharField(help_text="Marketplace SKU of the line.")
    item_code = serializers.CharField(help_text="Internal material code; empty if unmapped.")
    qty = serializers.DecimalField(max_digits=14, decimal_places=4, help_text="Quantity in the item's unit.")
    work_orders = serializers.ListField(child=serializers.CharField(), help_text="Numbers of its work orders.")
    current_work_order = serializers.CharField(help_text="Work order of the current operation; empty if none.")
    current_operation = serializers.CharField(help_text="Name of the current operation; empty when all done.")
    current_work_center = serializers.CharField(help_text="Work centre of the current operation.")
    current_status = serializers.CharField(help_text="Status of the current operation (running, paused, pending).")
    pct_done = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, help_text="Standard time done over all, 0-100; null if none."
    )
    projected = _moment("Projected completion; null when not released.")
    risk = serializers.ChoiceField(choices=RISK_ORDER, help_text="late, at_risk, on_track, not_released or done.")


class OrderProgressSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="Loopline order number.")
    external_number = serializers.CharField(help_text="The marketplace's order number.")
    buyer = serializers.CharField(help_text="Buyer's marketplace nickname.")
    shop = serializers.CharField(help_text="Name of the shop it came from.")
    status = serializers.CharField(help_text="Sales-order status.")
    promised_date = serializers.DateField(allow_null=True, help_text="Date promised to the customer; null if none.")
    pct_done = serializers.DecimalField(
        max_digits=5, decimal_places=1, allow_null=True, help_text="Standard time done over all its lines, 0-100."
    )
    projected = _moment("Latest projected completion of its lines.")
    risk = serializers.ChoiceField(choices=RISK_ORDER, help_text="The worst of its lines' risks.")
    lines = LineProgressSerializer(many=True, help_text="Its lines.")


class OrderProgressPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Orders matching, over all pages.")
    page = serializers.IntegerField(help_text="This page's number, from 1.")
    num_pages = serializers.IntegerField(help_text="Number of pages.")
    orders = OrderProgressSerializer(many=True, help_text="The orders of this page, by promised date.")


class OrderProgressView(APIView):
    """Order progress."""

    permission_classes = [HasPermission]
    required_permission = ORDER_PROGRESS

    @extend_schema(
        summary="Order progress",
        description="Per sales order, each line's current operation, share done, projected completion against "
        "the promised date and late risk. Needs production.view_progress_workorder (sales, customer service, "
        "production manager).",
        parameters=[
            OpenApiParameter("q", str, description="Part of the order number, marketplace number, buyer or SKU."),
            OpenApiParameter(
                "status", str, enum=list(ORDER_SCOPES), description="Which orders: open (default), in_production, all."
            ),
            OpenApiParameter("page", int, description="Page number, 25 orders a page."),
        ],
        responses={200: OrderProgressPageSerializer, 403: ErrorSerializer},
        tags=["dashboards"],
    )
    def get(self, request: Request) -> Response:
        form = OrderProgressForm(request.query_params)
        page = order_progress_page(
            q=form.value("q", ""), scope=form.value("status", "open"), page=form.value("page", 1)
        )
        return Response(OrderProgressPageSerializer(page).data)
