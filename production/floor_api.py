"""REST API of the shop floor for scanners and other systems (MES, BI): work orders with their operations, the
operators' presses (report events) and work-centre downtime.

Thin: serializers parse and render, every press goes through production.floor (report_event_record,
downtime_start, downtime_end), which apply it in one locked transaction and answer a repeated client UUID with
the first answer. Floor rules that refuse a press answer with the common error body {code, detail, max_qty?}:
400 for input that cannot be applied as sent, 409 when the press conflicts with the operation's current state.
"""

from typing import Any

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import CursorPagination, ErrorSerializer, RestrictedQuerysetMixin, SharedFieldsMixin
from accounts.api_filters import DateTimeFromToRangeFilter
from accounts.models import User
from accounts.permissions import ModelPermissions, restrict
from production.corrections import (
    correctable_downtimes,
    correctable_events,
    downtime_correct,
    may_correct,
    report_event_correct,
)
from production.floor import FloorError, PressResult, downtime_end, downtime_start, report_event_record
from production.models import Downtime, ReportEvent, WorkCenter, WorkOrder, WorkOrderOperation
from production.models.execution import DowntimeReason, PauseReason, ScrapReason

# Numbers and codes appear in URLs; they may hold dots or dashes but no slash.
CODE_LOOKUP_REGEX = "[^/]+"

# Refusals caused by the state the operation or work centre is in (another press got there first), not by the
# request itself: the same press may succeed later, so they answer 409 Conflict rather than 400.
CONFLICT_CODES = {"transition_not_allowed", "qty_exceeds_input", "work_order_closed", "not_stopped"}


class FloorErrorSerializer(ErrorSerializer):
    """The common error body; a quantity refused for exceeding what arrived also says how much may come."""

    max_qty = serializers.CharField(
        required=False,
        help_text=_("With code qty_exceeds_input: the most this step may still report, as a decimal string."),
    )


ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description=(
            "The press cannot be applied as sent: `invalid` (field errors in `fields`: not a UUID, a negative or "
            "malformed quantity, an unknown action), `unknown_code` (no operation or work centre visible to the "
            "caller has that code), `qty_invalid` (too large, or a fraction of a piece), `qty_not_expected` "
            "(quantities with start, pause or resume), `reason_required` (pause or scrap without a reason from the "
            "lists), `photo_too_large`, `photo_invalid`. Nothing is recorded."
        ),
    ),
    403: OpenApiResponse(ErrorSerializer, description="Not signed in, or lacking the permission the action needs."),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or not visible to the caller."),
    409: OpenApiResponse(
        FloorErrorSerializer,
        description=(
            "The press conflicts with the current state: `transition_not_allowed` (e.g. complete before start), "
            "`work_order_closed` (completed or cancelled), `qty_exceeds_input` (more than the previous step "
            "delivered, or than the order's quantity plus the allowed overrun at the first step; `max_qty` says "
            "how much may still be reported), `not_stopped` (ending a downtime of a running work centre). "
            "Nothing is recorded; the detail explains it in the request's language."
        ),
    ),
}


class ChangeModelPermissions(ModelPermissions):
    """Model permissions for a POST that changes an existing object (e.g. ending a downtime): needs change_*."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


def _id(pk: str | None) -> int:
    """A database id from the URL; anything else names an object that does not exist."""
    if not (pk or "").isdigit():
        raise NotFound
    return int(pk)


def _floor_call(service, **kwargs) -> Any:
    """Run a floor service; its refusals keep their code and message, state conflicts answer 409."""
    try:
        return service(**kwargs)
    except FloorError as exc:
        if exc.code in CONFLICT_CODES:
            exc.status = status.HTTP_409_CONFLICT
        raise


def _check_visible(queryset: QuerySet, user: User, code: str, message: str) -> None:
    """A code the caller may not see is refused exactly like one that does not exist (`message` names it)."""
    code = (code or "").strip().upper()
    if not restrict(queryset, user, "view").filter(code=code).exists():
        raise FloorError(message % {"code": code[:40]}, code="unknown_code")


NO_WORK_CENTER = _("No work centre has the code %(code)s.")


# --- Choice sets, each named once in the schema -------------------------------------------------------------


@extend_schema_field({"type": "string", "enum": WorkOrder.Status.values}, component_name="WorkOrderStatus")
class WorkOrderStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=WorkOrder.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": WorkOrder.Kind.values}, component_name="WorkOrderKind")
class WorkOrderKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=WorkOrder.Kind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": WorkOrderOperation.Status.values}, component_name="WorkOrderOperationStatus"
)
class OperationStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=WorkOrderOperation.Status.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": ReportEvent.Action.values}, component_name="ReportAction")
class ReportActionField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ReportEvent.Action.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": DowntimeReason.values}, component_name="DowntimeReason")
class DowntimeReasonField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=DowntimeReason.choices, **kwargs)


REASONS_HELP = format_lazy(
    _("Why: for pause one of {pause}; for scrap one of {scrap}; otherwise may be blank."),
    pause=", ".join(PauseReason.values),
    scrap=", ".join(ScrapReason.values),
)

# --- Work orders and their operations -----------------------------------------------------------------------

QTY_HELP = {
    "std_minutes_per_unit": {"help_text": _("Standard run time per unit, in minutes.")},
    "setup_minutes": {"help_text": _("Set-up time for the batch, in minutes.")},
    "planned_start": {"help_text": _("When the step is planned to start; null if not scheduled.")},
    "planned_end": {"help_text": _("When the step is planned to end; null if not scheduled.")},
    "actual_start": {"help_text": _("First start press; null until started.")},
    "actual_end": {"help_text": _("Complete press; null until done.")},
    "good_qty": {"help_text": _("Good quantity reported so far; it is what the next step may process.")},
    "scrap_qty": {"help_text": _("Scrapped quantity reported so far.")},
    "rework_qty": {"help_text": _("Quantity sent to rework so far.")},
    "labour_minutes": {"help_text": _("Minutes spent running, counted at each pause and at completion.")},
    "last_event_at": {"help_text": _("When the last press was recorded; null before the first.")},
}


class WorkOrderOperationSerializer(serializers.ModelSerializer):
    operation = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the standard operation.")
    )
    operation_name = serializers.CharField(
        source="operation.name", read_only=True, help_text=_("Standard name of the operation, e.g. 冲压.")
    )
    work_center = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the work centre that does the step.")
    )
    work_center_name = serializers.CharField(
        source="work_center.name", read_only=True, help_text=_("Name of the work centre.")
    )
    status = OperationStatusField(read_only=True, help_text=_("pending (not started), running, paused or done."))

    class Meta:
        model = WorkOrderOperation
        fields = [
            "code",
            "sequence",
            "operation",
            "operation_name",
            "work_center",
            "work_center_name",
            "status",
            "std_minutes_per_unit",
            "setup_minutes",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "good_qty",
            "scrap_qty",
            "rework_qty",
            "labour_minutes",
            "last_event_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "code": {"help_text": _("Scan code of the step (LLOP-…), printed as a QR code on the traveller.")},
            "sequence": {"help_text": _("Position of the step in the work order's routing.")},
            **QTY_HELP,
        }


class WorkOrderOperationDetailSerializer(WorkOrderOperationSerializer):
    work_order = serializers.SlugRelatedField(
        slug_field="number", read_only=True, help_text=_("Number of the work order the step belongs to.")
    )
    work_order_kind = WorkOrderKindField(source="work_order.kind", read_only=True, help_text=_("Kind of work order."))
    work_order_status = WorkOrderStatusField(
        source="work_order.status", read_only=True, help_text=_("Status of the work order.")
    )
    work_order_qty = serializers.DecimalField(
        source="work_order.qty",
        max_digits=14,
        decimal_places=3,
        read_only=True,
        help_text=_("Quantity the work order is for."),
    )
    item = serializers.CharField(source="work_order.item.code", read_only=True, help_text=_("Material code made."))
    item_name = serializers.CharField(source="work_order.item.name", read_only=True, help_text=_("Name of the item."))
    unit = serializers.CharField(source="work_order.item.unit", read_only=True, help_text=_("Unit of measure."))

    class Meta(WorkOrderOperationSerializer.Meta):
        fields = [
            "work_order",
            "work_order_kind",
            "work_order_status",
            "work_order_qty",
            "item",
            "item_name",
            "unit",
            *WorkOrderOperationSerializer.Meta.fields,
        ]
        read_only_fields = fields


class WorkOrderSerializer(serializers.ModelSerializer):
    kind = WorkOrderKindField(read_only=True, help_text=_("normal; rework (fixes another step's defects); trial."))
    status = WorkOrderStatusField(read_only=True, help_text=_("planned, in_progress, completed or cancelled."))
    item = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Material code to make."))
    item_name = serializers.CharField(source="item.name", read_only=True, help_text=_("Name of the item."))
    item_specification = serializers.CharField(
        source="item.specification", read_only=True, help_text=_("Specification of the item; may be blank.")
    )
    unit = serializers.CharField(source="item.unit", read_only=True, help_text=_("Unit of measure of the item."))
    sales_order = serializers.CharField(
        source="order_line.order.number",
        read_only=True,
        allow_null=True,
        help_text=_("Number of the sales order it is made for; null if none."),
    )
    parent = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text=_("Number of the work order this one's output goes into; null if none."),
    )
    rework_of = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("For rework: scan code of the operation whose defects it fixes; null otherwise."),
    )

    class Meta:
        model = WorkOrder
        fields = [
            "number",
            "kind",
            "status",
            "item",
            "item_name",
            "item_specification",
            "unit",
            "qty",
            "due_date",
            "planned_start",
            "planned_end",
            "sales_order",
            "parent",
            "rework_of",
            "erp_number",
            "created_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "number": {"help_text": _("Work order number, unique; the key URLs and other systems use.")},
            "qty": {"help_text": _("Quantity to make, in the item's unit.")},
            "due_date": {"help_text": _("When it must be done; null if not set.")},
            "planned_start": {"help_text": _("Planned start; null if not scheduled.")},
            "planned_end": {"help_text": _("Planned end; null if not scheduled.")},
            "erp_number": {"help_text": _("The production order's number in the ERP; may be blank.")},
            "created_at": {"help_text": _("When the work order was created.")},
        }


class WorkOrderDetailSerializer(WorkOrderSerializer):
    operations = WorkOrderOperationSerializer(
        many=True, read_only=True, help_text=_("The steps of the work order, in sequence, with their totals.")
    )

    class Meta(WorkOrderSerializer.Meta):
        fields = [*WorkOrderSerializer.Meta.fields, "operations"]
        read_only_fields = fields


class WorkOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=WorkOrder.Status.choices, help_text=_("Only work orders so."))
    kind = django_filters.ChoiceFilter(choices=WorkOrder.Kind.choices, help_text=_("Only work orders of this kind."))
    item = django_filters.CharFilter(field_name="item__code", help_text=_("Material code of the item made."))
    sales_order = django_filters.CharFilter(
        field_name="order_line__order__number", help_text=_("Number of the sales order they are made for.")
    )
    due_date = django_filters.DateFromToRangeFilter(
        help_text=_("Due date: due_date_after ≤ due_date ≤ due_date_before, as YYYY-MM-DD; either end may be left out.")
    )

    class Meta:
        model = WorkOrder
        fields = ["status", "kind", "item", "sales_order", "due_date"]


NUMBER = OpenApiParameter("number", str, OpenApiParameter.PATH, description="Number of the work order.")


@extend_schema_view(
    list=extend_schema(
        summary="List work orders",
        description=(
            "Work orders, newest first (cursor-paginated: follow `next`), without their operations; filter by "
            "status, kind, item, sales order and due date; search the number and the ERP number. "
            "Needs production.view_workorder."
        ),
    ),
    retrieve=extend_schema(
        summary="One work order with its operations",
        description=(
            "One work order by its number, with every operation in sequence: scan code, work centre, status, "
            "planned and actual times, good / scrap / rework quantities and labour minutes. "
            "Needs production.view_workorder."
        ),
        parameters=[NUMBER],
        responses={200: WorkOrderDetailSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["shop floor"])
class WorkOrderViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Work orders (read-only)."""

    queryset = WorkOrder.objects.select_related("item", "parent", "order_line__order", "rework_of")
    pagination_class = CursorPagination
    lookup_field = "number"
    lookup_value_regex = CODE_LOOKUP_REGEX
    filterset_class = WorkOrderFilter
    search_fields = ["number", "erp_number"]
    ordering_fields = ["created_at"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[WorkOrder]:
        work_orders = super().get_queryset()
        if self.action == "retrieve":
            steps = WorkOrderOperation.objects.select_related("operation", "work_center").order_by("sequence")
            work_orders = work_orders.prefetch_related(Prefetch("operations", queryset=steps))
        return work_orders

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return WorkOrderDetailSerializer if self.action == "retrieve" else WorkOrderSerializer


@extend_schema_view(
    retrieve=extend_schema(
        summary="One work-order operation by its scan code",
        description=(
            "The step a traveller's QR code names (LLOP-…), with its work order and the totals reported so far: "
            "what an MES reads after its presses. Needs production.view_workorderoperation."
        ),
        parameters=[
            OpenApiParameter("code", str, OpenApiParameter.PATH, description="Scan code of the operation (LLOP-…).")
        ],
        responses={200: WorkOrderOperationDetailSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["shop floor"])
class WorkOrderOperationViewSet(RestrictedQuerysetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Work-order operations, by scan code (read-only)."""

    queryset = WorkOrderOperation.objects.select_related("work_order__item", "operation", "work_center")
    serializer_class = WorkOrderOperationDetailSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX


# --- Report events -------------------------------------------------------------------------------------------

QTY_FIELD = {"max_digits": 14, "decimal_places": 3, "min_value": 0, "required": False}


class ReportEventSerializer(serializers.ModelSerializer):
    operation = serializers.CharField(
        source="operation.code", read_only=True, help_text=_("Scan code of the operation pressed on.")
    )
    work_order = serializers.CharField(
        source="operation.work_order.number", read_only=True, help_text=_("Number of the operation's work order.")
    )
    action = ReportActionField(read_only=True, help_text=_("start, pause, resume, report or complete."))
    operator = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text=_("Username of the operator who pressed.")
    )
    operator_name = serializers.CharField(
        source="operator.get_full_name", read_only=True, help_text=_("Name of the operator, family name first.")
    )
    photo = serializers.ImageField(
        read_only=True, allow_null=True, help_text=_("URL of the photo taken with the press; null if none.")
    )

    class Meta:
        model = ReportEvent
        fields = [
            "id",
            "operation",
            "work_order",
            "action",
            "good_qty",
            "scrap_qty",
            "rework_qty",
            "reason",
            "note",
            "photo",
            "operator",
            "operator_name",
            "client_uuid",
            "client_at",
            "at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": _("Id of the report event.")},
            "good_qty": {"help_text": _("Good quantity reported with this press.")},
            "scrap_qty": {"help_text": _("Scrap reported with this press.")},
            "rework_qty": {"help_text": _("Quantity sent to rework with this press.")},
            "reason": {"help_text": _("Pause or scrap reason code; may be blank.")},
            "note": {"help_text": _("The operator's note; may be blank.")},
            "client_uuid": {"help_text": _("The UUID the device gave the press.")},
            "client_at": {"help_text": _("When the press happened by the device's clock; null if not sent.")},
            "at": {"help_text": _("When Loopline recorded the press.")},
        }


class ReportEventCreateSerializer(SharedFieldsMixin, serializers.Serializer):
    operation_code = serializers.CharField(max_length=32, help_text=_("Scan code of the operation (LLOP-…)."))
    action = ReportActionField(help_text=_("start, pause, resume, report (quantities) or complete (may carry some)."))
    client_uuid = serializers.UUIDField(
        help_text=_(
            "A UUID the device makes once per press and sends again on every retry: a repeat is answered with the "
            "first answer and counted once."
        )
    )
    good_qty = serializers.DecimalField(
        **QTY_FIELD, default=0, help_text=_("Good quantity to add; only with report or complete.")
    )
    scrap_qty = serializers.DecimalField(
        **QTY_FIELD, default=0, help_text=_("Scrap to add (needs a scrap reason); only with report or complete.")
    )
    rework_qty = serializers.DecimalField(
        **QTY_FIELD, default=0, help_text=_("Quantity to send to rework; only with report or complete.")
    )
    reason = serializers.CharField(max_length=32, required=False, allow_blank=True, default="", help_text=REASONS_HELP)
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text=_("A note from the operator.")
    )
    client_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text=_("When the press happened by the device's clock.")
    )
    photo = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("A photo of the problem, JPEG, PNG or WebP (multipart/form-data only); the size is limited."),
    )


class PressResultSerializer(serializers.Serializer):
    """The answer to a press, as the tablet shows it; a repeated press gets the first answer again."""

    event_id = serializers.IntegerField(help_text=_("Id of the report event the press recorded."))
    operation_code = serializers.CharField(help_text=_("Scan code of the operation."))
    action = ReportActionField(help_text=_("The action pressed."))
    status = OperationStatusField(help_text=_("Status of the operation after the press."))
    good_qty = serializers.CharField(help_text=_("The operation's good total after the press, as a decimal string."))
    scrap_qty = serializers.CharField(help_text=_("The operation's scrap total after the press, as a decimal string."))
    rework_qty = serializers.CharField(
        help_text=_("The operation's rework total after the press, as a decimal string.")
    )
    labour_minutes = serializers.CharField(help_text=_("The operation's labour minutes after the press."))
    work_order_status = WorkOrderStatusField(help_text=_("Status of the work order after the press."))
    at = serializers.DateTimeField(help_text=_("When the press was recorded."))
    duplicate = serializers.BooleanField(
        help_text=_("True when this press's UUID had been recorded before: nothing changed this time.")
    )


class ReportEventFilter(django_filters.FilterSet):
    operation = django_filters.CharFilter(field_name="operation__code", help_text=_("Scan code of the operation."))
    work_order = django_filters.CharFilter(
        field_name="operation__work_order__number", help_text=_("Number of the work order.")
    )
    operator = django_filters.CharFilter(field_name="operator__username", help_text=_("Username of the operator."))
    action = django_filters.ChoiceFilter(
        choices=ReportEvent.Action.choices, help_text=_("Only presses of this action.")
    )
    at = DateTimeFromToRangeFilter(
        help_text=_(
            "When the press was recorded: at_after ≤ at ≤ at_before, ISO 8601 with a time zone, "
            "e.g. 2026-03-01T00:00:00+08:00; either end may be left out."
        )
    )

    class Meta:
        model = ReportEvent
        fields = ["operation", "work_order", "operator", "action", "at"]


class CorrectPermissions(permissions.BasePermission):
    """Team leaders (their teams' work centres) and the production manager (every one) may correct; which
    presses and downtimes are then in reach is decided by production.corrections (others answer 404)."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user.is_authenticated and may_correct(request.user))


CORRECTED_QTY = {"max_digits": 14, "decimal_places": 3, "min_value": 0}
DELTA = {"max_digits": 14, "decimal_places": 3}


class ReportCorrectionSerializer(serializers.Serializer):
    good_qty = serializers.DecimalField(**CORRECTED_QTY, help_text=_("The good quantity the press should have had."))
    scrap_qty = serializers.DecimalField(**CORRECTED_QTY, help_text=_("The scrap the press should have had."))
    rework_qty = serializers.DecimalField(**CORRECTED_QTY, help_text=_("The rework the press should have had."))
    reason = serializers.CharField(max_length=500, help_text=_("Why, at least 4 characters; kept in the audit trail."))


class ReportCorrectionResultSerializer(serializers.Serializer):
    event_id = serializers.IntegerField(source="event.pk", help_text=_("Id of the corrected press."))
    operation_code = serializers.CharField(source="event.operation.code", help_text=_("Scan code of its operation."))
    good_delta = serializers.DecimalField(**DELTA, help_text=_("Change of the good total."))
    scrap_delta = serializers.DecimalField(**DELTA, help_text=_("Change of the scrap total."))
    rework_delta = serializers.DecimalField(**DELTA, help_text=_("Change of the rework total."))
    good_qty = serializers.DecimalField(
        source="event.operation.good_qty", **DELTA, help_text=_("The operation's good total now.")
    )
    scrap_qty = serializers.DecimalField(
        source="event.operation.scrap_qty", **DELTA, help_text=_("The operation's scrap total now.")
    )
    rework_qty = serializers.DecimalField(
        source="event.operation.rework_qty", **DELTA, help_text=_("The operation's rework total now.")
    )
    by = serializers.CharField(source="by.username", help_text=_("Username of who corrected."))
    at = serializers.DateTimeField(help_text=_("When the correction was recorded."))


CORRECT_SCOPE = (
    "Needs production.correct_reportevent (every work centre) or production.correct_team_reportevent (only the "
    "work centres of the teams the caller leads); anything else answers 404."
)


@extend_schema_view(
    list=extend_schema(
        summary="List report events",
        description=(
            "Every press on the floor, append-only, newest first (cursor-paginated: follow `next`); filter by "
            "operation, work order, operator, action and time. Needs production.view_reportevent."
        ),
    ),
    create=extend_schema(
        summary="Record a press",
        description=(
            "Applies one press (start, pause, resume, report, complete) to the operation with that scan code, as "
            "the signed-in user, in one transaction: the operation's status and totals change with it, and the "
            "first start puts the work order in progress, the last completion completes it. Answers 201 with the "
            "result. A press whose client_uuid was recorded before changes nothing and answers 200 with the "
            "first result (its `duplicate` true), so a device may retry until it gets an answer. A photo is sent "
            "as multipart/form-data. Needs production.add_reportevent."
        ),
        request={
            "application/json": ReportEventCreateSerializer,
            "multipart/form-data": ReportEventCreateSerializer,
        },
        responses={
            201: OpenApiResponse(PressResultSerializer, description="The press was recorded."),
            200: OpenApiResponse(PressResultSerializer, description="A repeat of a recorded press: the first result."),
            400: ERRORS[400],
            403: ERRORS[403],
            409: ERRORS[409],
        },
    ),
)
@extend_schema(tags=["shop floor"])
class ReportEventViewSet(
    RestrictedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Operators' presses: read them, or record one."""

    queryset = ReportEvent.objects.select_related("operation__work_order", "operator").defer("result")
    serializer_class = ReportEventSerializer
    pagination_class = CursorPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_class = ReportEventFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["at"]
    ordering = ["-at", "-id"]

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = ReportEventCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        press = body.validated_data
        # The visible operations go into the service's one locked lookup: no separate visibility query.
        visible = restrict(WorkOrderOperation.objects.all(), request.user, "view")
        result: PressResult = _floor_call(report_event_record, operator=request.user, operations=visible, **press)
        # PressResultSerializer documents this answer; the result's fields are already the strings it would give,
        # and building a serializer for every press was a tenth of the request's time.
        return Response(result.as_dict(), status=status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED)

    @extend_schema(
        summary="Correct the quantities of a press",
        description=(
            "Sets what the press should have reported; the press itself stays as it was and a correction records "
            "the differences, by which the operation's totals move. Refused with `qty_exceeds_input` when the "
            "step would have processed more than it received, `qty_below_next_step` when it would keep fewer good "
            "pieces than the next step processed, `reason_required` without a reason. Audited. " + CORRECT_SCOPE
        ),
        request=ReportCorrectionSerializer,
        responses={200: ReportCorrectionResultSerializer, **{code: ERRORS[code] for code in (400, 403, 404, 409)}},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CorrectPermissions],
        filter_backends=[],
        parser_classes=[JSONParser, FormParser],
    )
    def correct(self, request: Request, pk: str | None = None) -> Response:
        if not correctable_events(request.user).filter(pk=_id(pk)).exists():
            raise NotFound  # out of reach: as absent as a press that does not exist, whatever the body
        body = ReportCorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = _floor_call(report_event_correct, event_id=_id(pk), by=request.user, **body.validated_data)
        return Response(ReportCorrectionResultSerializer(correction).data)


# --- Downtime ------------------------------------------------------------------------------------------------


class DowntimeSerializer(serializers.ModelSerializer):
    work_center = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the work centre that stopped.")
    )
    work_center_name = serializers.CharField(
        source="work_center.name", read_only=True, help_text=_("Name of the work centre.")
    )
    reason = DowntimeReasonField(read_only=True, help_text=_("Why it stopped."))
    open = serializers.SerializerMethodField(help_text=_("True while the work centre is still stopped."))
    photo = serializers.ImageField(read_only=True, allow_null=True, help_text=_("URL of the photo; null if none."))
    reported_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text=_("Username of who reported the stop.")
    )
    ended_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text=_("Username of who ended it; null if open.")
    )

    class Meta:
        model = Downtime
        fields = [
            "id",
            "work_center",
            "work_center_name",
            "reason",
            "note",
            "photo",
            "started_at",
            "ended_at",
            "open",
            "reported_by",
            "ended_by",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": _("Id of the downtime.")},
            "note": {"help_text": _("What happened; may be blank.")},
            "started_at": {"help_text": _("When the stop was reported.")},
            "ended_at": {"help_text": _("When the work centre ran again; null while stopped.")},
        }

    def get_open(self, downtime: Downtime) -> bool:
        return downtime.ended_at is None


class DowntimeStartSerializer(serializers.Serializer):
    work_center_code = serializers.CharField(max_length=32, help_text=_("Code of the work centre that stopped."))
    reason = DowntimeReasonField(help_text=_("Why it stopped."))
    client_uuid = serializers.UUIDField(
        help_text=_("A UUID the device makes once per press and sends again on retries; a repeat changes nothing.")
    )
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text=_("What happened.")
    )
    photo = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("A photo (e.g. of a damaged mould), JPEG, PNG or WebP; multipart/form-data only."),
    )


class DowntimeEndSerializer(serializers.Serializer):
    work_center_code = serializers.CharField(max_length=32, help_text=_("Code of the work centre running again."))
    client_uuid = serializers.UUIDField(
        help_text=_("A UUID the device makes once per press and sends again on retries; a repeat changes nothing.")
    )


class DowntimeCorrectionSerializer(serializers.Serializer):
    reason = DowntimeReasonField(required=False, help_text=_("The right reason; left out: unchanged."))
    started_at = serializers.DateTimeField(required=False, help_text=_("When it really stopped; left out: unchanged."))
    ended_at = serializers.DateTimeField(required=False, help_text=_("When it really ran again; left out: unchanged."))
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text=_("A corrected note; left out: unchanged.")
    )


class DowntimeFilter(django_filters.FilterSet):
    work_center = django_filters.CharFilter(field_name="work_center__code", help_text=_("Code of the work centre."))
    reason = django_filters.ChoiceFilter(choices=DowntimeReason.choices, help_text=_("Only stops for this reason."))
    open = django_filters.BooleanFilter(
        field_name="ended_at",
        lookup_expr="isnull",
        help_text=_("true: only stops still going on; false: only ended ones."),
    )
    started_at = DateTimeFromToRangeFilter(
        help_text=_(
            "When the stop began: started_at_after ≤ started_at ≤ started_at_before, ISO 8601 with a time zone, "
            "e.g. 2026-03-01T00:00:00+08:00; either end may be left out."
        )
    )

    class Meta:
        model = Downtime
        fields = ["work_center", "reason", "open", "started_at"]


@extend_schema_view(
    list=extend_schema(
        summary="List downtime",
        description=(
            "Stops of work centres with their reasons, newest first (cursor-paginated: follow `next`); filter by "
            "work centre, reason, open and start time. Needs production.view_downtime."
        ),
    ),
    create=extend_schema(
        summary="Report that a work centre stopped",
        description=(
            "Opens a downtime of the work centre with the reason, as the signed-in user. Answers 201 when this "
            "press opened it; 200 with the open downtime when the work centre was already stopped or the "
            "client_uuid was sent before (nothing changes then). Needs production.add_downtime."
        ),
        request={"application/json": DowntimeStartSerializer, "multipart/form-data": DowntimeStartSerializer},
        responses={
            201: OpenApiResponse(DowntimeSerializer, description="The stop was recorded."),
            200: OpenApiResponse(DowntimeSerializer, description="Already stopped, or a repeated press."),
            400: ERRORS[400],
            403: ERRORS[403],
        },
    ),
)
@extend_schema(tags=["shop floor"])
class DowntimeViewSet(RestrictedQuerysetMixin, mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Work-centre stops: read them, report one, end one."""

    queryset = Downtime.objects.select_related("work_center", "reported_by", "ended_by")
    serializer_class = DowntimeSerializer
    pagination_class = CursorPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_class = DowntimeFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["started_at"]
    ordering = ["-started_at", "-id"]

    def _answer(self, downtime: Downtime, status_code: int) -> Response:
        # The caller just reported or ended this stop, so it is shown whatever their view permissions.
        downtime = Downtime.objects.select_related("work_center", "reported_by", "ended_by").get(pk=downtime.pk)
        return Response(self.get_serializer(downtime).data, status=status_code)

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = DowntimeStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stop = body.validated_data
        _check_visible(WorkCenter.objects.all(), request.user, stop["work_center_code"], NO_WORK_CENTER)
        repeated = Downtime.objects.filter(client_uuid=stop["client_uuid"]).exists()
        downtime = _floor_call(downtime_start, operator=request.user, **stop)
        opened = not repeated and downtime.client_uuid == stop["client_uuid"]
        return self._answer(downtime, status.HTTP_201_CREATED if opened else status.HTTP_200_OK)

    @extend_schema(
        summary="Report that a work centre runs again",
        description=(
            "Ends the work centre's open downtime, as the signed-in user, and answers with it. A repeated "
            "client_uuid answers the same downtime again. 409 `not_stopped` if the work centre is not stopped. "
            "Needs production.change_downtime."
        ),
        request=DowntimeEndSerializer,
        responses={200: DowntimeSerializer, 400: ERRORS[400], 403: ERRORS[403], 409: ERRORS[409]},
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[ChangeModelPermissions],
        filter_backends=[],
        pagination_class=None,
        parser_classes=[JSONParser, FormParser],
    )
    def end(self, request: Request) -> Response:
        body = DowntimeEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        press = body.validated_data
        _check_visible(WorkCenter.objects.all(), request.user, press["work_center_code"], NO_WORK_CENTER)
        downtime = _floor_call(downtime_end, operator=request.user, **press)
        return self._answer(downtime, status.HTTP_200_OK)

    @extend_schema(
        summary="Correct a downtime",
        description=(
            "Changes the reason, note, start or end of a stop (e.g. reported late or with the wrong reason); the "
            "old values go to the audit trail. A stop cannot end before it starts or lie in the future. "
            + CORRECT_SCOPE
        ),
        request=DowntimeCorrectionSerializer,
        responses={200: DowntimeSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[CorrectPermissions],
        filter_backends=[],
        pagination_class=None,
        parser_classes=[JSONParser, FormParser],
    )
    def correct(self, request: Request, pk: str | None = None) -> Response:
        if not correctable_downtimes(request.user).filter(pk=_id(pk)).exists():
            raise NotFound
        body = DowntimeCorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        downtime = downtime_correct(downtime_id=_id(pk), by=request.user, **body.validated_data)
        return self._answer(downtime, status.HTTP_200_OK)
