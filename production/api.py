"""REST API of production master data: items and their BOMs, warehouses and stock, work centres, operations.

Thin: serializers parse and render, writes call production.services (validated, audited), reads that need
more than a queryset call production.selectors. Related objects are named by their codes, not database ids.
"""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import (
    ErrorSerializer,
    Pagination,
    RestrictedQuerysetMixin,
)
from production import filters, services
from production.models import BomLine, Item, Operation, RoutingStep, StockLevel, Warehouse, WorkCenter, Workshop
from production.selectors import bom_explode, operation_resolve
from production.stock import may_use_stock, stock_adjust, stock_count, stock_levels_for

# Codes appear in URLs (/items/{code}/), so they may hold dots (Kingdee codes look like 1.01.001) but no slash.
CODE_LOOKUP_REGEX = "[^/]+"

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input or a broken business rule."),
    404: OpenApiResponse(ErrorSerializer, description="No such object, or not visible to the caller."),
}
WRITE_ERRORS = {400: ERRORS[400]}


def code_parameter(description: str) -> OpenApiParameter:
    return OpenApiParameter("code", str, OpenApiParameter.PATH, description=description)


ITEM_CODE = code_parameter("Material code of the item.")

# --- Items --------------------------------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["code", "name", "specification", "category", "unit", "kind", "active", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            "code": {"help_text": _("Material code (物料编码), unique; the key other systems and URLs use.")},
            "name": {"help_text": _("Item name, e.g. 轴承座.")},
            "specification": {"help_text": _("Specification / model (规格型号); may be blank.")},
            "category": {"help_text": _("Product category used by filters and dashboards; may be blank.")},
            "unit": {"help_text": _("Unit of measure, e.g. PCS, KG.")},
            "kind": {"help_text": _("finished, semi (semi-finished), raw (raw material) or purchased.")},
            "active": {"help_text": _("False once the item is retired; retired items stay for history.")},
            "updated_at": {"help_text": _("When the item last changed.")},
        }

    def validate_code(self, value: str) -> str:
        # The code is the item's address in URLs (/items/{code}/).
        if "/" in value or any(char.isspace() for char in value):
            raise serializers.ValidationError(_("A material code cannot contain a slash or spaces."))
        return value


class ItemUpdateSerializer(ItemSerializer):
    """An item's fields except its code: other systems key on the code, so it never changes."""

    class Meta(ItemSerializer.Meta):
        read_only_fields = ["code", "updated_at"]


class ItemSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["code", "name", "unit", "kind"]
        extra_kwargs = {
            "code": {"help_text": _("Material code.")},
            "name": {"help_text": _("Item name.")},
            "unit": {"help_text": _("Unit of measure.")},
            "kind": {"help_text": _("finished, semi, raw or purchased.")},
        }


class BomQuerySerializer(serializers.Serializer):
    qty = serializers.DecimalField(
        max_digits=18,
        decimal_places=6,
        required=False,
        default=Decimal(1),
        help_text=_("How many of the item to make; every component quantity is for this many. Default 1."),
    )

    def validate_qty(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError(_("The quantity must be greater than zero."))
        return value


class BomRowSerializer(serializers.Serializer):
    level = serializers.IntegerField(help_text=_("1 for the item's direct components, 2 for theirs, and so on."))
    path = serializers.ListField(
        child=serializers.CharField(), help_text=_("Material codes from the root down to this component.")
    )
    parent_code = serializers.CharField(help_text=_("Material code of the item this component goes into."))
    code = serializers.CharField(help_text=_("Material code of the component."))
    name = serializers.CharField(help_text=_("Name of the component."))
    unit = serializers.CharField(help_text=_("Unit of measure of the component."))
    kind = serializers.ChoiceField(choices=Item.Kind.choices, help_text=_("Kind of the component."))
    qty_per = serializers.DecimalField(
        max_digits=18, decimal_places=6, help_text=_("Quantity of the component per one parent.")
    )
    scrap_pct = serializers.DecimalField(
        max_digits=6, decimal_places=3, help_text=_("Expected scrap of the component, in percent.")
    )
    qty = serializers.DecimalField(
        max_digits=None,
        decimal_places=6,
        help_text=_(
            "Quantity needed for the requested amount: parent qty × qty_per × (1 + scrap_pct / 100), "
            "rounded to 6 decimal places."
        ),
    )


class BomTotalSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Material code of the component."))
    name = serializers.CharField(help_text=_("Name of the component."))
    unit = serializers.CharField(help_text=_("Unit of measure of the component."))
    kind = serializers.ChoiceField(choices=Item.Kind.choices, help_text=_("Kind of the component."))
    qty = serializers.DecimalField(
        max_digits=None,
        decimal_places=6,
        help_text=_("Total need across every place the component occurs, rounded to 6 decimal places."),
    )


class BomExplosionSerializer(serializers.Serializer):
    root = ItemSummarySerializer(help_text=_("The exploded item."))
    qty = serializers.DecimalField(
        max_digits=18, decimal_places=6, help_text=_("The requested quantity of the root item.")
    )
    depth = serializers.IntegerField(help_text=_("Number of BOM levels below the root (0 if it has no BOM)."))
    rows = BomRowSerializer(many=True, help_text=_("Every occurrence of a component, depth first in BOM order."))
    totals = BomTotalSerializer(many=True, help_text=_("Total need per component, by material code."))


@extend_schema_view(
    list=extend_schema(
        summary="List items",
        description="Items with filters by kind, category and active, search on code and name, and ordering.",
    ),
    retrieve=extend_schema(
        summary="One item",
        description="One item by its material code.",
        parameters=[ITEM_CODE],
        responses={200: ItemSerializer, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Create an item",
        description="Creates an item and records who did it in the audit trail. Needs production.add_item.",
        responses={201: ItemSerializer, **WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Replace an item's fields",
        description="Changes every field but the code (which never changes). Needs production.change_item.",
        parameters=[ITEM_CODE],
        responses={200: ItemSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of an item's fields",
        description="Changes the given fields; the audit trail keeps what changed. Needs production.change_item.",
        parameters=[ITEM_CODE],
        responses={200: ItemSerializer, **ERRORS},
    ),
)
@extend_schema(tags=["items"])
class ItemViewSet(
    RestrictedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Items (物料): finished goods, semi-finished parts, raw materials and purchased parts."""

    queryset = Item.objects.all()
    pagination_class = Pagination
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    filterset_class = filters.ItemFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "kind", "category", "updated_at"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ItemUpdateSerializer
        return ItemSerializer

    def perform_create(self, serializer: ItemSerializer) -> None:
        serializer.instance = services.item_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: ItemSerializer) -> None:
        serializer.instance = services.item_update(
            item=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    @extend_schema(
        summary="Multi-level BOM explosion",
        description=(
            "The item's bill of materials exploded to every level for `qty` of the item, with each component's "
            "accumulated quantity (parent qty × qty_per × (1 + scrap_pct / 100)) and the total per component. "
            "A non-numeric or non-positive `qty` is refused with 400; a BOM that loops answers 400 with code "
            "`bom_cycle` and the loop in the detail. Needs production.view_item."
        ),
        parameters=[ITEM_CODE, BomQuerySerializer],
        responses={200: BomExplosionSerializer, **ERRORS},
    )
    @action(detail=True, methods=["get"], url_path="bom", filter_backends=[], pagination_class=None)
    def bom(self, request: Request, code: str | None = None) -> Response:
        item = self.get_object()
        query = BomQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        explosion = bom_explode(item=item, qty=query.validated_data["qty"])
        return Response(BomExplosionSerializer(explosion).data)


# --- BOM lines ----------------------------------------------------------------------------------------


class BomLineSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Item.objects.all(),
        help_text=_("Material code of the parent item (finished or semi-finished)."),
    )
    child = serializers.SlugRelatedField(
        slug_field="code", queryset=Item.objects.all(), help_text=_("Material code of the component.")
    )
    child_name = serializers.CharField(source="child.name", read_only=True, help_text=_("Name of the component."))
    child_unit = serializers.CharField(
        source="child.unit", read_only=True, help_text=_("Unit of measure of the component.")
    )

    class Meta:
        model = BomLine
        fields = ["id", "parent", "child", "child_name", "child_unit", "sequence", "qty_per", "scrap_pct"]
        # The service names a duplicate component itself (code bom_duplicate), more clearly than a unique-set error.
        validators = []
        extra_kwargs = {
            "id": {"help_text": _("Id of the BOM line.")},
            "sequence": {"help_text": _("Order of the line within the parent's BOM (default 10).")},
            "qty_per": {"help_text": _("Quantity of the component per one parent; greater than zero.")},
            "scrap_pct": {"help_text": _("Expected scrap of the component in percent, 0 ≤ scrap_pct < 100.")},
        }

    def validate_qty_per(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError(_("The quantity per parent must be greater than zero."))
        return value

    def validate_scrap_pct(self, value: Decimal) -> Decimal:
        if not 0 <= value < 100:
            raise serializers.ValidationError(_("Scrap is a percentage from 0 up to, but not including, 100."))
        return value


class BomLineUpdateSerializer(BomLineSerializer):
    """A BOM line whose quantity and scrap may change; to move a component, delete the line and add another."""

    parent = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Material code of the parent item.")
    )
    child = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Material code of the component.")
    )

    class Meta(BomLineSerializer.Meta):
        read_only_fields = ["sequence"]


@extend_schema_view(
    list=extend_schema(
        summary="List BOM lines",
        description="Single-level BOM lines; filter by `parent` to read one BOM, by `child` for where-used.",
    ),
    retrieve=extend_schema(summary="One BOM line", responses={200: BomLineSerializer, 404: ERRORS[404]}),
    create=extend_schema(
        summary="Add a component to a BOM",
        description=(
            "Adds `child` to the BOM of `parent`. Refused with 400 and code `bom_cycle` (the loop named in the "
            "detail) if the parent is, at any depth, already inside the child; code `bom_duplicate` if the child "
            "is already in that BOM; code `bom_parent_not_made` if the parent is raw or purchased. Audited. "
            "Needs production.add_bomline."
        ),
        responses={201: BomLineSerializer, **WRITE_ERRORS},
    ),
    update=extend_schema(
        summary="Change a component's quantity and scrap",
        description="Only qty_per and scrap_pct change. Audited. Needs production.change_bomline.",
        responses={200: BomLineUpdateSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change a component's quantity or scrap",
        description="Only qty_per and scrap_pct change. Audited. Needs production.change_bomline.",
        responses={200: BomLineUpdateSerializer, **ERRORS},
    ),
    destroy=extend_schema(
        summary="Remove a component from a BOM",
        description="Audited. Needs production.delete_bomline.",
        responses={204: None, 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["items"])
class BomLineViewSet(RestrictedQuerysetMixin, viewsets.ModelViewSet):
    """Lines of bills of materials: one component of one parent item."""

    queryset = BomLine.objects.select_related("parent", "child")
    pagination_class = Pagination
    search_fields = ["parent__code", "child__code", "child__name"]
    filterset_class = filters.BomLineFilter
    ordering_fields = ["id", "sequence", "parent__code", "child__code"]

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return BomLineUpdateSerializer
        return BomLineSerializer

    def perform_create(self, serializer: BomLineSerializer) -> None:
        serializer.instance = services.bom_line_add(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: BomLineSerializer) -> None:
        serializer.instance = services.bom_line_update(
            line=serializer.instance,
            by=self.request.user,
            qty_per=serializer.validated_data.get("qty_per"),
            scrap_pct=serializer.validated_data.get("scrap_pct"),
        )

    def perform_destroy(self, instance: BomLine) -> None:
        services.bom_line_remove(line=instance, by=self.request.user)


# --- Warehouses and stock -----------------------------------------------------------------------------


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["code", "name", "address", "erp_code", "active"]
        extra_kwargs = {
            "code": {"help_text": _("Unique code of the warehouse.")},
            "name": {"help_text": _("Name, e.g. 成品仓.")},
            "address": {"help_text": _("Where it is; may be blank.")},
            "erp_code": {"help_text": _("The warehouse's code in the ERP; may be blank.")},
            "active": {"help_text": _("False once the warehouse is no longer used.")},
        }


class StockLevelSerializer(serializers.ModelSerializer):
    warehouse = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Code of the warehouse."))
    item = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Material code of the item."))
    item_name = serializers.CharField(source="item.name", read_only=True, help_text=_("Name of the item."))
    unit = serializers.CharField(source="item.unit", read_only=True, help_text=_("Unit of measure of the item."))

    class Meta:
        model = StockLevel
        fields = ["id", "warehouse", "item", "item_name", "unit", "qty_on_hand", "updated_at"]
        extra_kwargs = {
            "id": {"help_text": _("Id of the stock level.")},
            "qty_on_hand": {"help_text": _("Quantity on hand, in the item's unit.")},
            "updated_at": {"help_text": _("When the quantity was last set.")},
        }


@extend_schema_view(
    list=extend_schema(summary="List warehouses", description="Stock locations. Needs production.view_warehouse."),
    retrieve=extend_schema(
        summary="One warehouse",
        parameters=[code_parameter("Code of the warehouse.")],
        responses={200: WarehouseSerializer, 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["stock"])
class WarehouseViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Warehouses (read-only)."""

    queryset = Warehouse.objects.all()
    pagination_class = Pagination
    serializer_class = WarehouseSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]


class StockPermissions(permissions.BasePermission):
    """Stock opens to holders of the model permission and to keepers of some warehouse; which levels they then
    see or change is decided by production.stock (a level of another warehouse answers 404)."""

    def has_permission(self, request: Request, view) -> bool:
        action = "view" if request.method in permissions.SAFE_METHODS else "change"
        return bool(request.user.is_authenticated and may_use_stock(request.user, action))


class StockCountSerializer(serializers.Serializer):
    counted = serializers.DecimalField(
        max_digits=18, decimal_places=4, min_value=0, help_text=_("The quantity found on hand, in the item's unit.")
    )
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text=_("A note for the audit trail.")
    )


class StockAdjustSerializer(serializers.Serializer):
    delta = serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        help_text=_("How much to add to the quantity on hand; negative to take away. Never below zero in all."),
    )
    reason = serializers.CharField(max_length=500, help_text=_("Why the stock changes, at least 4 characters."))


STOCK_SCOPE = (
    "Holders of production.view_stocklevel see every level; a warehouse keeper sees only the stock of the "
    "warehouses IT assigned them (production.keep_warehouse per warehouse); any other level answers 404."
)


@extend_schema_view(
    list=extend_schema(
        summary="List stock levels", description="On-hand quantity per item and warehouse. " + STOCK_SCOPE
    ),
    retrieve=extend_schema(
        summary="One stock level", description=STOCK_SCOPE, responses={200: StockLevelSerializer, 404: ERRORS[404]}
    ),
)
@extend_schema(tags=["stock"])
class StockLevelViewSet(viewsets.ReadOnlyModelViewSet):
    """Stock on hand, restricted to the levels the user may view; counts and adjustments by its keepers."""

    pagination_class = Pagination
    search_fields = ["item__code", "item__name"]
    serializer_class = StockLevelSerializer
    permission_classes = [StockPermissions]
    filterset_class = filters.StockLevelFilter
    ordering_fields = ["id", "warehouse__code", "item__code", "qty_on_hand", "updated_at"]

    def get_queryset(self):
        action = "view" if self.request.method in permissions.SAFE_METHODS else "change"
        return stock_levels_for(self.request.user, action)

    @extend_schema(
        summary="Record a stock count",
        description=(
            "The quantity on hand becomes the counted quantity; the old and new quantities and the note go to "
            "the audit trail. Needs production.change_stocklevel, or keeping the level's warehouse "
            "(another warehouse's level answers 404)."
        ),
        request=StockCountSerializer,
        responses={200: StockLevelSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def count(self, request: Request, pk: str | None = None) -> Response:
        level = self.get_object()  # out of reach: 404 before the body is even read
        body = StockCountSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        level = stock_count(level=level, by=request.user, **body.validated_data)
        return Response(StockLevelSerializer(level).data)

    @extend_schema(
        summary="Adjust stock",
        description=(
            "Adds `delta` (negative to take away) to the quantity on hand with a reason, refused with code "
            "`stock_negative` if it would go below zero; audited. Needs production.change_stocklevel, or keeping "
            "the level's warehouse (another warehouse's level answers 404)."
        ),
        request=StockAdjustSerializer,
        responses={200: StockLevelSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def adjust(self, request: Request, pk: str | None = None) -> Response:
        level = self.get_object()  # out of reach: 404 before the body is even read
        body = StockAdjustSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        level = stock_adjust(level=level, by=request.user, **body.validated_data)
        return Response(StockLevelSerializer(level).data)


# --- Workshops, work centres, operations, routings ----------------------------------------------------


class WorkshopSerializer(serializers.ModelSerializer):
    class Meta:
        model = Workshop
        fields = ["code", "name"]
        extra_kwargs = {
            "code": {"help_text": _("Unique code of the workshop.")},
            "name": {"help_text": _("Name, e.g. 冲压车间.")},
        }


class WorkCenterSerializer(serializers.ModelSerializer):
    workshop = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Code of the workshop."))
    workshop_name = serializers.CharField(source="workshop.name", read_only=True, help_text=_("Name of the workshop."))
    team = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text=_("Code of the team running it; null if none.")
    )

    class Meta:
        model = WorkCenter
        fields = ["code", "name", "workshop", "workshop_name", "team", "erp_code", "capacity_hours_per_day", "active"]
        extra_kwargs = {
            "code": {"help_text": _("Unique code of the work centre.")},
            "name": {"help_text": _("Name of the machine or line.")},
            "erp_code": {"help_text": _("The work centre's code in the ERP; may be blank.")},
            "capacity_hours_per_day": {"help_text": _("Hours of work it can do per day (0 to 24).")},
            "active": {"help_text": _("False once the work centre is retired.")},
        }


class OperationSerializer(serializers.ModelSerializer):
    aliases = serializers.SlugRelatedField(
        slug_field="alias",
        many=True,
        read_only=True,
        help_text=_("Other spellings that mean this operation, stored normalised (half-width, no spaces)."),
    )

    class Meta:
        model = Operation
        fields = ["code", "name", "description", "aliases"]
        extra_kwargs = {
            "code": {"help_text": _("Unique code of the operation.")},
            "name": {"help_text": _("Standard name, e.g. 精磨.")},
            "description": {"help_text": _("What the operation does; may be blank.")},
        }


class OperationResolveQuerySerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=100,
        help_text=_("A written operation name (standard name, code or alias, e.g. 细磨); width and case ignored."),
    )


class RoutingStepSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text=_("Material code of the item."))
    operation = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the standard operation.")
    )
    operation_name = serializers.CharField(
        source="operation.name", read_only=True, help_text=_("Standard name of the operation.")
    )
    work_center = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text=_("Code of the work centre.")
    )
    work_center_name = serializers.CharField(
        source="work_center.name", read_only=True, help_text=_("Name of the work centre.")
    )

    class Meta:
        model = RoutingStep
        fields = [
            "id",
            "item",
            "sequence",
            "operation",
            "operation_name",
            "work_center",
            "work_center_name",
            "std_minutes_per_unit",
            "setup_minutes",
        ]
        extra_kwargs = {
            "id": {"help_text": _("Id of the routing step.")},
            "sequence": {"help_text": _("Position of the step in the item's routing.")},
            "std_minutes_per_unit": {"help_text": _("Standard run time per unit, in minutes.")},
            "setup_minutes": {"help_text": _("Set-up time per batch, in minutes.")},
        }


@extend_schema_view(
    list=extend_schema(summary="List workshops", description="Needs production.view_workshop."),
    retrieve=extend_schema(
        summary="One workshop",
        parameters=[code_parameter("Code of the workshop.")],
        responses={200: WorkshopSerializer, 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["shop floor"])
class WorkshopViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Workshops (read-only)."""

    queryset = Workshop.objects.all()
    pagination_class = Pagination
    serializer_class = WorkshopSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]


@extend_schema_view(
    list=extend_schema(
        summary="List work centres",
        description="Machines and lines, filterable by workshop, team and active. Needs production.view_workcenter.",
    ),
    retrieve=extend_schema(
        summary="One work centre",
        parameters=[code_parameter("Code of the work centre.")],
        responses={200: WorkCenterSerializer, 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["shop floor"])
class WorkCenterViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Work centres (read-only)."""

    queryset = WorkCenter.objects.select_related("workshop", "team")
    pagination_class = Pagination
    serializer_class = WorkCenterSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    filterset_class = filters.WorkCenterFilter
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name", "workshop__code"]


@extend_schema_view(
    list=extend_schema(
        summary="List operations",
        description="Standard operations with their aliases. Needs production.view_operation.",
    ),
    retrieve=extend_schema(
        summary="One operation",
        parameters=[code_parameter("Code of the operation.")],
        responses={200: OperationSerializer, 404: ERRORS[404]},
    ),
)
@extend_schema(tags=["shop floor"])
class OperationViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Standard operations (read-only)."""

    queryset = Operation.objects.prefetch_related("aliases")
    pagination_class = Pagination
    serializer_class = OperationSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_LOOKUP_REGEX
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]

    @extend_schema(
        summary="Find the standard operation a name means",
        description=(
            "Maps a written name (standard name, code or any alias, ignoring full/half width, spaces and case) "
            "to the standard operation, e.g. 细磨 → 精磨. 404 if no operation is called that."
        ),
        parameters=[OperationResolveQuerySerializer],
        responses={200: OperationSerializer, **ERRORS},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def resolve(self, request: Request) -> Response:
        query = OperationResolveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        name = query.validated_data["name"]
        resolved = operation_resolve(name)
        operation = self.get_queryset().filter(pk=resolved.pk).first() if resolved else None
        if operation is None:
            raise NotFound(_("No operation is called “%(name)s”.") % {"name": name})
        return Response(self.get_serializer(operation).data)


@extend_schema_view(
    list=extend_schema(
        summary="List routing steps",
        description="Steps of items' routings; filter by `item` for one routing. Needs production.view_routingstep.",
    ),
    retrieve=extend_schema(summary="One routing step", responses={200: RoutingStepSerializer, 404: ERRORS[404]}),
)
@extend_schema(tags=["shop floor"])
class RoutingStepViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Routing steps (read-only)."""

    queryset = RoutingStep.objects.select_related("item", "operation", "work_center")
    pagination_class = Pagination
    search_fields = ["item__code", "operation__name"]
    serializer_class = RoutingStepSerializer
    filterset_class = filters.RoutingStepFilter
    ordering_fields = ["id", "item__code", "sequence"]
