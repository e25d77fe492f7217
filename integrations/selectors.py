"""Reads for the intake pages: the review queue, one order under review, item search, sync health and the run log."""

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.permissions import PRICING_FIELDS, PRICING_ISSUE_CODES, get_for_user_or_404, restrict, sees_pricing
from integrations.models import ChannelAccount, ErpConnection, SyncRun
from integrations.pipeline import issue_message
from orders.models import OrderIssue, OrderLine, SalesOrder
from production.models import Item

SHANGHAI = ZoneInfo("Asia/Shanghai")
Code = OrderIssue.Code

# "Waiting longer than": the age filter's choices.
QUEUE_AGES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24), "72h": timedelta(days=3)}
HEALTH_DAYS = 7
LAST_ERRORS = 5


# --- Review queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """What the reviewer narrowed the queue to; empty values mean "any"."""

    account_id: int | None = None
    code: str = ""
    age: str = ""
    q: str = ""


def _open_issue(**conditions: Any) -> Exists:
    return Exists(OrderIssue.objects.filter(order=OuterRef("pk"), resolved_at__isnull=True, **conditions))


def _queue(*, user: User, filters: QueueFilters, now: datetime) -> QuerySet[SalesOrder]:
    # A confirmed order the marketplace changed afterwards is back in front of a person, whatever its status.
    orders = restrict(SalesOrder.objects.all(), user).filter(
        Q(status=SalesOrder.Status.NEEDS_REVIEW) | _open_issue(code=Code.CHANGED_AFTER_CONFIRMATION)
    )
    if filters.account_id:
        orders = orders.filter(channel_account_id=filters.account_id)
    if filters.code:
        orders = orders.filter(_open_issue(code=filters.code))
    if filters.age in QUEUE_AGES:
        orders = orders.filter(received_at__lte=now - QUEUE_AGES[filters.age])
    query = filters.q.strip()
    if query:
        # Exists, not a join on lines: an order with two matching lines is still one row.
        sku = Exists(OrderLine.objects.filter(order=OuterRef("pk"), external_sku__icontains=query))
        orders = orders.filter(
            Q(number__icontains=query)
            | Q(external_number__icontains=query)
            | Q(buyer__icontains=query)
            | Q(receiver_name__icontains=query)
            | Q(receiver_phone__icontains=query)
            | sku
        )
    return orders


def review_queue(*, user: User, filters: QueueFilters, now: datetime | None = None) -> QuerySet[SalesOrder]:
    """Orders waiting for a person, oldest first, with shop and open issues fetched up front (two queries a page)."""
    open_issues = OrderIssue.objects.filter(resolved_at__isnull=True).order_by("code", "id")
    return (
        _queue(user=user, filters=filters, now=now or timezone.now())
        .select_related("channel_account")
        .defer("payload", "channel_account__credentials_encrypted")
        .prefetch_related(Prefetch("issues", queryset=open_issues, to_attr="open_issues"))
        .order_by("received_at", "id")
    )


def review_queue_counts(*, user: User, filters: QueueFilters, now: datetime | None = None) -> list[dict[str, Any]]:
    """How many queued orders have each open issue, within the filters other than the issue code (one query)."""
    orders = _queue(user=user, filters=replace(filters, code=""), now=now or timezone.now())
    counts = dict(
        OrderIssue.objects.filter(resolved_at__isnull=True, order__in=orders.values("pk"))
        .order_by()
        .values("code")
        .annotate(orders=Count("order", distinct=True))
        .values_list("code", "orders")
    )
    return [{"code": code, "label": label, "count": counts[code]} for code, label in Code.choices if counts.get(code)]


# --- One order under review ------------------------------------------------------------------------------


@dataclass
class IssueRow:
    """An issue as the review page shows it: its reason in the reader's language, and who closed it."""

    id: int
    code: str
    label: str
    message: str
    raised_at: datetime
    resolved_at: datetime | None
    resolved_by: str
    resolution: str
    diff: dict[str, Any] | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def can_acknowledge(self) -> bool:
        return self.is_open and self.code == Code.BUYER_NOTE


@dataclass
class OrderReview:
    """Everything the order review page shows, fetched up front."""

    order: SalesOrder
    lines: list[OrderLine]
    open_issues: list[IssueRow]
    resolved_issues: list[IssueRow]
    unmapped_skus: list[str]
    payload_json: str  # empty for a reader who may not see pricing: the payload carries every price
    sees_pricing: bool

    @property
    def in_review(self) -> bool:
        return self.order.status in (SalesOrder.Status.NEEDS_REVIEW, SalesOrder.Status.RECEIVED)


def _issue_row(issue: OrderIssue, *, figures: bool = True) -> IssueRow:
    resolver = issue.resolved_by
    # An issue about prices quotes them; a reader who may not see pricing gets only its name.
    hidden = not figures and issue.code in PRICING_ISSUE_CODES
    return IssueRow(
        id=issue.pk,
        code=issue.code,
        label=issue.get_code_display(),
        # Rendered now from code + data, so a Chinese-speaking and an English-speaking reviewer each read their own.
        message=issue.get_code_display() if hidden else issue_message(issue.code, issue.data),
        raised_at=issue.created_at,
        resolved_at=issue.resolved_at,
        resolved_by=(resolver.get_full_name() or resolver.get_username()) if resolver else "",
        resolution=issue.resolution,
        diff=issue.data.get("diff") if isinstance(issue.data.get("diff"), dict) else None,
    )


def order_review(*, user: User, number: str) -> OrderReview:
    """One order the user may see, with lines, items, issues and its raw payload; 404 otherwise."""
    pricing = sees_pricing(user)
    orders = SalesOrder.objects.select_related("channel_account", "confirmed_by")
    order_lines = OrderLine.objects.select_related("item").order_by("line_no")
    if not pricing:
        # Not even loaded: the page cannot show what it does not have.
        orders = orders.defer(*(name for name in PRICING_FIELDS if hasattr(SalesOrder, name)))
        order_lines = order_lines.defer(*(name for name in PRICING_FIELDS if hasattr(OrderLine, name)))
    order = get_for_user_or_404(orders, user, number=number)
    lines = list(order_lines.filter(order=order))
    issues = [
        _issue_row(issue, figures=pricing)
        for issue in order.issues.select_related("resolved_by").order_by("created_at", "id")
    ]
    return OrderReview(
        order=order,
        lines=lines,
        open_issues=[issue for issue in issues if issue.is_open],
        resolved_issues=[issue for issue in issues if not issue.is_open],
        unmapped_skus=list(dict.fromkeys(line.external_sku for line in lines if line.item_id is None)),
        payload_json=json.dumps(order.payload, ensure_ascii=False, indent=2, default=str) if pricing else "",
        sees_pricing=pricing,
    )


def item_search(*, user: User, q: str, limit: int = 20) -> list[Item]:
    """Active items whose code or name contains `q`, for mapping a marketplace SKU."""
    q = q.strip()
    if not q:
        return []
    items = restrict(Item.objects.filter(active=True), user).filter(Q(code__icontains=q) | Q(name__icontains=q))
    return list(items.order_by("code")[:limit])


# --- Sync health -----------------------------------------------------------------------------------------


@dataclass
class AccountHealth:
    """One channel account's sync state: cursor, last pull, last connection test, recent errors, success rate."""

    account: ChannelAccount
    last_run: SyncRun | None
    last_test: SyncRun | None
    error_run: SyncRun | None
    runs: int
    succeeded: int

    @property
    def success_rate(self) -> float | None:
        return round(100 * self.succeeded / self.runs, 1) if self.runs else None

    @property
    def last_errors(self) -> list[dict[str, str]]:
        return list(self.error_run.errors[:LAST_ERRORS]) if self.error_run else []


def _latest_run_id(runs: QuerySet[SyncRun]) -> Subquery:
    return Subquery(runs.filter(account=OuterRef("pk")).order_by("-started_at", "-id").values("id")[:1])


def sync_health(*, now: datetime) -> list[AccountHealth]:
    """Every channel account's sync state, in three queries whatever the number of accounts and runs."""
    pulls = SyncRun.objects.exclude(trigger=SyncRun.Trigger.TEST)
    accounts = list(
        ChannelAccount.objects.defer("credentials_encrypted")
        .annotate(
            last_run_id=_latest_run_id(pulls),
            last_test_id=_latest_run_id(SyncRun.objects.filter(trigger=SyncRun.Trigger.TEST)),
            error_run_id=_latest_run_id(SyncRun.objects.exclude(errors=[])),
        )
        .order_by("name")
    )
    wanted = {getattr(a, name) for a in accounts for name in ("last_run_id", "last_test_id", "error_run_id")}
    runs = SyncRun.objects.in_bulk([pk for pk in wanted if pk is not None])
    # The success rate counts pulls only: a connection test or a poll skipped for a running one says nothing.
    recent = (
        pulls.filter(started_at__gt=now - timedelta(days=HEALTH_DAYS), started_at__lte=now)
        .exclude(status=SyncRun.Status.SKIPPED)
        .order_by()
        .values("account")
        .annotate(total=Count("id"), ok=Count("id", filter=Q(status=SyncRun.Status.SUCCEEDED)))
    )
    stats = {row["account"]: row for row in recent}
    return [
        AccountHealth(
            account=account,
            last_run=runs.get(account.last_run_id),
            last_test=runs.get(account.last_test_id),
            error_run=runs.get(account.error_run_id),
            runs=stats.get(account.pk, {}).get("total", 0),
            succeeded=stats.get(account.pk, {}).get("ok", 0),
        )
        for account in accounts
    ]


@dataclass
class ErpPullHealth:
    """The last run of one kind of ERP pull, and how far the ERP's data has been pulled."""

    kind: str
    label: str
    last_run: SyncRun | None
    cursor: str


@dataclass
class ErpHealth:
    """The ERP connection's pulls, for the sync health page."""

    connection: ErpConnection
    pulls: list[ErpPullHealth]


def erp_sync_health() -> list[ErpHealth]:
    """Each ERP connection with the last run of each kind of pull (two queries)."""
    kinds = [kind for kind in SyncRun.Kind if kind != SyncRun.Kind.ORDERS]
    pulls = SyncRun.objects.exclude(status=SyncRun.Status.SKIPPED)

    def latest(kind: str) -> Subquery:
        runs = pulls.filter(erp_connection=OuterRef("pk"), kind=kind).order_by("-started_at", "-id")
        return Subquery(runs.values("id")[:1])

    connections = list(
        ErpConnection.objects.defer("credentials_encrypted")
        .annotate(**{f"last_{kind.value}": latest(kind.value) for kind in kinds})
        .order_by("pk")
    )
    wanted = [getattr(c, f"last_{kind.value}") for c in connections for kind in kinds]
    runs = SyncRun.objects.in_bulk([pk for pk in wanted if pk is not None])
    last = {(c.pk, kind.value): runs.get(getattr(c, f"last_{kind.value}")) for c in connections for kind in kinds}
    return [
        ErpHealth(
            connection=connection,
            pulls=[
                ErpPullHealth(
                    kind=kind.value,
                    label=kind.label,
                    last_run=last.get((connection.pk, kind.value)),
                    cursor=str(connection.pull_cursors.get(kind.value, ""))[:19].replace("T", " "),
                )
                for kind in kinds
            ],
        )
        for connection in connections
    ]


@dataclass(frozen=True)
class RunFilters:
    """Which sync runs the log and its export show; dates are calendar days in Asia/Shanghai, both inclusive."""

    account_id: int | None = None
    status: str = ""
    kind: str = ""
    date_from: date | None = None
    date_to: date | None = None


def orders_for_export(
    *, user: User, status: str = "", date_from: date | None = None, date_to: date | None = None
) -> QuerySet[SalesOrder]:
    """The orders the user may see, oldest first, with shop and lines; pricing is not even loaded for a user who
    may not see it."""
    lines = OrderLine.objects.select_related("item").order_by("line_no")
    orders = restrict(SalesOrder.objects.select_related("channel_account"), user).defer(
        "payload", "channel_account__credentials_encrypted"
    )
    if not sees_pricing(user):
        lines = lines.defer(*(name for name in PRICING_FIELDS if hasattr(OrderLine, name)))
        orders = orders.defer(*(name for name in PRICING_FIELDS if hasattr(SalesOrder, name)))
    if status:
        orders = orders.filter(status=status)
    if date_from:
        orders = orders.filter(received_at__gte=datetime.combine(date_from, time.min, tzinfo=SHANGHAI))
    if date_to:
        orders = orders.filter(received_at__lt=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=SHANGHAI))
    return orders.prefetch_related(Prefetch("lines", queryset=lines)).order_by("received_at", "id")


def sync_runs(*, filters: RunFilters) -> QuerySet[SyncRun]:
    """Sync runs, newest first, with their account; for the run log and its Excel export."""
    runs = SyncRun.objects.select_related("account", "erp_connection").defer(
        "account__credentials_encrypted", "erp_connection__credentials_encrypted"
    )
    if filters.account_id:
        runs = runs.filter(account_id=filters.account_id)
    if filters.kind:
        runs = runs.filter(kind=filters.kind)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.date_from:
        runs = runs.filter(started_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=SHANGHAI))
    if filters.date_to:
        runs = runs.filter(
            started_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        )
    return runs.order_by("-started_at", "-id")
