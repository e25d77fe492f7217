"""The roles of Loopline's users, as Django groups, and the model permissions each role holds.

The table is the single source of truth: data migrations call `sync_role_groups`, which creates the groups
and grants every listed permission whose model exists at that point; later apps add their models'
permissions here and call it again from their own data migration.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    SALES = "sales", _("Sales")
    OPERATOR = "operator", _("Operator")
    TEAM_LEADER = "team_leader", _("Team leader")
    PRODUCTION_MANAGER = "production_manager", _("Production manager")
    WAREHOUSE_KEEPER = "warehouse_keeper", _("Warehouse keeper")
    FINANCE = "finance", _("Finance")
    IT_ADMIN = "it_admin", _("IT admin")


# Roles whose members work in the admin site (is_staff is set for them by the user services).
STAFF_ROLES = {Role.IT_ADMIN, Role.PRODUCTION_MANAGER}

_MASTER_DATA = [
    "item",
    "bomline",
    "warehouse",
    "workshop",
    "workcenter",
    "operation",
    "operationalias",
    "routingstep",
]


def _perms(app_label: str, actions: list[str], models_: list[str]) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models_ for action in actions]


_VIEW_MASTER_DATA = _perms("production", ["view"], _MASTER_DATA)

_READ_ORDERS = _perms("orders", ["view"], ["salesorder", "orderline", "orderissue"])
_FLOOR = ["workorder", "workorderoperation", "reportevent", "downtime"]
_READ_FLOOR = _perms("production", ["view"], _FLOOR)
GANTT = "production.view_gantt_workorder"
ORDER_PROGRESS = "production.view_progress_workorder"
# Prices and discounts of sales orders (accounts.permissions.PRICING_PERMISSION): not finance, not production.
PRICING = "orders.view_pricing_salesorder"
# Alerts: everyone named sees the rules; team leaders only their team's alerts; the production manager edits rules.
_ALERTS_ALL = ["dashboards.view_alert", "dashboards.acknowledge_alert", "dashboards.view_alertrule"]
MACHINE_LOAD = "production.view_machine_load"
KPIS = "production.view_kpis"
# Reconciliation reads ERP outbound against WMS shipments; today's shipments read the ERP outbound only.
_SHIPMENTS = "integrations.view_erpoutboundline"
_RECONCILE = ["integrations.view_wmsshipmentline", _SHIPMENTS]
_UPLOAD_WMS = "integrations.add_wmsshipmentline"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CUSTOMER_SERVICE: [
        *_perms("production", ["view"], ["item", "warehouse", "stocklevel"]),
        *_READ_ORDERS,
        "orders.view_erppush",
        "orders.review_salesorder",
        ORDER_PROGRESS,
        PRICING,
        *_perms("integrations", ["view"], ["channelaccount", "syncrun"]),
        *_perms("integrations", ["view", "add"], ["skumapping"]),
    ],
    Role.SALES: [
        *_perms("production", ["view"], ["item", "stocklevel", "workorder", "workorderoperation"]),
        *_READ_ORDERS,
        ORDER_PROGRESS,
        _SHIPMENTS,
        PRICING,
    ],
    Role.OPERATOR: [
        *_perms("production", ["view"], ["item", "workcenter", "operation", "routingstep"]),
        *_READ_FLOOR,
        "production.add_reportevent",
        *_perms("production", ["add", "change"], ["downtime"]),
    ],
    Role.TEAM_LEADER: [
        *_VIEW_MASTER_DATA,
        "accounts.view_team",
        "production.view_stocklevel",
        *_READ_FLOOR,
        "production.add_reportevent",
        *_perms("production", ["add", "change"], ["downtime"]),
        # Corrections only at the work centres of the teams they lead (Team.leader).
        "production.correct_team_reportevent",
        GANTT,
        "dashboards.view_team_alerts",
        "dashboards.acknowledge_alert",
        "dashboards.view_alertrule",
        MACHINE_LOAD,
    ],
    Role.PRODUCTION_MANAGER: [
        *_VIEW_MASTER_DATA,
        *_perms(
            "production",
            ["add", "change", "delete"],
            ["bomline", "operation", "operationalias", "routingstep"],
        ),
        *_perms("production", ["add", "change"], ["item", "workshop", "workcenter"]),
        "production.view_stocklevel",
        "accounts.view_team",
        "accounts.view_user",
        *_READ_ORDERS,
        "orders.release_salesorder",
        *_READ_FLOOR,
        *_perms("production", ["add", "change"], ["workorder", "workorderoperation", "downtime"]),
        "production.correct_reportevent",
        GANTT,
        ORDER_PROGRESS,
        *_ALERTS_ALL,
        "dashboards.change_alertrule",
        MACHINE_LOAD,
        KPIS,
        *_RECONCILE,
    ],
    Role.WAREHOUSE_KEEPER: [
        # Stock only of the warehouses IT assigns them (production.keep_warehouse per warehouse, django-guardian).
        *_perms("production", ["view"], ["item", "warehouse"]),
        *_RECONCILE,
        _UPLOAD_WMS,
    ],
    Role.FINANCE: [
        *_perms("production", ["view"], ["item", "warehouse", "stocklevel"]),
        *_READ_ORDERS,
        "integrations.view_syncrun",
        *_perms("production", ["view"], ["workorder", "workorderoperation"]),
        KPIS,
        *_RECONCILE,
        _UPLOAD_WMS,
    ],
    Role.IT_ADMIN: [
        *_perms("accounts", ["add", "change", "view"], ["user", "team"]),
        "accounts.view_auditevent",
        *_perms("accounts", ["add", "view", "revoke"], ["apikey"]),
        # Sign-in lockouts (django-axes): see who is locked out, and lift it by deleting the attempts.
        *_perms("axes", ["view", "delete"], ["accessattempt"]),
        "axes.view_accessfailurelog",
        *_perms("auth", ["view"], ["group"]),
        *_perms("production", ["add", "change", "delete", "view"], [*_MASTER_DATA, "stocklevel"]),
        *_READ_ORDERS,
        PRICING,
        *_READ_FLOOR,
        GANTT,
        *_perms("orders", ["view", "change"], ["erppush"]),
        *_perms("integrations", ["add", "change", "view"], ["erpconnection"]),
        # Approving over open issues is granted to named people (e.g. the customer-service lead) by IT.
        "orders.force_approve_salesorder",
        *_perms(
            "integrations",
            ["add", "change", "delete", "view"],
            ["channelaccount", "skumapping", "fieldmapping", "notifychannel"],
        ),
        *_perms("integrations", ["view"], ["syncrun", "notification"]),
        MACHINE_LOAD,
        KPIS,
        *_RECONCILE,
        _UPLOAD_WMS,
        *_perms(
            "django_celery_beat",
            ["add", "change", "delete", "view"],
            ["periodictask", "intervalschedule", "crontabschedule"],
        ),
        *_ALERTS_ALL,
        *_perms("dashboards", ["add", "change", "delete", "view"], ["teamalertchannel"]),
    ],
}


def sync_role_groups(apps, schema_editor=None) -> None:
    """Create one group per role holding exactly the permissions of ROLE_PERMISSIONS that exist so far: a
    permission taken out of the table is taken from the group too."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; create them now so the grants can refer to them.
    # Historical app configs have no models module, which makes create_permissions skip them; the live registry
    # (tests call this too) must get its own value back, or later post_migrate runs create no permissions at all.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _created = group_model.objects.get_or_create(name=role.value)
        granted = []
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                granted.append(permission)
        group.permissions.set(granted)
