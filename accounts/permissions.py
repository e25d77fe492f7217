"""Permission checks shared by pages, the API and exports: restrict the queryset before fetching."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user
from rest_framework.permissions import DjangoModelPermissions

from accounts.models import User


class ModelPermissions(DjangoModelPermissions):
    """Django's model permissions, with reading guarded by the view permission too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def restrict(queryset: QuerySet, user: User, action: str = "view") -> QuerySet:
    """The objects of `queryset` that `user` may `action`: all with the model permission, else per object."""
    model = queryset.model
    codename = f"{action}_{model._meta.model_name}"
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.has_perm(f"{model._meta.app_label}.{codename}"):
        return queryset
    return get_objects_for_user(user, codename, klass=queryset, accept_global_perms=False)


def get_for_user_or_404(queryset: QuerySet, user: User, action: str = "view", **lookup) -> Model:
    """One object the user may act on; an object they may not see is as absent as one that does not exist."""
    try:
        return restrict(queryset, user, action).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        # An id of the wrong form ("T" for a number) names nothing, like an id that does not exist.
        raise Http404 from exc


# --- Field level: prices and discounts -----------------------------------------------------------------------

# Who may see what orders were sold for. Finance reconciles what buyers paid but must not see the discounts
# granted, so every amount from which a discount can be worked out is hidden with them: the unit prices and the
# goods total (goods − paid + shipping is the discount), the raw marketplace payload, and the figures an
# issue about prices quotes.
PRICING_PERMISSION = "orders.view_pricing_salesorder"
PRICING_FIELDS = frozenset({"goods_amount", "discount_amount", "unit_price", "discount", "payload"})
PRICING_ISSUE_CODES = frozenset({"PRICE_INVALID", "AMOUNT_MISMATCH"})


def sees_pricing(user: User | None) -> bool:
    """Whether `user` may see prices, discounts and the raw marketplace payload of sales orders."""
    return bool(user is not None and user.is_authenticated and user.has_perm(PRICING_PERMISSION))


def without_pricing(user: User | None, fields: Iterable[str]) -> list[str]:
    """`fields` minus the pricing fields unless the user may see pricing; the order of the rest is kept."""
    if sees_pricing(user):
        return list(fields)
    return [name for name in fields if name not in PRICING_FIELDS]


class HidePricingMixin:
    """A serializer that leaves out the pricing fields for callers without the pricing permission.

    The fields are absent from the answer, not blanked. Without a request, and while the OpenAPI schema is
    generated, every field stays: its description says who gets it.
    """

    def get_fields(self) -> dict:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None or getattr(self.context.get("view"), "swagger_fake_view", False):
            return fields
        visible = set(without_pricing(request.user, fields))
        return {name: value for name, value in fields.items() if name in visible}


def issue_data_for(user: User | None, code: str, data: dict) -> dict:
    """The facts of an order issue as `user` may see them: an issue about prices quotes nothing, and the raw
    payload an issue keeps (a change after confirmation keeps the marketplace's new payload) is left out."""
    if sees_pricing(user):
        return data
    if code in PRICING_ISSUE_CODES:
        return {}
    return {key: value for key, value in data.items() if key not in PRICING_FIELDS}
