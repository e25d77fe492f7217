"""REST API of the analytics: machine load, OEE, downtime Pareto and the trend KPIs, read-only.

Thin: the query parameters are parsed by a serializer, the figures come from dashboards.analytics, the same
selectors the pages and the Excel exports use.
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ErrorSerializer
from dashboards import analytics
from production.models import Workshop
from production.scheduling import FACTORY_TZ

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid query parameters."),
    403: OpenApiResponse(ErrorSerializer, description="Not signed in, or without the permission."),
}


def needs(permission: str) -> type[BasePermission]:
    """A DRF permission class requiring one model permission of the signed-in user."""

    class HasPermission(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.has_perm(permission))

    HasPermission.__name__ = f"Has_{permission.replace('.', '_')}"
    return HasPermission


class RangeQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="First day (Asia/Shanghai), inclusive. Default: Monday of the current week."
    )
    date_to = serializers.DateField(
        required=False, help_text="Last day, inclusive. Default: six days after date_from. At most 62 days in all."
    )
    workshop = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Workshop.objects.all(),
        required=False,
        help_text="Workshop code: only its work centres. Default: every workshop.",
    )

    def validate(self, data: dict) -> dict:
        today = timezone.now().astimezone(FACTORY_TZ).date()
        start = data.get("date_from") or today - timedelta(days=today.weekday())
        end = data.get("date_to") or start + timedelta(days=6)
        if end < start:
            raise serializers.ValidationError({"date_to": "The end date is before the start date."})
        if (end - start).days + 1 > analytics.MAX_RANGE_DAYS:
            raise serializers.ValidationError({"date_to": f"Choose at most {analytics.MAX_RANGE_DAYS} days."})
        workshop = data.get("workshop")
        return {"period": analytics.AnalyticsRange(start, end, workshop.pk if workshop else None)}


def _period(request: Request) -> analytics.AnalyticsRange:
    query = RangeQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["period"]


class LoadDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The calendar day.")
    planned_hours = serializers.FloatField(help_text="Planned hours of the work centre's operations on the day.")
    capacity_hours = serializers.FloatField(help_text="The work centre's capacity on the day, hours.")
    load_pct = serializers.FloatField(allow_null=True, help_text="Planned ÷ capacity, %; null without capacity.")
    over_capacity = serializers.BooleanField(help_text="Planned hours exceed the capacity.")


class LoadRowSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Work centre code.")
    name = serializers.CharField(help_text="Work centre name.")
    workshop_code = serializers.CharField(help_text="Code of the work centre's workshop.")
    capacity_hours_per_day = serializers.FloatField(help_text="Capacity hours per day.")
    planned_hours = serializers.FloatField(help_text="Planned hours over the whole range.")
    capacity_hours = serializers.FloatField(help_text="Capacity hours over the whole range.")
    load_pct = serializers.FloatField(allow_null=True, help_text="Planned ÷ capacity over the range, %.")
    over_capacity = serializers.BooleanField(help_text="Planned hours exceed the capacity over the range.")
    bottleneck = serializers.BooleanField(help_text="The work centre with the highest load over the range.")
    days = LoadDaySerializer(many=True, source="cells", help_text="One entry per day of the range.")


class MachineLoadSerializer(serializers.Serializer):
    date_from = serializers.DateField(help_text="First day of the range.")
    date_to = serializers.DateField(help_text="Last day of the range.")
    definition = serializers.CharField(help_text="How planned hours and load are computed.")
    work_centers = LoadRowSerializer(many=True, source="rows", help_text="Each active work centre.")


class OeeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Work centre code.")
    name = serializers.CharField(help_text="Work centre name.")
    workshop_code = serializers.CharField(help_text="Code of the work centre's workshop.")
    planned_minutes = serializers.FloatField(help_text="Working minutes of the days of the range, up to now.")
    downtime_minutes = serializers.FloatField(help_text="Downtime minutes inside those working minutes.")
    run_minutes = serializers.FloatField(help_text="Planned minus downtime minutes.")
    earned_minutes = serializers.FloatField(help_text="Σ standard minutes per unit × (good + scrap) reported.")
    good_qty = serializers.DecimalField(max_digits=16, decimal_places=3, help_text="Good quantity reported.")
    scrap_qty = serializers.DecimalField(max_digits=16, decimal_places=3, help_text="Scrap quantity reported.")
    availability_pct = serializers.FloatField(allow_null=True, help_text="(planned − downtime) ÷ planned, %.")
    performance_pct = serializers.FloatField(allow_null=True, help_text="Earned minutes ÷ run minutes, %.")
    quality_pct = serializers.FloatField(allow_null=True, help_text="Good ÷ (good + scrap), %.")
    oee_pct = serializers.FloatField(allow_null=True, help_text="Availability × performance × quality, %.")


class ParetoSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Downtime reason code.")
    label = serializers.CharField(help_text="The reason in the caller's language.")
    minutes = serializers.FloatField(help_text="Downtime minutes in the range (an open stop counts up to now).")
    count = serializers.IntegerField(help_text="Stops with this reason in the range.")
    share_pct = serializers.FloatField(help_text="Share of all downtime minutes, %.")
    cumulative_pct = serializers.FloatField(help_text="Cumulative share from the largest reason down, %.")


class KpiQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=["week", "month"], default="week", help_text="Points per week (Monday) or per calendar month."
    )


class KpiPointSerializer(serializers.Serializer):
    period_start = serializers.DateField(help_text="First day of the week or month.")
    value = serializers.FloatField(allow_null=True, help_text="The KPI; null when nothing was counted.")
    numerator = serializers.FloatField(help_text="What was counted above the line (seconds for processing time).")
    denominator = serializers.FloatField(help_text="What was counted below the line.")


class KpiSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable code of the KPI.")
    name = serializers.CharField(help_text="Name in the caller's language.")
    unit = serializers.CharField(help_text="Unit of the values.")
    definition = serializers.CharField(help_text="How the KPI is computed.")
    higher_is_better = serializers.BooleanField(help_text="Whether a rising value is good news.")
    period = serializers.CharField(help_text="week or month, as asked.")
    points = KpiPointSerializer(many=True, help_text="Oldest first; the current period last.")


RANGE_DOC = "Date range and workshop as on the machine-load page; needs production.view_machine_load."
VIEW_LOAD = needs("production.view_machine_load")


class MachineLoadView(APIView):
    """Planned hours vs capacity per work centre per day."""

    permission_classes = [IsAuthenticated, VIEW_LOAD]

    @extend_schema(
        tags=["analytics"],
        summary="Machine load",
        description=f"Planned hours against capacity per work centre and day, the bottleneck marked. {RANGE_DOC}",
        parameters=[RangeQuerySerializer],
        responses={200: MachineLoadSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        load = analytics.machine_load(period=_period(request))
        data = {
            "date_from": load.days[0],
            "date_to": load.days[-1],
            "definition": f"{analytics.DEFINITIONS['planned_hours']} {analytics.DEFINITIONS['load']}",
            "rows": load.rows,
        }
        return Response(MachineLoadSerializer(data).data)


class OeeView(APIView):
    """Availability, performance, quality and OEE per work centre."""

    permission_classes = [IsAuthenticated, VIEW_LOAD]

    @extend_schema(
        tags=["analytics"],
        summary="OEE per work centre",
        description=(
            "Availability = (planned time − downtime) ÷ planned time; performance = Σ (standard minutes × "
            "(good + scrap)) ÷ run time; quality = good ÷ (good + scrap); OEE = their product. Planned time is "
            f"the working hours of the days of the range up to now; trial runs are left out. {RANGE_DOC}"
        ),
        parameters=[RangeQuerySerializer],
        responses={200: OeeSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(OeeSerializer(analytics.oee(period=_period(request), now=timezone.now()), many=True).data)


class DowntimeParetoView(APIView):
    """Downtime per reason, largest first, with cumulative %."""

    permission_classes = [IsAuthenticated, VIEW_LOAD]

    @extend_schema(
        tags=["analytics"],
        summary="Downtime Pareto",
        description=f"Downtime minutes and stops per reason in the range, largest first. {RANGE_DOC}",
        parameters=[RangeQuerySerializer],
        responses={200: ParetoSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = analytics.downtime_pareto(period=_period(request), now=timezone.now())
        return Response(ParetoSerializer(rows, many=True).data)


class KpisView(APIView):
    """The trend KPIs per week or month."""

    permission_classes = [IsAuthenticated, needs("production.view_kpis")]

    @extend_schema(
        tags=["analytics"],
        summary="KPI trends",
        description=(
            "Order processing time, error-order rate, plan achievement rate, sync pull success rate, ERP-vs-WMS "
            "deviation rate and labour minutes per unit for the last 12 weeks or months, each with its "
            "definition. Needs production.view_kpis."
        ),
        parameters=[KpiQuerySerializer],
        responses={200: KpiSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = KpiQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data["period"]
        rows = [
            {
                "code": kpi.code,
                "name": kpi.name,
                "unit": kpi.unit,
                "definition": kpi.definition,
                "higher_is_better": kpi.higher_is_better,
                "period": period,
                "points": kpi.points(period),
            }
            for kpi in analytics.kpis(now=timezone.now())
        ]
        return Response(KpiSerializer(rows, many=True).data)
