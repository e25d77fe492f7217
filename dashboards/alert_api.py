"""REST API of alerts: the alerts a caller may see (a team leader: their team's), acknowledge and resolve them,
and the alert rules, which the production manager changes.

Thin: the queryset is restricted before fetching (an alert the caller may not see is a 404), state changes go
through dashboards.services, whose refusals answer with the common error body — 409 `alert_state` for a wrong
state, 400 `invalid` with `fields` for a bad rule value.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import CursorPagination, ErrorSerializer
from dashboards import services
from dashboards.alert_selectors import alerts_for_user
from dashboards.models import Alert, AlertKind, AlertRule, ChannelKind

ERRORS = {
    403: OpenApiResponse(ErrorSerializer, description="Not signed in, or lacking the permission the action needs."),
    404: OpenApiResponse(ErrorSerializer, description="No such alert, or not one the caller may see or act on."),
}


@extend_schema_field({"type": "string", "enum": AlertKind.values}, component_name="AlertKind")
class AlertKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=AlertKind.choices, **kwargs)


@extend_schema_field({"type": "string", "enum": Alert.State.values}, component_name="AlertState")
class AlertStateField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Alert.State.choices, **kwargs)


class SeesAlerts(permissions.BasePermission):
    """Holders of the view permission on all alerts, or on their own team's (team leaders)."""

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        if not user.has_perm("dashboards.view_alert") and not user.has_perm("dashboards.view_team_alerts"):
            return False
        return request.method in permissions.SAFE_METHODS or user.has_perm("dashboards.acknowledge_alert")


class AlertFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Alert.State.choices, help_text=_("Only alerts in this state."))
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices, help_text=_("Only alerts of this kind."))
    team = django_filters.CharFilter(field_name="team__code", help_text=_("Only alerts of the team with this code."))
    unresolved = django_filters.BooleanFilter(method="filter_unresolved", help_text=_("true: open or acknowledged."))

    class Meta:
        model = Alert
        fields = ["state", "kind", "team", "unresolved"]

    def filter_unresolved(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        return queryset.exclude(state=Alert.State.RESOLVED) if value else queryset.filter(state=Alert.State.RESOLVED)


class AlertSerializer(serializers.ModelSerializer):
    kind = AlertKindField(read_only=True, help_text=_("Which rule raised it."))
    state = AlertStateField(read_only=True, help_text=_("open → acknowledged → resolved."))
    team = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text=_("Code of the team concerned; null if none.")
    )
    workshop = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True, help_text=_("Code of the workshop concerned; null if none.")
    )
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("Who resolved it; null with a resolved state: it resolved itself when the condition cleared."),
    )

    class Meta:
        model = Alert
        fields = ["id", "kind", "subject_type", "subject_id", "subject_label", "level", "state", "escalation_level",
                  "team", "workshop", "message", "data", "breach_days", "first_seen_at", "last_seen_at",
                  "acknowledged_at", "acknowledged_by", "resolved_at", "resolved_by", "note"]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": _("Id of the alert.")},
            "subject_type": {"help_text": _("What the alert is about: operation, team, workshop, sales_order, "
                                            "channel_account, erp_outbox or erp_sync.")},
            "subject_id": {"help_text": _("Id of the subject (for erp_sync: connection id and kind of pull).")},
            "subject_label": {"help_text": _("The subject as people name it, e.g. a work order step or a shop.")},
            "level": {"help_text": _("warning, or critical once escalated.")},
            "message": {"help_text": _("What is wrong, in the site's language, as it was sent.")},
            "data": {"help_text": _("The figures behind the message, e.g. completion_pct, planned_qty.")},
            "first_seen_at": {"help_text": _("When the condition was first found.")},
            "last_seen_at": {"help_text": _("When the condition was last confirmed by an evaluation.")},
            "acknowledged_at": {"help_text": _("When someone acknowledged it; null if nobody has.")},
            "resolved_at": {"help_text": _("When it was resolved, by a person or by itself; null while unresolved.")},
            "note": {"help_text": _("The last remark given on acknowledging or resolving; 'cleared' if it resolved "
                                    "itself.")},
            "escalation_level": {"help_text": _("0: the team leader (or IT); 1: the production manager too.")},
            "breach_days": {"help_text": _("Daily completion: working days in a row below the threshold.")},
            "acknowledged_by": {"help_text": _("Username of who acknowledged it.")},
        }  # fmt: skip


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, help_text=_("Optional remark."))


@extend_schema_view(
    list=extend_schema(summary="Alerts", description="The alerts the caller may see, newest first."),
    retrieve=extend_schema(summary="One alert", description="One alert the caller may see."),
)
@extend_schema(tags=["alerts"])
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts raised by the rules; a team leader sees only their own team's."""

    serializer_class = AlertSerializer
    permission_classes = [SeesAlerts]
    pagination_class = CursorPagination
    filterset_class = AlertFilter
    search_fields = ["subject_label", "message"]
    ordering_fields = ["last_seen_at", "first_seen_at"]
    ordering = ["-last_seen_at", "-id"]
    queryset = Alert.objects.none()

    def get_queryset(self) -> QuerySet[Alert]:
        return alerts_for_user(self.request.user).select_related("team", "workshop", "acknowledged_by",
                                                                  "resolved_by")  # fmt: skip

    def _act(self, request: Request, pk: str | None, service) -> Response:
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            alert_id = int(pk or "")
        except ValueError:
            raise services.AlertNotFound() from None
        alert = service(alert_id=alert_id, by=request.user, note=body.validated_data.get("note", ""))
        return Response(AlertSerializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(
        summary="Acknowledge an alert",
        description=(
            "Someone is on it: open → acknowledged, recording who and when. An alert that is not open answers 409 "
            "with code `alert_state`. Needs dashboards.acknowledge_alert; a team leader may act only on their "
            "team's alerts (others answer 404)."
        ),
        request=NoteSerializer,
        responses={200: AlertSerializer, 409: ErrorSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, services.alert_acknowledge)

    @extend_schema(
        summary="Resolve an alert",
        description=(
            "Done: open or acknowledged → resolved, recording who and when. A resolved alert answers 409 with code "
            "`alert_state`. If the condition still holds, the next evaluation opens a new alert."
        ),
        request=NoteSerializer,
        responses={200: AlertSerializer, 409: ErrorSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, services.alert_resolve)


class AlertRuleSerializer(serializers.ModelSerializer):
    kind = AlertKindField(read_only=True, help_text=_("The kind of alert this rule raises; one rule per kind."))
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=ChannelKind.choices),
        required=False,
        help_text=_("Where the alerts go: any of sms, dingtalk, wecom, email."),
    )
    updated_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text=_("Who changed the rule last.")
    )

    class Meta:
        model = AlertRule
        fields = ["kind", "enabled", "threshold", "check_hour", "escalate_after_days", "channels", "updated_at",
                  "updated_by"]  # fmt: skip
        read_only_fields = ["kind", "updated_at", "updated_by"]
        extra_kwargs = {
            "enabled": {"help_text": _("false: the rule raises nothing.")},
            "updated_at": {"help_text": _("When the rule was last changed.")},
            "threshold": {
                "help_text": _("In the kind's unit: hours (stall), percent (daily completion), days of margin "
                               "(order at risk), failed runs in a row (sync), dead pushes (ERP).")
            }
        }  # fmt: skip


KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, description="The kind of alert, e.g. operation_stalled.")


@extend_schema_view(
    list=extend_schema(summary="Alert rules", description="Every rule, one per kind of alert, with its settings."),
    retrieve=extend_schema(summary="One alert rule", description="One rule's settings.", parameters=[KIND]),
    partial_update=extend_schema(
        summary="Change an alert rule",
        description="Thresholds, check hour, escalation days, channels, on/off. Needs dashboards.change_alertrule.",
        parameters=[KIND],
        responses={200: AlertRuleSerializer, 400: ErrorSerializer, **ERRORS},
    ),
)
@extend_schema(tags=["alerts"])
class AlertRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                       viewsets.GenericViewSet):  # fmt: skip
    """The alert rules, one per kind."""

    queryset = AlertRule.objects.select_related("updated_by").order_by("kind")
    serializer_class = AlertRuleSerializer
    lookup_field = "kind"
    pagination_class = None
    filter_backends: list = []
    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer: AlertRuleSerializer) -> None:
        rule = services.alert_rule_update(rule=serializer.instance, by=self.request.user,
                                          **serializer.validated_data)  # fmt: skip
        serializer.instance = rule
