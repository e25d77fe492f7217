"""The /api/v1/ endpoints of order intake: channel accounts, sync runs and SKU mappings, and the permission
matrix of every intake endpoint (the sales orders' too; their behaviour is in test_orders_api.py)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from celery.contrib.testing.app import TestApp, setup_default_app
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, User
from accounts.roles import ROLE_PERMISSIONS, Role
from integrations.models import ChannelAccount, SkuMapping, SyncRun
from integrations.simulators import credentials
from integrations.simulators.orderbook import OrderBook
from integrations.simulators.server import SimulatorApp, start_server
from integrations.simulators.taobao import TaobaoSimulator
from integrations.tasks import poll_channel
from orders.models import OrderIssue, SalesOrder
from production.models import Item
from tests.integrations.builders import make_account, make_order, make_run, unmapped

pytestmark = pytest.mark.django_db

API = "/api/v1"
Code = OrderIssue.Code
SHANGHAI = ZoneInfo("Asia/Shanghai")


def api_client(user: User | None = None, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture(scope="module")
def taobao() -> Iterator[str]:
    """A Taobao simulator that accepts the simulator credentials (and refuses any other secret)."""
    now = timezone.now()
    server, url = start_server(
        SimulatorApp([TaobaoSimulator(OrderBook(start=now - timedelta(days=1), end=now, count=0), credentials.TAOBAO)])
    )
    yield url
    server.shutdown()


def taobao_shop(
    url: str, code: str = "TB1", secret: str = credentials.TAOBAO["app_secret"], **fields
) -> ChannelAccount:
    return make_account(
        code,
        base_url=f"{url}/taobao/router/rest",
        app_key=credentials.TAOBAO["app_key"],
        credentials={"app_secret": secret, "session": credentials.TAOBAO["session"]},
        **fields,
    )


@pytest.fixture
def broker() -> Iterator[TestApp]:
    """Celery publishing into an in-memory broker of this test, so queued tasks can be read back (and never reach
    the development worker's folder)."""
    app = TestApp(broker="memory://")
    with setup_default_app(app):
        app.set_default()
        app.set_current()
        assert poll_channel.app is app
        yield app
        queued(app)  # leave the in-memory queue empty for the next test


def queued(app: TestApp) -> list[tuple[str, list]]:
    """The tasks waiting in the broker, as (task name, args), taken off the queue."""
    tasks = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue("celery")
        while queue.qsize():
            message = queue.get(timeout=1)
            tasks.append((message.headers["task"], message.payload[0]))
            message.ack()
        queue.close()
    return tasks


# --- The permission matrix -----------------------------------------------------------------------------

ANONYMOUS = "anonymous"
NEVER = "nobody (no such operation)"
PRINCIPALS = [ANONYMOUS, None, *Role]  # None: a signed-in user with no role

VIEW_ORDERS = "orders.view_salesorder"
REVIEW = "orders.review_salesorder"
FORCE = "orders.force_approve_salesorder"


@dataclass
class World:
    """A shop with credentials, one order per review action, a mapping and a sync run."""

    clean: SalesOrder
    noted: SalesOrder
    changed: SalesOrder
    note: OrderIssue
    change: OrderIssue
    mapping: SkuMapping
    run: SyncRun


@pytest.fixture
def world(users, taobao) -> World:
    account = taobao_shop(taobao)
    hinge = Item.objects.create(code="HG-100", name="不锈钢合页 4 寸", kind=Item.Kind.FINISHED)
    Item.objects.create(code="HG-200", name="不锈钢合页 6 寸", kind=Item.Kind.FINISHED)
    mapping = SkuMapping.objects.create(external_sku="HG-100", item=hinge)
    mapped = {"HG-100": hinge}
    clean = make_order(account, lines=[("HG-100", 2, "15.00")], items=mapped)
    noted = make_order(
        account,
        lines=[("HG-100", 1, "15.00")],
        items=mapped,
        buyer_note="请周五前发货",
        issues=[(Code.BUYER_NOTE, {"note": "请周五前发货"})],
    )
    changed = make_order(
        account,
        lines=[("HG-100", 1, "15.00")],
        items=mapped,
        status=SalesOrder.Status.CONFIRMED,
        issues=[(Code.CHANGED_AFTER_CONFIRMATION, {"changes": "receiver_name"})],
    )
    make_order(account, lines=[("SKU-X", 1, "10.00")], issues=[unmapped("SKU-X")])
    run = make_run(account, fetched=3, created=3)
    return World(clean, noted, changed, noted.issues.get(), changed.issues.get(), mapping, run)


@dataclass(frozen=True)
class Case:
    method: str
    url: str  # formatted with the World
    needs: tuple[str, ...] | str  # permissions from accounts.roles (all of them), or NEVER
    body: dict | None = None
    success: int = 200
    audited: bool = False  # whether a successful call leaves an AuditEvent


MATRIX = [
    Case("get", "/sales-orders/", (VIEW_ORDERS,)),
    Case("get", "/sales-orders/{w.clean.number}/", (VIEW_ORDERS,)),
    Case("post", "/sales-orders/", NEVER, {"number": "X-1"}),
    Case("patch", "/sales-orders/{w.clean.number}/", NEVER, {"buyer": "x"}),
    Case("post", "/sales-orders/{w.clean.number}/approve/", (REVIEW,), audited=True),
    Case(
        "post",
        "/sales-orders/{w.noted.number}/force-approve/",
        (REVIEW, FORCE),
        {"reason": "客户电话确认"},
        audited=True,
    ),
    Case("post", "/sales-orders/{w.clean.number}/reject/", (REVIEW,), {"reason": "重复下单"}, audited=True),
    Case("post", "/sales-orders/{w.clean.number}/receiver/", (REVIEW,), {"receiver_zip": "523851"}, audited=True),
    Case("post", "/order-issues/{w.note.pk}/acknowledge/", (REVIEW,), audited=True),
    Case("post", "/order-issues/{w.change.pk}/resolve-change/", (REVIEW,), {"resolution": "已改 ERP"}, audited=True),
    Case("get", "/channel-accounts/", ("integrations.view_channelaccount",)),
    Case("get", "/channel-accounts/TB1/", ("integrations.view_channelaccount",)),
    Case("post", "/channel-accounts/", NEVER, {"code": "TB2", "name": "x", "kind": "taobao"}),
    Case("patch", "/channel-accounts/TB1/", NEVER, {"enabled": False}),
    Case("post", "/channel-accounts/TB1/test/", ("integrations.change_channelaccount",), audited=True),
    Case("post", "/channel-accounts/TB1/poll/", ("integrations.change_channelaccount",), success=202, audited=True),
    Case("get", "/sync-runs/", ("integrations.view_syncrun",)),
    Case("get", "/sync-runs/{w.run.pk}/", ("integrations.view_syncrun",)),
    Case("delete", "/sync-runs/{w.run.pk}/", NEVER),
    Case("get", "/sku-mappings/", ("integrations.view_skumapping",)),
    Case("get", "/sku-mappings/{w.mapping.pk}/", ("integrations.view_skumapping",)),
    Case(
        "post",
        "/sku-mappings/",
        ("integrations.add_skumapping",),
        {"external_sku": "SKU-X", "item": "HG-200"},
        success=201,
        audited=True,
    ),
    Case("patch", "/sku-mappings/{w.mapping.pk}/", NEVER, {"qty_per_unit": "2"}),
    Case("delete", "/sku-mappings/{w.mapping.pk}/", ("integrations.delete_skumapping",), success=204, audited=True),
]


def is_allowed(principal, needs: tuple[str, ...] | str) -> bool:
    """What accounts.roles grants: the single source of truth the matrix is derived from."""
    if principal in (ANONYMOUS, None) or needs == NEVER:
        return False
    return all(permission in ROLE_PERMISSIONS[principal] for permission in needs)


def test_it_derives_the_expected_grants_from_the_role_table():
    assert is_allowed(Role.CUSTOMER_SERVICE, (REVIEW,))
    assert not is_allowed(Role.SALES, (REVIEW,))
    assert is_allowed(Role.SALES, (VIEW_ORDERS,))
    # Force-approve is granted to named people by IT: no role holds both permissions it needs.
    assert not any(is_allowed(role, (REVIEW, FORCE)) for role in Role)
    assert is_allowed(Role.IT_ADMIN, ("integrations.change_channelaccount",))
    assert not is_allowed(Role.CUSTOMER_SERVICE, ("integrations.change_channelaccount",))
    assert is_allowed(Role.FINANCE, ("integrations.view_syncrun",))
    assert not is_allowed(Role.FINANCE, ("integrations.view_skumapping",))
    assert not is_allowed(None, (VIEW_ORDERS,))


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: f"{case.method} {case.url}")
def test_it_allows_exactly_what_each_role_is_granted(case, users, world):
    url = API + case.url.format(w=world)
    wrong = []
    for principal in PRINCIPALS:
        client = api_client(None if principal == ANONYMOUS else users[principal])
        # Each principal's request runs in a rolled-back block, so every one meets the same data.
        with transaction.atomic():
            audit_before = AuditEvent.objects.count()
            response = getattr(client, case.method)(url, case.body, format="json")
            wrote = AuditEvent.objects.count() != audit_before
            transaction.set_rollback(True)
        if is_allowed(principal, case.needs):
            ok = response.status_code == case.success and wrote == case.audited
        elif principal == ANONYMOUS:
            ok = response.status_code in (401, 403) and not wrote
        else:
            allowed_codes = (403, 405) if case.needs == NEVER else (403,)
            ok = response.status_code in allowed_codes and not wrote
        if not ok:
            wrong.append((str(principal), response.status_code, response.content[:300]))
    assert wrong == [], f"{case.method.upper()} {url} needs {case.needs}"


def test_it_answers_every_refusal_with_the_common_error_body(users, world):
    response = api_client(users[Role.SALES]).post(f"{API}/sales-orders/{world.clean.number}/approve/")
    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "You do not have permission to perform this action.",
    }
    anonymous = api_client().get(f"{API}/sync-runs/")
    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "not_authenticated"


# --- Secrets -------------------------------------------------------------------------------------------

SECRET = "app-secret-that-must-never-leak-7f3a"
SESSION = "session-value-that-must-never-leak-91c2"


def test_it_never_returns_a_channel_secret_in_any_answer_or_the_schema(users, taobao, broker):
    account = make_account(
        "TB9",
        base_url=f"{taobao}/taobao/router/rest",
        app_key=credentials.TAOBAO["app_key"],
        credentials={"app_secret": SECRET, "session": SESSION},
    )
    blob = ChannelAccount.objects.values_list("credentials_encrypted", flat=True).get(pk=account.pk)
    hinge = Item.objects.create(code="HG-100", name="合页", kind=Item.Kind.FINISHED)
    order = make_order(account, lines=[("SKU-X", 1, "10.00")], issues=[unmapped("SKU-X")])
    make_run(
        account, status=SyncRun.Status.FAILED, errors=[{"code": "TOP_25", "message": "签名无效", "external_id": ""}]
    )
    admin = api_client(users[Role.IT_ADMIN])
    reviewer = api_client(users[Role.CUSTOMER_SERVICE])

    bodies = [
        admin.get(f"{API}/channel-accounts/"),
        admin.get(f"{API}/channel-accounts/TB9/"),
        admin.get(f"{API}/channel-accounts/", {"search": "TB9"}),
        admin.post(f"{API}/channel-accounts/TB9/test/"),  # the marketplace refuses the secret: its error is shown
        admin.post(f"{API}/channel-accounts/TB9/poll/"),
        admin.get(f"{API}/sync-runs/"),
        admin.post(f"{API}/sku-mappings/", {"external_sku": "SKU-X", "item": "HG-100", "channel_account": "TB9"}),
        admin.get(f"{API}/sku-mappings/"),
        reviewer.get(f"{API}/sales-orders/"),
        reviewer.get(f"{API}/sales-orders/{order.number}/"),
        admin.get("/api/schema/", {"format": "json"}),
        admin.get("/api/schema/"),
    ]

    assert [response.status_code for response in bodies] == [200, 200, 200, 200, 202, 200, 201, 200, 200, 200, 200, 200]
    assert bodies[1].json()["has_credentials"] is True
    assert bodies[3].json()["status"] == SyncRun.Status.FAILED  # the wrong secret really was sent, and refused
    assert hinge.code in bodies[7].content.decode()
    for response in bodies:
        text = response.content.decode()
        for leak in (SECRET, SESSION, blob, "credentials_encrypted", "app_secret"):
            assert leak not in text, f"{response.request['PATH_INFO']} shows {leak[:12]}…"


# --- Channel accounts ----------------------------------------------------------------------------------


def test_it_describes_a_channel_account_with_its_effective_trigger_status(users):
    backfill = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    make_account("JD1", kind=ChannelAccount.Kind.JD, name="京东五金自营", backfill_from=backfill, enabled=False)
    shop = make_account("TB1", name="东莞五金旗舰店", trigger_status="TRADE_FINISHED", credentials={"app_secret": "s"})
    ChannelAccount.objects.filter(pk=shop.pk).update(cursor=backfill + timedelta(days=1))

    response = api_client(users[Role.CUSTOMER_SERVICE]).get(f"{API}/channel-accounts/", {"ordering": "-code"})

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "kind": "taobao",
            "name": "东莞五金旗舰店",
            "code": "TB1",
            "base_url": "http://127.0.0.1:9/unused",
            "app_key": "",
            "poll_interval_minutes": 15,
            "trigger_status": "TRADE_FINISHED",
            "backfill_from": None,
            "cursor": "2026-03-02T00:00:00+08:00",
            "overlap_minutes": 10,
            "page_size": 100,
            "currency": "CNY",
            "enabled": True,
            "last_polled_at": None,
            "has_credentials": True,
        },
        {
            "kind": "jd",
            "name": "京东五金自营",
            "code": "JD1",
            "base_url": "http://127.0.0.1:9/unused",
            "app_key": "",
            "poll_interval_minutes": 15,
            "trigger_status": "WAIT_SELLER_STOCK_OUT",  # JD's own "paid, waiting for us to ship"
            "backfill_from": "2026-03-01T00:00:00+08:00",
            "cursor": None,
            "overlap_minutes": 10,
            "page_size": 100,
            "currency": "CNY",
            "enabled": False,
            "last_polled_at": None,
            "has_credentials": False,
        },
    ]


def test_it_tests_a_connection_and_answers_with_the_sync_run(users, taobao):
    taobao_shop(taobao)
    response = api_client(users[Role.IT_ADMIN]).post(f"{API}/channel-accounts/TB1/test/")

    assert response.status_code == 200
    body = response.json()
    run = SyncRun.objects.get(trigger=SyncRun.Trigger.TEST)
    assert (
        body | {"id": run.pk, "channel_account": "TB1", "trigger": "test", "status": "succeeded", "errors": []} == body
    )
    assert body["http_calls"] >= 1
    assert AuditEvent.objects.get(verb="channel_account.test").actor == users[Role.IT_ADMIN]


def test_it_reports_the_marketplaces_precise_error_when_a_connection_fails(users, taobao):
    taobao_shop(taobao, secret="a-wrong-secret")
    body = api_client(users[Role.IT_ADMIN]).post(f"{API}/channel-accounts/TB1/test/").json()

    assert body["status"] == "failed"
    assert body["errors"][0]["code"] == "TOP_25"
    assert set(body["errors"][0]) == {"code", "message", "external_id"}


def test_it_queues_a_manual_poll_only_once_the_request_commits(users, broker, django_capture_on_commit_callbacks):
    account = make_account("TB1")
    client = api_client(users[Role.IT_ADMIN])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{API}/channel-accounts/TB1/poll/")
        assert queued(broker) == []  # nothing reaches the worker before the commit

    assert response.status_code == 202
    assert response.json() == {
        "channel_account": "TB1",
        "trigger": "manual",
        "detail": "Poll of TB1 旗舰店 queued; its run appears in the sync runs when it ends.",
    }
    for callback in callbacks:
        callback()
    assert queued(broker) == [("integrations.tasks.poll_channel", [account.pk, "manual"])]


def test_it_refuses_to_poll_a_disabled_shop(users, broker, django_capture_on_commit_callbacks):
    make_account("TB1", enabled=False)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client(users[Role.IT_ADMIN]).post(f"{API}/channel-accounts/TB1/poll/")

    assert response.status_code == 400
    assert response.json() == {
        "code": "account_disabled",
        "detail": "TB1 旗舰店 is disabled; enable it before polling.",
    }
    assert callbacks == []
    assert queued(broker) == []


def test_it_answers_404_for_an_unknown_channel_account(users):
    response = api_client(users[Role.IT_ADMIN]).post(f"{API}/channel-accounts/NOPE/test/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Sync runs -----------------------------------------------------------------------------------------


def test_it_shows_every_field_of_a_sync_run(users):
    account = make_account("TB1")
    started = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    error = {"code": "ISP_SERVICE_UNAVAILABLE", "message": "第 3 页: 服务暂不可用", "external_id": "3000000017"}
    run = make_run(
        account,
        status=SyncRun.Status.PARTIAL,
        started_at=started,
        seconds=12.5,
        errors=[error],
        pages=4,
        http_calls=6,
        retries=2,
        fetched=380,
        created=120,
        updated=15,
        unchanged=245,
        anomalies=7,
    )

    body = api_client(users[Role.FINANCE]).get(f"{API}/sync-runs/{run.pk}/").json()

    assert body == {
        "id": run.pk,
        "kind": "orders",
        "channel_account": "TB1",
        "erp_connection": None,
        "trigger": "schedule",
        "status": "partial",
        "window_start": "2026-03-02T08:35:00+08:00",
        "window_end": "2026-03-02T09:00:00+08:00",
        "started_at": "2026-03-02T09:00:00+08:00",
        "finished_at": "2026-03-02T09:00:12.500000+08:00",
        "duration_seconds": 12.5,
        "pages": 4,
        "http_calls": 6,
        "retries": 2,
        "fetched": 380,
        "created": 120,
        "updated": 15,
        "unchanged": 245,
        "anomalies": 7,
        "errors": [error],
    }


def test_it_filters_sync_runs_by_shop_status_trigger_and_start_time(users):
    tb, jd = make_account("TB1"), make_account("JD1", kind=ChannelAccount.Kind.JD)
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    ok = make_run(tb, started_at=day)
    failed = make_run(tb, status=SyncRun.Status.FAILED, started_at=day + timedelta(hours=1))
    test = make_run(tb, trigger=SyncRun.Trigger.TEST, started_at=day + timedelta(hours=2))
    other = make_run(jd, started_at=day - timedelta(days=1))
    client = api_client(users[Role.IT_ADMIN])

    def ids(**params) -> list[int]:
        response = client.get(f"{API}/sync-runs/", params)
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [test.pk, failed.pk, ok.pk, other.pk]  # newest first
    assert ids(channel_account="JD1") == [other.pk]
    assert ids(status="failed") == [failed.pk]
    assert ids(trigger="test") == [test.pk]
    assert ids(started_at_after="2026-03-02T00:00:00+08:00", started_at_before="2026-03-02T09:30:00+08:00") == [ok.pk]
    assert ids(started_at_after="2026-03-02T09:30:00+08:00") == [test.pk, failed.pk]
    bad = client.get(f"{API}/sync-runs/", {"status": "exploded"})
    assert bad.status_code == 400
    assert list(bad.json()["fields"]) == ["status"]


def test_it_pages_sync_runs_by_cursor_without_repeating_runs_of_the_same_second(users):
    account = make_account("TB1")
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    runs = [make_run(account, started_at=moment) for _ in range(3)] + [make_run(account, started_at=moment)]
    client = api_client(users[Role.IT_ADMIN])

    seen, url = [], f"{API}/sync-runs/?page_size=3"
    while url:
        body = client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted((run.pk for run in runs), reverse=True)


# --- SKU mappings --------------------------------------------------------------------------------------


@pytest.fixture
def waiting(db) -> dict:
    """Orders waiting on SKU-X in two shops, one also waiting on another SKU, and one waiting on SKU-Y only."""
    tb, jd = make_account("TB1"), make_account("JD1", kind=ChannelAccount.Kind.JD)
    item = Item.objects.create(code="HG-100", name="不锈钢合页 4 寸", kind=Item.Kind.FINISHED)
    return {
        "item": item,
        "tb": make_order(tb, lines=[("SKU-X", 2, "15.00")], issues=[unmapped("SKU-X")]),
        "jd": make_order(jd, lines=[("SKU-X", 1, "15.00")], issues=[unmapped("SKU-X")]),
        "both": make_order(
            tb, lines=[("SKU-X", 1, "15.00"), ("SKU-Y", 1, "9.00")], issues=[unmapped("SKU-X"), unmapped("SKU-Y")]
        ),
        "other": make_order(tb, lines=[("SKU-Y", 1, "9.00")], issues=[unmapped("SKU-Y")]),
    }


def test_creating_a_sku_mapping_clears_the_orders_waiting_on_that_sku(users, waiting):
    reviewer = users[Role.CUSTOMER_SERVICE]
    body = {"external_sku": " SKU-X ", "item": "HG-100", "qty_per_unit": "2"}
    response = api_client(reviewer).post(f"{API}/sku-mappings/", body, format="json")

    assert response.status_code == 201
    mapping = SkuMapping.objects.get()
    assert response.json() == {
        "id": mapping.pk,
        "external_sku": "SKU-X",
        "item": "HG-100",
        "item_name": "不锈钢合页 4 寸",
        "channel_account": None,
        "qty_per_unit": "2.000",
        "created_by": "customer_service",
        "created_at": response.json()["created_at"],
        "cleared_orders": 2,
    }
    status = {key: SalesOrder.objects.get(pk=order.pk).status for key, order in waiting.items() if key != "item"}
    assert status == {"tb": "confirmed", "jd": "confirmed", "both": "needs_review", "other": "needs_review"}
    line = waiting["tb"].lines.get()
    assert (line.item, line.item_qty) == (waiting["item"], Decimal(4))
    assert AuditEvent.objects.get(verb="sku_mapping.create").actor == reviewer


def test_a_shop_mapping_clears_only_that_shops_orders(users, waiting):
    body = {"external_sku": "SKU-X", "item": "HG-100", "channel_account": "JD1"}
    response = api_client(users[Role.IT_ADMIN]).post(f"{API}/sku-mappings/", body, format="json")

    assert response.status_code == 201
    assert (response.json()["channel_account"], response.json()["cleared_orders"]) == ("JD1", 1)
    assert SalesOrder.objects.get(pk=waiting["jd"].pk).status == "confirmed"
    assert SalesOrder.objects.get(pk=waiting["tb"].pk).status == "needs_review"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"item": "NO-SUCH"}, "item", "Object with code=NO-SUCH does not exist."),
        ({"qty_per_unit": "-1"}, "qty_per_unit", "The items per unit must be greater than zero."),
        ({"qty_per_unit": "0"}, "qty_per_unit", "The items per unit must be greater than zero."),
        ({"qty_per_unit": "many"}, "qty_per_unit", "A valid number is required."),
        ({"external_sku": ""}, "external_sku", "This field may not be blank."),
        ({"external_sku": "   "}, "external_sku", "This field may not be blank."),
        ({"channel_account": "NOPE"}, "channel_account", "Object with code=NOPE does not exist."),
    ],
)
def test_it_refuses_bad_sku_mapping_input_with_field_errors_and_writes_nothing(users, waiting, change, field, message):
    audit_before = AuditEvent.objects.count()
    body = {"external_sku": "SKU-X", "item": "HG-100"} | change
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(f"{API}/sku-mappings/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": "Invalid input.", "fields": {field: [message]}}
    assert not SkuMapping.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    assert SalesOrder.objects.get(pk=waiting["tb"].pk).status == "needs_review"


def test_it_refuses_to_map_a_sku_to_a_retired_item(users, waiting):
    Item.objects.filter(pk=waiting["item"].pk).update(active=False)
    body = {"external_sku": "SKU-X", "item": "HG-100"}
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(f"{API}/sku-mappings/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"code": "item_inactive", "detail": "Item HG-100 is no longer active."}
    assert not SkuMapping.objects.exists()


def test_it_lists_and_filters_sku_mappings(users, waiting):
    jd = ChannelAccount.objects.get(code="JD1")
    SkuMapping.objects.create(external_sku="SKU-X", item=waiting["item"])
    SkuMapping.objects.create(external_sku="SKU-Y", item=waiting["item"], channel_account=jd)
    client = api_client(users[Role.CUSTOMER_SERVICE])

    def skus(**params) -> list[tuple[str, str | None]]:
        rows = client.get(f"{API}/sku-mappings/", params).json()["results"]
        return [(row["external_sku"], row["channel_account"]) for row in rows]

    assert skus() == [("SKU-X", None), ("SKU-Y", "JD1")]
    assert skus(channel_account="JD1") == [("SKU-Y", "JD1")]
    assert skus(for_every_shop="true") == [("SKU-X", None)]
    assert skus(external_sku="SKU-Y") == [("SKU-Y", "JD1")]
    assert skus(item="HG-100", ordering="-external_sku") == [("SKU-Y", "JD1"), ("SKU-X", None)]
    assert skus(search="合页") == [("SKU-X", None), ("SKU-Y", "JD1")]


def test_it_removes_a_sku_mapping_and_audits_it(users, waiting):
    mapping = SkuMapping.objects.create(external_sku="SKU-X", item=waiting["item"])
    admin = users[Role.IT_ADMIN]
    response = api_client(admin).delete(f"{API}/sku-mappings/{mapping.pk}/")

    assert response.status_code == 204
    assert not SkuMapping.objects.exists()
    event = AuditEvent.objects.get(verb="sku_mapping.delete")
    assert (event.actor, event.changes) == (admin, {"external_sku": "SKU-X", "item": "HG-100", "account": None})


# --- Query counts --------------------------------------------------------------------------------------


def add_intake_data(size: int, start: int) -> None:
    """`size` more shops, each with a credentialled account, two runs with errors and two SKU mappings."""
    for n in range(start, start + size):
        account = make_account(f"S{n}", credentials={"app_secret": f"secret-{n}"})
        item = Item.objects.create(code=f"I{n}", name=f"物料{n}", kind=Item.Kind.FINISHED)
        for _ in range(2):
            make_run(account, errors=[{"code": "TIMEOUT", "message": "timeout", "external_id": ""}], fetched=5)
        SkuMapping.objects.create(external_sku=f"SKU-{n}", item=item, channel_account=account)
        SkuMapping.objects.create(external_sku=f"SKU-{n}-ALL", item=item)


@pytest.mark.parametrize("url", ["/channel-accounts/", "/sync-runs/", "/sku-mappings/"])
def test_it_lists_with_a_constant_number_of_queries(users, url, django_assert_max_num_queries):
    client = api_client(users[Role.IT_ADMIN])
    add_intake_data(size=2, start=0)
    with CaptureQueriesContext(connection) as small:
        assert client.get(API + url).status_code == 200

    add_intake_data(size=20, start=100)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(API + url)
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 22
