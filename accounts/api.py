"""REST API of accounts (the signed-in user, teams) and the pieces every app's API shares.

Every viewset restricts its queryset through `accounts.permissions.restrict` before fetching, so an object a
user may not see answers 404, never 403; domain errors become `{"code", "detail"}` in `accounts.api_errors`.
"""

import copy

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import pagination, permissions, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Team, User
from accounts.permissions import ModelPermissions, restrict
from accounts.roles import Role
from accounts.selectors import user_roles

# --- Shared building blocks ---------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (see accounts.api_errors)."""

    code = serializers.CharField(help_text=_("Stable machine-readable code, e.g. invalid, bom_cycle, not_found."))
    detail = serializers.CharField(help_text=_("Human-readable explanation, in the request's language."))
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text=_(
            "For code 'invalid': the messages for each input field that was refused, as a list of messages; for a "
            "list or nested field, the messages keyed by position or by inner field."
        ),
    )


class SharedFieldsMixin:
    """For a serializer of plain input fields on a hot endpoint: each instance gets shallow copies of the declared
    fields rather than DRF's deep copies, which cost a tenth of a floor press. Safe for fields whose only
    per-instance state is what bind() sets (name, parent, label): not for nested or relational fields."""

    def get_fields(self) -> dict:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class Pagination(pagination.PageNumberPagination):
    """Django REST framework's page-number pagination, with its envelope described in the schema."""

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "Page number, from 1; a page past the last answers 404."
        return parameters

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        descriptions = {
            "count": "Number of objects matching the filters, over all pages.",
            "next": "URL of the next page; null on the last page.",
            "previous": "URL of the previous page; null on the first page.",
            "results": "The objects of this page.",
        }
        for name, description in descriptions.items():
            response["properties"][name]["description"] = description
        return response


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination for big, growing lists: a page never repeats or skips rows that arrive meanwhile.

    The order comes from the view's `ordering` (or the `ordering` parameter); the id is appended so that rows
    sharing a timestamp still come in one fixed order, which the cursor's offsets rely on.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        # DRF would quietly give the default for 0, a negative number or a word, and cut a larger number to the
        # maximum; a client asking for a size it cannot have is told so, in the field's name.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            message = _("Ask for 1 to %(max)d objects per page.") % {"max": self.max_page_size}
            raise serializers.ValidationError({self.page_size_query_param: [message]})
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
                parameter["description"] = (
                    f"Objects per page, 1 to {self.max_page_size} (default {self.page_size}); any other value "
                    "answers 400."
                )
        return parameters

    def get_ordering(self, request: Request, queryset: QuerySet, view) -> tuple[str, ...]:
        ordering = super().get_ordering(request, queryset, view)
        if not any(field.lstrip("-") in ("id", "pk") for field in ordering):
            ordering = (*ordering, "-id" if ordering[0].startswith("-") else "id")
        return ordering

    def get_paginated_response_schema(self, schema: dict) -> dict:
        response = super().get_paginated_response_schema(schema)
        descriptions = {
            "next": "URL of the next page (it carries an opaque cursor); null on the last page.",
            "previous": "URL of the previous page; null on the first page.",
            "results": "The objects of this page.",
        }
        for name, description in descriptions.items():
            response["properties"][name]["description"] = description
        return response


class RestrictedQuerysetMixin:
    """Limit a viewset's queryset to the objects the user may view, before anything is fetched."""

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, "view")


class ModelOrObjectPermissions(ModelPermissions):
    """Model permissions, except that reading is also open to holders of the view permission on some objects.

    Such a user (e.g. a warehouse keeper granted particular stock through django-guardian) then sees only
    those objects, because the viewset's queryset is restricted.
    """

    def has_permission(self, request, view) -> bool:
        if super().has_permission(request, view):
            return True
        if request.method not in permissions.SAFE_METHODS or not request.user.is_authenticated:
            return False
        return view.get_queryset().exists()


# --- The signed-in user -------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    leader = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text=_("Username of the team leader, who receives the team's alerts; null if none."),
    )

    class Meta:
        model = Team
        fields = ["code", "name", "leader"]
        extra_kwargs = {
            "code": {"help_text": _("Short unique code of the team, e.g. CY1.")},
            "name": {"help_text": _("Display name of the team, e.g. 冲压一班.")},
        }


class TeamSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["code", "name"]
        extra_kwargs = {
            "code": {"help_text": _("Short unique code of the team.")},
            "name": {"help_text": _("Display name of the team.")},
        }


class MeSerializer(serializers.ModelSerializer):
    """Who the caller is; deliberately without password, PIN or badge code."""

    full_name = serializers.CharField(
        source="get_full_name", read_only=True, help_text=_("Family name then given name, e.g. 李强.")
    )
    team = TeamSummarySerializer(read_only=True, allow_null=True, help_text=_("The shift team, or null."))
    roles = serializers.SerializerMethodField(help_text=_("The user's roles, in the order of the role table."))

    class Meta:
        model = User
        fields = ["username", "full_name", "employee_number", "team", "roles", "preferred_language"]
        read_only_fields = fields
        extra_kwargs = {
            "username": {"help_text": _("Login name.")},
            "employee_number": {"help_text": _("Employee number (工号), used with a PIN on tablets; may be null.")},
            "preferred_language": {"help_text": _("Language the user chose for pages and messages.")},
        }

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Role.choices)))
    def get_roles(self, user: User) -> list[str]:
        return [role.value for role in user_roles(user)]


class MeView(APIView):
    """The signed-in user."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        summary="The signed-in user",
        description="Username, name, employee number, team, roles and language of the caller. "
        "Any signed-in user may read this; no role is needed.",
        responses={200: MeSerializer, 403: ErrorSerializer},
        tags=["accounts"],
    )
    def get(self, request: Request) -> Response:
        user = User.objects.select_related("team").get(pk=request.user.pk)
        return Response(MeSerializer(user).data)


@extend_schema_view(
    list=extend_schema(summary="List teams", description="Shift teams with their leader. Needs accounts.view_team."),
    retrieve=extend_schema(
        summary="One team",
        description="One shift team by its code.",
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="Code of the team.")],
        responses={200: TeamSerializer, 404: ErrorSerializer},
    ),
)
@extend_schema(tags=["accounts"])
class TeamViewSet(RestrictedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Shift teams (read-only)."""

    queryset = Team.objects.select_related("leader")
    serializer_class = TeamSerializer
    pagination_class = Pagination
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
