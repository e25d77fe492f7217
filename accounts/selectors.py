"""Reads for accounts pages."""

from datetime import date

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import AuditEvent, User
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
    if user.has_perm("production.correct_reportevent") or user.has_perm("production.correct_team_reportevent"):
        tiles.append(
            {
                "title": _("Report corrections"),
                "text": _("Correct the quantities reported at your teams' work centres."),
                "url": reverse("production:report-list"),
            }
        )
    # Keepers hold no model permission on stock, only their warehouses (see production.stock).
    if user.has_perm("production.view_stocklevel") or user.groups.filter(name=Role.WAREHOUSE_KEEPER.value).exists():
        tiles.append(
            {
                "title": _("Stock"),
                "text": _("Stock on hand of your warehouses; record a count."),
                "url": reverse("production:stock-list"),
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
    if user.has_perm("production.view_machine_load"):
        tiles.append(
            {
                "title": _("Machine load"),
                "text": _("Planned hours against capacity per work centre and day, downtime by reason, OEE."),
                "url": reverse("analytics:load"),
            }
        )
    if user.has_perm("production.view_kpis"):
        tiles.append(
            {
                "title": _("KPI trends"),
                "text": _("Order processing time, error orders, plan achievement, sync success, labour per unit."),
                "url": reverse("analytics:kpis"),
            }
        )
    if user.has_perm("accounts.view_auditevent"):
        tiles.append(
            {
                "title": _("Audit trail"),
                "text": _("Who changed what, when and from where; filter and export to Excel."),
                "url": reverse("accounts:audit"),
            }
        )
    tiles.append(
        {
            "title": _("API documentation"),
            "text": _("The REST API for MES, WMS and BI systems, described by OpenAPI."),
            "url": reverse("api-docs"),
        }
    )
    if user.has_perm("integrations.view_wmsshipmentline"):
        tiles.append(
            {
                "title": _("Reconciliation"),
                "text": _("ERP sales outbound against WMS shipments: the deviation rate, its trend, what differs."),
                "url": reverse("integrations:reconciliation"),
            }
        )
    if user.has_perm("integrations.view_erpoutboundline"):
        tiles.append(
            {
                "title": _("Today's shipments"),
                "text": _("What left the warehouse today, per customer, channel and item."),
                "url": reverse("integrations:today-shipments"),
            }
        )
    if user.has_perm("orders.change_erppush"):
        tiles.append(
            {
                "title": _("ERP outbox"),
                "text": _("Orders on their way into the ERP; the ERP's errors; retry once fixed."),
                "url": reverse("integrations:erp-outbox"),
            }
        )
    return tiles


def audit_events(
    *,
    actor: str | None = None,
    action: str | None = None,
    object: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail, newest first, narrowed by who (user name, name or API key), what (action), which object
    (its name, id or type) and a range of days in the factory's time zone."""
    events = AuditEvent.objects.select_related("actor", "content_type", "api_key").order_by("-at", "-id")
    if actor:
        events = events.filter(
            Q(actor_label__icontains=actor)
            | Q(actor__username__icontains=actor)
            | Q(actor__last_name__icontains=actor)
            | Q(api_key__name__icontains=actor)
        )
    if action:
        events = events.filter(verb__icontains=action)
    if object:
        events = events.filter(
            Q(object_repr__icontains=object) | Q(object_id=object) | Q(content_type__model__iexact=object)
        )
    if date_from:
        events = events.filter(at__date__gte=date_from)
    if date_to:
        events = events.filter(at__date__lte=date_to)
    return events
