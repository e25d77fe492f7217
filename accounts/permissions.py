"""Permission checks shared by pages, the API and exports: restrict the queryset before fetching."""

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
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc
