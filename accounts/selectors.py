"""Reads for accounts pages."""

from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.roles import Role


def user_roles(user: User) -> list[Role]:
    """The roles a user holds, in the order of the role table."""
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in Role if role.value in names]


def is_operator(user: User) -> bool:
    """Operators share tablets, so their pages offer "switch operator" rather than "log out"."""
    return user.is_authenticated and user.groups.filter(name=Role.OPERATOR).exists()


def home_tiles(*, user: User) -> list[dict]:
    """The entry points a user's permissions open, for the home page."""
    tiles = []
    if user.is_staff:
        tiles.append(
            {
                "title": _("Administration"),
                "text": _("Users, roles, teams, items, BOMs, work centres, routings and warehouses."),
                "url": reverse("admin:index"),
            }
        )
    if user.has_perm("production.view_item"):
        tiles.append(
            {
                "title": _("Items and BOMs"),
                "text": _("Search items and see the multi-level bill of materials."),
                "url": reverse("production:item-list"),
            }
        )
    if user.has_perm("orders.view_salesorder"):
        tiles.append(
            {
                "title": _("Review queue"),
                "text": _("Orders waiting for customer service: map SKUs, fix addresses, approve or reject."),
                "url": reverse("integrations:review-queue"),
            }
        )
    if user.has_perm("integrations.view_syncrun"):
        tiles.append(
            {
                "title": _("Sync health"),
                "text": _("Each shop's last sync, success rate and errors; test a connection, poll now, export runs."),
                "url": reverse("integrations:sync-health"),
            }
        )
    if user.has_perm("orders.release_salesorder"):
        tiles.append(
            {
                "title": _("Release to production"),
                "text": _("Turn confirmed orders into scheduled work orders; see every work order's plan."),
                "url": reverse("orders:release"),
            }
        )
    if user.has_perm("production.add_reportevent"):
        tiles.append(
            {
                "title": _("Shop floor"),
                "text": _("Scan an operation and report start, pause, quantities, downtime and photos."),
                "url": reverse("floor:page"),
            }
        )
    if is_operator(user):
        tiles.append(
            {
                "title": _("Switch operator"),
                "text": _("Hand the tablet to the next operator: scan a badge or type a PIN."),
                "url": reverse("accounts:switch-operator"),
                "post": True,
            }
        )
    tiles.append(
        {
            "title": _("API documentation"),
            "text": _("The REST API for MES, WMS and BI systems, described by OpenAPI."),
            "url": reverse("api-docs"),
        }
    )
    return tiles
