"""The permission matrix: every role × every page and API endpoint × read / write → the expected answer.

One table, `MATRIX`, names for every URL pattern who may read it (GET) and who may write to it (its write
method with an empty or minimal body, inside a rolled-back savepoint). For everyone else the answer must be:
anonymous → the sign-in page (pages) or 401/403 (API); a signed-in role → 403 (405 when the role may use the
other method but the URL has no such method), or 404 where the row names the role in `hidden` because the
object is outside what that role is scoped to. "Allowed" means the permission check let the request through:
any answer below 500 that is not 401, 403, 404, 405 or a sign-in redirect (a 400 for the empty body counts).

The admin site is classified per registered model in `ADMIN`: changelist (read) and add page (write).

`test_every_url_is_classified` walks the URL resolver and fails for any pattern missing here: a new page or
endpoint must get a row saying who may use it. For example:

    "dashboards:gantt": Row(read=roles(SALES, TL, PM, IT), write=NOBODY),           # a page
    "api-alert-acknowledge": api(read=NOBODY, write=roles(TL, PM), kwargs=lambda w: {"pk": ...}),  # an endpoint

`kwargs` builds the URL's arguments from the data of `build_world` (add what a new URL needs there).
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Team
from accounts.roles import Role
from dashboards.capacity_workbook import capacity_job_run, capacity_job_start
from dashboards.models import Alert
from integrations.models import ErpConnection, SkuMapping
from orders.models import ErpPush, OrderIssue, SalesOrder
from production.floor import downtime_start, report_event_record
from production.models import (
    BomLine,
    Item,
    ReportEvent,
    RoutingStep,
    StockLevel,
    Warehouse,
    WorkCenter,
    WorkOrder,
    WorkOrderOperation,
)
from production.stock import warehouse_set_keepers
from tests.conftest import make_user
from tests.integrations.builders import make_account, make_order, make_run
from tests.production.floor_builders import make_work_order

CS = Role.CUSTOMER_SERVICE
SALES = Role.SALES
OP = Role.OPERATOR
TL = Role.TEAM_LEADER
PM = Role.PRODUCTION_MANAGER
WK = Role.WAREHOUSE_KEEPER
FIN = Role.FINANCE
IT = Role.IT_ADMIN

ROLES = list(Role)
NOBODY: frozenset = frozenset()
EVERY_ROLE = frozenset(Role)
# Anyone, signed in or not (sign-in pages, health check, API description, HMAC-checked webhooks).
PUBLIC = "public"
ANONYMOUS = "anonymous"


def roles(*members: Role) -> frozenset:
    return frozenset(members)


def but(*excluded: Role) -> frozenset:
    return EVERY_ROLE - set(excluded)


@dataclass(frozen=True)
class Row:
    """Who may read (GET) and write one URL; `kwargs` builds its arguments from the test data."""

    read: frozenset | str
    write: frozenset | str
    kwargs: Callable[[dict], dict] = lambda w: {}
    kind: str = "page"  # page | api | floor (signs in on the tablet page)
    method: str = "post"  # the write method
    query: str = ""
    hidden: frozenset = field(default_factory=frozenset)  # roles for which the object is out of scope → 404
    # Object scoping: `outside` builds the arguments of an object out of the `scoped` roles' reach (another
    # warehouse, another team's work centre); those roles, allowed on the row's object, must get 404 for it.
    scoped: frozenset = field(default_factory=frozenset)
    outside: Callable[[dict], dict] | None = None


def api(read, write, **options) -> Row:
    return Row(read, write, kind="api", **options)


def floor(read, write, **options) -> Row:
    return Row(read, write, kind="floor", **options)


number = lambda w: {"number": w["order"].number}  # noqa: E731
item_code = lambda w: {"code": w["item"].code}  # noqa: E731

# Who reads orders: customer service, sales, the production manager (release), finance, IT.
ORDER_READERS = roles(CS, SALES, PM, FIN, IT)
FLOOR_PEOPLE = roles(OP, TL)
MASTER_DATA_READERS = roles(CS, SALES, OP, TL, PM, WK, FIN, IT)  # items: everyone with a role
STOCK_READERS = roles(CS, SALES, TL, PM, WK, FIN, IT)
# The keeper keeps WH1 only: a level of WH2 is out of their reach.
OTHER_WAREHOUSE = {"scoped": roles(WK), "outside": lambda w: {"pk": w["other_stock"].pk}}

MATRIX: dict[str, Row] = {
    # --- Sign-in, home, language, health -----------------------------------------------------------------
    "home": Row(read=EVERY_ROLE, write=NOBODY),
    "accounts:login": Row(read=PUBLIC, write=PUBLIC),
    "accounts:logout": Row(read=NOBODY, write=PUBLIC),
    "accounts:tablet-login": Row(read=PUBLIC, write=PUBLIC),
    "accounts:switch-operator": Row(read=NOBODY, write=PUBLIC),
    "accounts:language": Row(read=NOBODY, write=PUBLIC),
    "accounts:audit": Row(read=roles(IT), write=NOBODY),
    "accounts:audit-export": Row(read=roles(IT), write=NOBODY),
    "healthz": Row(read=PUBLIC, write=NOBODY),
    "shopify-webhook": Row(read=NOBODY, write=PUBLIC, kwargs=lambda w: {"account_code": w["account"].code}),
    # --- Master data pages -------------------------------------------------------------------------------
    "production:item-list": Row(read=MASTER_DATA_READERS, write=NOBODY),
    "production:item-detail": Row(read=MASTER_DATA_READERS, write=NOBODY, kwargs=item_code),
    # Stock: the keeper reaches it through the warehouse they keep (WH1 here); other warehouses: 404.
    "production:stock-list": Row(read=STOCK_READERS, write=NOBODY),
    "production:report-list": Row(read=roles(TL, PM), write=NOBODY),
    "production:report-correct": Row(
        read=NOBODY,
        write=roles(TL, PM),
        kwargs=lambda w: {"pk": w["event"].pk},
        scoped=roles(TL),
        outside=lambda w: {"pk": w["other_team_event"].pk},
    ),
    "production:stock-count": Row(
        read=NOBODY, write=roles(WK, IT), kwargs=lambda w: {"pk": w["stock"].pk}, **OTHER_WAREHOUSE
    ),
    "masterdata:index": Row(read=MASTER_DATA_READERS, write=NOBODY),
    "masterdata:import": Row(read=roles(PM, IT), write=roles(PM, IT), kwargs=lambda w: {"kind": "items"}),
    "masterdata:template": Row(read=roles(PM, IT), write=NOBODY, kwargs=lambda w: {"kind": "items"}),
    "masterdata:export": Row(read=MASTER_DATA_READERS, write=NOBODY, kwargs=lambda w: {"kind": "items"}),
    # --- The operators' tablet ---------------------------------------------------------------------------
    "floor:page": floor(read=FLOOR_PEOPLE, write=NOBODY),
    "floor:scan": floor(read=FLOOR_PEOPLE, write=NOBODY, query="code=LLOP-00011"),
    "floor:card": floor(read=FLOOR_PEOPLE, write=NOBODY, kwargs=lambda w: {"code": w["step"].code}),
    "floor:work-center": floor(read=FLOOR_PEOPLE, write=NOBODY, kwargs=lambda w: {"code": w["step"].work_center.code}),
    "floor:press": floor(read=NOBODY, write=FLOOR_PEOPLE),
    "floor:downtime": floor(read=NOBODY, write=FLOOR_PEOPLE),
    # --- Order intake: review queue, one order, sync health ---------------------------------------------
    "integrations:review-queue": Row(read=ORDER_READERS, write=NOBODY),
    "integrations:review-bulk": Row(read=NOBODY, write=roles(CS)),
    "integrations:item-search": Row(read=roles(CS), write=NOBODY),
    "integrations:orders-export": Row(read=ORDER_READERS, write=NOBODY),
    "integrations:order-review": Row(read=ORDER_READERS, write=NOBODY, kwargs=number),
    "integrations:order-map-sku": Row(read=NOBODY, write=roles(CS), kwargs=number),
    "integrations:order-receiver": Row(read=NOBODY, write=roles(CS), kwargs=number),
    "integrations:order-acknowledge": Row(read=NOBODY, write=roles(CS), kwargs=number),
    "integrations:order-resolve-change": Row(read=NOBODY, write=roles(CS), kwargs=number),
    "integrations:order-approve": Row(read=NOBODY, write=roles(CS), kwargs=number),
    # Approving over open issues is granted to named people by IT; no role holds it with the review right.
    "integrations:order-force-approve": Row(read=NOBODY, write=NOBODY, kwargs=number),
    "integrations:order-reject": Row(read=NOBODY, write=roles(CS), kwargs=number),
    "integrations:sync-health": Row(read=roles(CS, FIN, IT), write=NOBODY),
    "integrations:sync-export": Row(read=roles(CS, FIN, IT), write=NOBODY),
    "integrations:account-test": Row(read=NOBODY, write=roles(IT), kwargs=lambda w: {"pk": w["account"].pk}),
    "integrations:account-poll": Row(read=NOBODY, write=roles(IT), kwargs=lambda w: {"pk": w["account"].pk}),
    "integrations:erp-pull": Row(read=NOBODY, write=roles(IT), kwargs=lambda w: {"pk": w["erp"].pk}),
    "integrations:reconciliation": Row(read=roles(PM, WK, FIN, IT), write=NOBODY),
    "integrations:reconciliation-item-day": Row(
        read=roles(PM, WK, FIN, IT), write=NOBODY, query="day=2026-11-02&item=FG-1"
    ),
    "integrations:reconciliation-export": Row(read=roles(PM, WK, FIN, IT), write=NOBODY),
    "integrations:reconciliation-upload": Row(read=NOBODY, write=roles(WK, FIN, IT)),
    "integrations:today-shipments": Row(read=roles(SALES, PM, WK, FIN, IT), write=NOBODY),
    "integrations:erp-outbox": Row(read=roles(CS, IT), write=NOBODY),
    "integrations:erp-outbox-retry": Row(read=NOBODY, write=roles(IT), kwargs=lambda w: {"pk": w["push"].pk}),
    # --- Dashboards --------------------------------------------------------------------------------------
    "dashboards:gantt": Row(read=roles(TL, PM, IT), write=NOBODY),
    "dashboards:gantt-export": Row(read=roles(TL, PM, IT), write=NOBODY),
    "dashboards:work-order": Row(
        read=roles(TL, PM, IT), write=NOBODY, kwargs=lambda w: {"number": w["work_order"].number}
    ),
    "dashboards:order-progress": Row(read=roles(CS, SALES, PM), write=NOBODY),
    "dashboards:order-progress-export": Row(read=roles(CS, SALES, PM), write=NOBODY),
    "analytics:load": Row(read=roles(TL, PM, IT), write=NOBODY),
    "analytics:load-export": Row(read=roles(TL, PM, IT), write=NOBODY, kwargs=lambda w: {"table": "oee"}),
    "analytics:kpis": Row(read=roles(PM, FIN, IT), write=NOBODY),
    "analytics:kpis-export": Row(read=roles(PM, FIN, IT), write=NOBODY),
    "analytics:capacity": Row(read=roles(TL, PM, IT), write=roles(TL, PM, IT)),
    # A workbook belongs to whoever asked for it (the production manager here): others may not see it exists.
    "analytics:capacity-status": Row(
        read=roles(PM), write=NOBODY, kwargs=lambda w: {"job_id": w["capacity_job"]}, hidden=roles(TL, IT)
    ),
    "analytics:capacity-download": Row(
        read=roles(PM), write=NOBODY, kwargs=lambda w: {"job_id": w["capacity_job"]}, hidden=roles(TL, IT)
    ),
    # --- Alerts: team leaders see and act on their own team's, the production manager and IT on all --------
    "alerts:inbox": Row(read=roles(TL, PM, IT), write=NOBODY),
    "alerts:acknowledge": Row(read=NOBODY, write=roles(TL, PM, IT), kwargs=lambda w: {"pk": w["alert"].pk}),
    # Another team's alert is a 404 for a team leader: tests/dashboards/test_alert_pages.py.
    "alerts:resolve": Row(read=NOBODY, write=roles(TL, PM, IT), kwargs=lambda w: {"pk": w["alert"].pk}),
    "alerts:rules": Row(read=roles(TL, PM, IT), write=NOBODY),
    "alerts:rule-save": Row(read=NOBODY, write=roles(PM), kwargs=lambda w: {"kind": "operation_stalled"}),
    # --- Production planning pages -----------------------------------------------------------------------
    "orders:release": Row(read=roles(PM), write=roles(PM)),
    "orders:work-orders": Row(read=roles(PM), write=NOBODY),
    "print:traveller": Row(
        read=roles(SALES, OP, TL, PM, FIN, IT), write=NOBODY, kwargs=lambda w: {"number": w["work_order"].number}
    ),
    "print:travellers": Row(read=roles(SALES, OP, TL, PM, FIN, IT), write=NOBODY, query="numbers=WO-T-0001"),
    "print:work-center-labels": Row(read=roles(OP, TL, PM, IT), write=NOBODY),
    "print:badges": Row(read=roles(IT), write=NOBODY),
    # --- API: accounts -----------------------------------------------------------------------------------
    "api-me": api(read=EVERY_ROLE, write=NOBODY),
    "api-team-list": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-team-detail": api(read=roles(TL, PM, IT), write=NOBODY, kwargs=lambda w: {"code": w["team"].code}),
    # --- API: master data and stock ----------------------------------------------------------------------
    "api-item-list": api(read=MASTER_DATA_READERS, write=roles(PM, IT)),
    "api-item-detail": api(read=MASTER_DATA_READERS, write=roles(PM, IT), method="patch", kwargs=item_code),
    "api-item-bom": api(read=MASTER_DATA_READERS, write=NOBODY, kwargs=item_code),
    "api-bom-line-list": api(read=roles(TL, PM, IT), write=roles(PM, IT)),
    "api-bom-line-detail": api(
        read=roles(TL, PM, IT), write=roles(PM, IT), method="patch", kwargs=lambda w: {"pk": w["bom_line"].pk}
    ),
    "api-warehouse-list": api(read=roles(CS, TL, PM, WK, FIN, IT), write=NOBODY),
    "api-warehouse-detail": api(
        read=roles(CS, TL, PM, WK, FIN, IT), write=NOBODY, kwargs=lambda w: {"code": w["warehouse"].code}
    ),
    "api-stock-level-list": api(read=STOCK_READERS, write=NOBODY),
    "api-stock-level-count": api(
        read=NOBODY, write=roles(WK, IT), kwargs=lambda w: {"pk": w["stock"].pk}, **OTHER_WAREHOUSE
    ),
    "api-stock-level-adjust": api(
        read=NOBODY, write=roles(WK, IT), kwargs=lambda w: {"pk": w["stock"].pk}, **OTHER_WAREHOUSE
    ),
    "api-stock-level-detail": api(
        read=STOCK_READERS, write=NOBODY, kwargs=lambda w: {"pk": w["stock"].pk}, **OTHER_WAREHOUSE
    ),
    "api-workshop-list": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-workshop-detail": api(read=roles(TL, PM, IT), write=NOBODY, kwargs=lambda w: {"code": w["workshop"].code}),
    "api-work-center-list": api(read=roles(OP, TL, PM, IT), write=NOBODY),
    "api-work-center-detail": api(
        read=roles(OP, TL, PM, IT), write=NOBODY, kwargs=lambda w: {"code": w["step"].work_center.code}
    ),
    "api-operation-list": api(read=roles(OP, TL, PM, IT), write=NOBODY),
    "api-operation-resolve": api(read=roles(OP, TL, PM, IT), write=NOBODY, query="name=OP-BL"),
    "api-operation-detail": api(
        read=roles(OP, TL, PM, IT), write=NOBODY, kwargs=lambda w: {"code": w["step"].operation.code}
    ),
    "api-routing-step-list": api(read=roles(OP, TL, PM, IT), write=NOBODY),
    "api-routing-step-detail": api(
        read=roles(OP, TL, PM, IT), write=NOBODY, kwargs=lambda w: {"pk": w["routing_step"].pk}
    ),
    # --- API: orders and intake --------------------------------------------------------------------------
    "api-sales-order-list": api(read=ORDER_READERS, write=NOBODY),
    "api-sales-order-detail": api(read=ORDER_READERS, write=NOBODY, kwargs=number),
    "api-sales-order-approve": api(read=NOBODY, write=roles(CS), kwargs=number),
    "api-sales-order-force-approve": api(read=NOBODY, write=NOBODY, kwargs=number),
    "api-sales-order-receiver": api(read=NOBODY, write=roles(CS), kwargs=number),
    "api-sales-order-reject": api(read=NOBODY, write=roles(CS), kwargs=number),
    "api-order-issue-acknowledge": api(read=NOBODY, write=roles(CS), kwargs=lambda w: {"pk": w["issue"].pk}),
    "api-order-issue-resolve-change": api(read=NOBODY, write=roles(CS), kwargs=lambda w: {"pk": w["issue"].pk}),
    "api-channel-account-list": api(read=roles(CS, IT), write=NOBODY),
    "api-channel-account-detail": api(read=roles(CS, IT), write=NOBODY, kwargs=lambda w: {"code": w["account"].code}),
    "api-channel-account-poll": api(read=NOBODY, write=roles(IT), kwargs=lambda w: {"code": w["account"].code}),
    "api-channel-account-test": api(read=NOBODY, write=roles(IT), kwargs=lambda w: {"code": w["account"].code}),
    "api-sync-run-list": api(read=roles(CS, FIN, IT), write=NOBODY),
    "api-sync-run-detail": api(read=roles(CS, FIN, IT), write=NOBODY, kwargs=lambda w: {"pk": w["run"].pk}),
    "api-sku-mapping-list": api(read=roles(CS, IT), write=roles(CS, IT)),
    "api-sku-mapping-detail": api(
        read=roles(CS, IT), write=roles(IT), method="delete", kwargs=lambda w: {"pk": w["mapping"].pk}
    ),
    "api-erp-push-list": api(read=roles(CS, IT), write=NOBODY),
    "api-erp-push-detail": api(read=roles(CS, IT), write=NOBODY, kwargs=lambda w: {"pk": w["push"].pk}),
    "api-erp-pull-list": api(read=NOBODY, write=roles(IT)),
    "api-wms-shipment-list": api(read=roles(PM, WK, FIN, IT), write=roles(WK, FIN, IT)),
    "api-reconciliation-list": api(read=roles(PM, WK, FIN, IT), write=NOBODY),
    "api-reconciliation-periods": api(read=roles(PM, WK, FIN, IT), write=NOBODY),
    "api-today-shipments-list": api(read=roles(SALES, PM, WK, FIN, IT), write=NOBODY),
    "api-erp-push-retry": api(read=NOBODY, write=roles(IT), kwargs=lambda w: {"pk": w["push"].pk}),
    # --- API: shop floor ---------------------------------------------------------------------------------
    "api-work-order-list": api(read=roles(SALES, OP, TL, PM, FIN, IT), write=NOBODY),
    "api-work-order-detail": api(
        read=roles(SALES, OP, TL, PM, FIN, IT), write=NOBODY, kwargs=lambda w: {"number": w["work_order"].number}
    ),
    "api-work-order-operation-detail": api(
        read=roles(SALES, OP, TL, PM, FIN, IT), write=NOBODY, kwargs=lambda w: {"code": w["step"].code}
    ),
    "api-report-event-list": api(read=roles(OP, TL, PM, IT), write=roles(OP, TL)),
    "api-downtime-list": api(read=roles(OP, TL, PM, IT), write=roles(OP, TL, PM)),
    "api-downtime-end": api(read=NOBODY, write=roles(OP, TL, PM)),
    # Corrections: the production manager everywhere, a team leader at the work centres of the team they lead.
    "api-report-event-correct": api(
        read=NOBODY,
        write=roles(TL, PM),
        kwargs=lambda w: {"pk": w["event"].pk},
        scoped=roles(TL),
        outside=lambda w: {"pk": w["other_team_event"].pk},
    ),
    "api-downtime-correct": api(
        read=NOBODY,
        write=roles(TL, PM),
        kwargs=lambda w: {"pk": w["downtime"].pk},
        scoped=roles(TL),
        outside=lambda w: {"pk": w["other_team_downtime"].pk},
    ),
    # --- API: dashboards ---------------------------------------------------------------------------------
    "api-gantt": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-order-progress": api(read=roles(CS, SALES, PM), write=NOBODY),
    "api-machine-load": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-oee": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-downtime-pareto": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-kpis": api(read=roles(PM, FIN, IT), write=NOBODY),
    # --- API: alerts -------------------------------------------------------------------------------------
    "api-alert-list": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-alert-detail": api(read=roles(TL, PM, IT), write=NOBODY, kwargs=lambda w: {"pk": w["alert"].pk}),
    "api-alert-acknowledge": api(read=NOBODY, write=roles(TL, PM, IT), kwargs=lambda w: {"pk": w["alert"].pk}),
    "api-alert-resolve": api(read=NOBODY, write=roles(TL, PM, IT), kwargs=lambda w: {"pk": w["alert"].pk}),
    "api-alert-rule-list": api(read=roles(TL, PM, IT), write=NOBODY),
    "api-alert-rule-detail": api(
        read=roles(TL, PM, IT), write=roles(PM), method="patch", kwargs=lambda w: {"kind": "operation_stalled"}
    ),
    # --- API description ---------------------------------------------------------------------------------
    "api-schema": api(read=PUBLIC, write=NOBODY),
    "api-docs": Row(read=PUBLIC, write=NOBODY),
    "api-redoc": Row(read=PUBLIC, write=NOBODY),
}

# The admin site, per registered model: who may open the changelist, who may open the add form.
# Only staff roles (IT admin, production manager) reach the admin; anyone else is sent to its sign-in.
ADMIN: dict[str, tuple[frozenset, frozenset]] = {
    "auth.group": (roles(IT), NOBODY),
    "accounts.user": (roles(PM, IT), roles(IT)),
    "accounts.team": (roles(PM, IT), roles(IT)),
    "accounts.auditevent": (roles(IT), NOBODY),
    "accounts.apikey": (roles(IT), roles(IT)),
    # Sign-in lockouts (django-axes): IT sees them and lifts them by deleting; nobody adds one by hand.
    "axes.accessattempt": (roles(IT), NOBODY),
    "axes.accessfailurelog": (roles(IT), NOBODY),
    "axes.accesslog": (NOBODY, NOBODY),
    "dashboards.alert": (roles(PM, IT), NOBODY),
    "dashboards.alertrule": (roles(PM, IT), NOBODY),
    "dashboards.teamalertchannel": (roles(IT), roles(IT)),
    "production.item": (roles(PM, IT), roles(PM, IT)),
    "production.bomline": (roles(PM, IT), roles(PM, IT)),
    "production.warehouse": (roles(PM, IT), roles(IT)),
    "production.stocklevel": (roles(PM, IT), roles(IT)),
    "production.workshop": (roles(PM, IT), roles(PM, IT)),
    "production.workcenter": (roles(PM, IT), roles(PM, IT)),
    "production.operation": (roles(PM, IT), roles(PM, IT)),
    "production.routingstep": (roles(PM, IT), roles(PM, IT)),
    "production.workorder": (roles(PM, IT), roles(PM)),
    "production.reportevent": (roles(PM, IT), NOBODY),
    "production.downtime": (roles(PM, IT), roles(PM)),
    "orders.salesorder": (roles(PM, IT), NOBODY),
    "orders.erppush": (roles(IT), NOBODY),
    "integrations.channelaccount": (roles(IT), roles(IT)),
    "integrations.syncrun": (roles(IT), NOBODY),
    "integrations.skumapping": (roles(IT), roles(IT)),
    "integrations.notifychannel": (roles(IT), roles(IT)),
    "integrations.notification": (roles(IT), NOBODY),
    "integrations.erpconnection": (roles(IT), roles(IT)),
    "django_celery_beat.periodictask": (roles(IT), roles(IT)),
    "django_celery_beat.intervalschedule": (roles(IT), roles(IT)),
    "django_celery_beat.crontabschedule": (roles(IT), roles(IT)),
    "django_celery_beat.clockedschedule": (NOBODY, NOBODY),
    "django_celery_beat.solarschedule": (NOBODY, NOBODY),
}
# Admin URLs that are not a model's page: the admin's own sign-in and shared machinery.
ADMIN_PLUMBING = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:app_list",
    "admin:auth_user_password_change",
}
# Served only with DEBUG, outside the application's permissions.
NOT_APPLICATION = {"^media/(?P<path>.*)$"}
ADMIN_SUFFIXES = ("_changelist", "_add", "_history", "_delete", "_change")


# --- Enumerating the URL resolver ----------------------------------------------------------------------------


def url_patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(full name, route) of every URL pattern, namespaces included."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}:{pattern.namespace}".strip(":") if pattern.namespace else namespace
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}".strip(":") if pattern.name else ""
            yield name, prefix + str(pattern.pattern)


def admin_model_of(name: str, route: str) -> str | None:
    """The "app.model" an admin URL belongs to, from its name or, for unnamed object redirects, its route."""
    for suffix in ADMIN_SUFFIXES:
        if name.endswith(suffix):
            base = name.removeprefix("admin:").removesuffix(suffix)
            for model in admin.site._registry:
                if f"{model._meta.app_label}_{model._meta.model_name}" == base:
                    return model._meta.label_lower
    parts = route.removeprefix("admin/").split("/")
    if len(parts) >= 3 and parts[2] == "<path:object_id>":
        return f"{parts[0]}.{parts[1]}"
    return None


def test_every_url_is_classified():
    unclassified = []
    for name, route in url_patterns():
        if name in MATRIX or name in ADMIN_PLUMBING or route in NOT_APPLICATION:
            continue
        if route.startswith("admin/"):
            model = admin_model_of(name, route)
            if model in ADMIN or route == "admin/(?P<url>.*)$":
                continue
        unclassified.append(f"{name or '(unnamed)'}  /{route}")
    assert not unclassified, "Add a row to MATRIX (or ADMIN) for:\n" + "\n".join(unclassified)


def test_every_admin_model_is_classified():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(ADMIN), "ADMIN must list exactly the models registered in the admin"


def test_the_matrix_names_no_url_that_is_gone():
    names = {name for name, _route in url_patterns()}
    assert set(MATRIX) <= names


# --- The data every row's URL points at ----------------------------------------------------------------------


def build_world(users: dict[Role, Any]) -> dict[str, Any]:
    team = Team.objects.create(code="CY1", name="冲压一班", leader=users[TL])
    for role in (OP, TL):
        users[role].team = team
        users[role].save(update_fields=["team"])
    work_order = make_work_order()
    step = work_order.operations.order_by("sequence").first()
    WorkCenter.objects.update(team=team)
    item = Item.objects.create(code="FG-HINGE-4", name="合页", kind=Item.Kind.FINISHED, unit="PCS")
    bom_line = BomLine.objects.create(parent=item, child=work_order.item, qty_per=Decimal(2), sequence=10)
    routing_step = RoutingStep.objects.create(
        item=item, sequence=10, operation=step.operation, work_center=step.work_center, std_minutes_per_unit=1
    )
    warehouse = Warehouse.objects.create(code="WH1", name="成品仓")
    stock = StockLevel.objects.create(warehouse=warehouse, item=item, qty_on_hand=Decimal(40))
    warehouse_set_keepers(warehouse=warehouse, keepers=[users[WK]], by=None)
    other_stock = StockLevel.objects.create(
        warehouse=Warehouse.objects.create(code="WH2", name="原料仓"), item=item, qty_on_hand=Decimal(5)
    )
    # A work centre of no team the team leader leads.
    press_centre = WorkCenter.objects.create(code="ZP-09", name="装配线", workshop=step.work_center.workshop)
    elsewhere = WorkOrder.objects.create(number="WO-T-0002", item=work_order.item, qty=Decimal(10))
    WorkOrderOperation.objects.create(
        work_order=elsewhere,
        sequence=10,
        operation=step.operation,
        work_center=press_centre,
        code="LLOP-90001",
        std_minutes_per_unit=Decimal(1),
    )
    elsewhere_press = report_event_record(
        operation_code="LLOP-90001",
        operator=users[OP],
        action="start",
        client_uuid="8d3c1f4e-0000-4000-8000-000000000004",
    )
    other_team_downtime = downtime_start(
        work_center_code=press_centre.code,
        reason="machine_fault",
        operator=users[OP],
        client_uuid="8d3c1f4e-0000-4000-8000-000000000003",
    )
    account = make_account("TB1")
    order = make_order(account, items={"FG-HINGE-4": item}, issues=[(OrderIssue.Code.BUYER_NOTE, {"note": "快"})])
    confirmed = make_order(account, items={"FG-HINGE-4": item}, status=SalesOrder.Status.CONFIRMED)
    push = ErpPush.objects.create(order=confirmed, status=ErpPush.Status.DEAD)
    press = report_event_record(
        operation_code=step.code, operator=users[OP], action="start", client_uuid="8d3c1f4e-0000-4000-8000-000000000001"
    )
    downtime = downtime_start(
        work_center_code="CY-02",
        reason="machine_fault",
        operator=users[OP],
        client_uuid="8d3c1f4e-0000-4000-8000-000000000002",
    )
    capacity_job = capacity_job_start(month=date(2026, 11, 1), workshop=None, by=users[PM])
    capacity_job_run(capacity_job["id"])
    other_team = Team.objects.create(code="PG1", name="抛光一班")
    now = timezone.now()
    # One alert of the team leader's team, one of another team (out of the team leader's sight).
    alert, other_alert = (
        Alert.objects.create(
            kind="operation_stalled",
            subject_type="operation",
            subject_id=str(n),
            subject_label=f"WO #{n}",
            dedupe_key=f"operation_stalled:operation:{n}",
            message="m",
            team=alert_team,
            first_seen_at=now,
            last_seen_at=now,
        )
        for n, alert_team in ((1, team), (2, other_team))
    )
    return {
        "capacity_job": capacity_job["id"],
        "team": team,
        "alert": alert,
        "other_alert": other_alert,
        "work_order": work_order,
        "step": step,
        "workshop": step.work_center.workshop,
        "item": item,
        "bom_line": bom_line,
        "routing_step": routing_step,
        "warehouse": warehouse,
        "stock": stock,
        "account": account,
        "order": order,
        "issue": order.issues.get(),
        "run": make_run(account),
        "mapping": SkuMapping.objects.create(external_sku="HK-01", item=item, created_by=users[CS]),
        "push": push,
        "event": ReportEvent.objects.get(pk=press.event_id),
        "downtime": downtime,
        "other_stock": other_stock,
        "other_team_downtime": other_team_downtime,
        "other_team_event": ReportEvent.objects.get(pk=elsewhere_press.event_id),
        "erp": ErpConnection.objects.create(
            name="K3", server_url="http://127.0.0.1:9/K3Cloud/", acct_id="A1", username="loopline"
        ),
    }


@pytest.fixture(scope="module")
def cast(django_db_setup, django_db_blocker):
    """The users, the data and a signed-in client per role, made once for the module and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        users = {role: make_user(role) for role in Role}
        world = build_world(users)
        clients = {ANONYMOUS: Client()}
        for role, user in users.items():
            clients[role] = Client()
            clients[role].force_login(user)
        yield users, world, clients
        transaction.set_rollback(True)


# --- Asking every role ---------------------------------------------------------------------------------------

LOGIN_PAGES = ("/accounts/login/", "/accounts/tablet/", "/admin/login/")


def outcome(response) -> str:
    """allow, login, deny (401/403/405) or hidden (404)."""
    if response.status_code in (301, 302) and response["Location"].split("?")[0].endswith(LOGIN_PAGES):
        return "login"
    if response.status_code in (401, 403, 405):
        return "deny"
    if response.status_code == 404:
        return "hidden"
    assert response.status_code < 500, f"server error {response.status_code}"
    return "allow"


def expected(allowed: frozenset, who: Role | str, row: Row) -> set[str]:
    if who == ANONYMOUS:
        # A URL nobody may use this way may also refuse the method before asking who it is.
        refused = {"login"} if row.kind in ("page", "floor") else {"deny"}
        return refused | {"deny"} if not allowed else refused
    if who in allowed:
        return {"allow"}
    return {"hidden"} if who in row.hidden else {"deny"}


def ask(client: Client, method: str, url: str, kind: str):
    """One request in a savepoint that is rolled back, so each role meets the same data and stays signed in
    (the cookies are put back too: signing out or switching operator would otherwise end the session)."""
    cookies = copy.deepcopy(client.cookies)
    with transaction.atomic():
        if method == "get":
            response = client.get(url)
        elif kind == "api":
            response = getattr(client, method)(url, data={}, content_type="application/json")
        else:
            response = getattr(client, method)(url, data={})
        transaction.set_rollback(True)
    client.cookies = cookies
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_the_matrix(name, cast):
    _users, world, clients = cast
    row = MATRIX[name]
    url = reverse(name, kwargs=row.kwargs(world)) + (f"?{row.query}" if row.query else "")
    wrong = []
    for who in [ANONYMOUS, *ROLES]:
        client = clients[who]
        for action, allowed, method in (("read", row.read, "get"), ("write", row.write, row.method)):
            got = outcome(ask(client, method, url, row.kind))
            if allowed == PUBLIC:
                continue  # open to anyone: nothing to refuse
            if got not in expected(allowed, who, row):
                wrong.append(f"{who} {action} {method.upper()} {url}: {got}, expected {expected(allowed, who, row)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(name for name, row in MATRIX.items() if row.outside))
def test_objects_out_of_a_roles_scope_are_hidden(name, cast):
    _users, world, clients = cast
    row = MATRIX[name]
    url = reverse(name, kwargs=row.outside(world))
    wrong = []
    for who in row.scoped:
        for action, allowed, method in (("read", row.read, "get"), ("write", row.write, row.method)):
            if who in allowed and (got := outcome(ask(clients[who], method, url, row.kind))) != "hidden":
                wrong.append(f"{who} {action} {method.upper()} {url}: {got}, expected hidden")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(ADMIN))
def test_the_admin_matrix(label, cast):
    users, _world, clients = cast
    read, write = ADMIN[label]
    app_label, model_name = label.split(".")
    wrong = []
    for who in [ANONYMOUS, *ROLES]:
        client = clients[who]
        for action, allowed, suffix in (("read", read, "changelist"), ("write", write, "add")):
            url = reverse(f"admin:{app_label}_{model_name}_{suffix}")
            got = outcome(client.get(url))
            staff = who != ANONYMOUS and users[who].is_staff
            want = {"allow"} if who in allowed else ({"deny"} if staff else {"login"})
            if got not in want:
                wrong.append(f"{who} {action} {url}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
