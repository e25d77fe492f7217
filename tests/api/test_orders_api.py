"""The /api/v1/ sales orders: reading them with lines and issues, and the review decisions on them and their
issues (who may call which endpoint is in the matrix of tests/api/test_intake_api.py)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from accounts.models import AuditEvent, User
from accounts.roles import Role
from integrations.models import ChannelAccount, SkuMapping
from integrations.pipeline import issue_message
from orders.models import OrderIssue, SalesOrder
from production.models import Item
from tests.conftest import make_user
from tests.integrations.builders import make_account, make_order, unmapped

pytestmark = pytest.mark.django_db

API = "/api/v1"
Code = OrderIssue.Code
Status = SalesOrder.Status
SHANGHAI = ZoneInfo("Asia/Shanghai")


def api_client(user: User | None = None, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def shop(db) -> ChannelAccount:
    return make_account("TB1", name="东莞五金旗舰店")


@pytest.fixture
def hinge(db) -> Item:
    """A finished item with a mapping for its SKU, so orders of it pass re-validation."""
    item = Item.objects.create(code="HG-100", name="不锈钢合页 4 寸", kind=Item.Kind.FINISHED)
    SkuMapping.objects.create(external_sku="HG-100", item=item)
    return item


def order_numbers(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return [row["number"] for row in response.json()["results"]]


# --- Reading -------------------------------------------------------------------------------------------


def test_it_shows_an_order_with_its_lines_and_issues(users, shop, hinge):
    received = datetime(2026, 3, 2, 10, 30, tzinfo=SHANGHAI)
    order = make_order(
        shop,
        lines=[("HG-100", 2, "15.00"), ("SKU-X", 1, "9.90")],
        items={"HG-100": hinge},
        issues=[unmapped("SKU-X")],
        received_at=received,
        external_id="3100000001",
        buyer="tb_buyer_01",
        buyer_note="请周五前发货",
        shipping_amount=Decimal("8.00"),
        paid_amount=Decimal("47.90"),
        paid_at=received - timedelta(minutes=5),
        promised_date=received.date() + timedelta(days=3),
    )

    response = api_client(users[Role.SALES]).get(f"{API}/sales-orders/{order.number}/")

    assert response.status_code == 200
    body = response.json()
    issue = order.issues.get()
    assert body == {
        "number": "TB1-3100000001",
        "channel_account": "TB1",
        "marketplace": "taobao",
        "external_id": "3100000001",
        "external_number": "3100000001",
        "external_status": "",
        "status": "needs_review",
        "buyer": "tb_buyer_01",
        "buyer_note": "请周五前发货",
        "receiver_name": "张三",
        "receiver_phone": "13800138000",
        "receiver_country": "",
        "receiver_province": "广东省",
        "receiver_city": "东莞市",
        "receiver_district": "长安镇",
        "receiver_address": "振安中路 88 号",
        "receiver_zip": "523850",
        "currency": "CNY",
        "goods_amount": "39.90",
        "shipping_amount": "8.00",
        "discount_amount": "0.00",
        "paid_amount": "47.90",
        "ordered_at": None,
        "paid_at": "2026-03-02T10:25:00+08:00",
        "received_at": "2026-03-02T10:30:00+08:00",
        "updated_at": body["updated_at"],
        "confirmed_at": None,
        "confirmed_by": None,
        "promised_date": "2026-03-05",
        "erp_number": "",
        "erp_state": "",
        "erp_push": None,
        "lines": [
            {
                "line_no": 1,
                "external_sku": "HG-100",
                "title": "商品 HG-100",
                "item": "HG-100",
                "qty": "2.0000",
                "item_qty": "2.0000",
                "unit_price": "15.00",
                "discount": "0.00",
            },
            {
                "line_no": 2,
                "external_sku": "SKU-X",
                "title": "商品 SKU-X",
                "item": None,
                "qty": "1.0000",
                "item_qty": "1.0000",
                "unit_price": "9.90",
                "discount": "0.00",
            },
        ],
        "issues": [
            {
                "id": issue.pk,
                "code": "SKU_UNMAPPED",
                "label": "SKU not mapped to an item",
                "message": "Marketplace SKU SKU-X is not mapped to an item.",
                "data": {"sku": "SKU-X"},
                "created_at": body["issues"][0]["created_at"],
                "resolved_at": None,
                "resolved_by": None,
                "resolution": "",
            }
        ],
        "payload": None,  # sales may read orders, but only reviewers see what the marketplace sent
    }


def test_it_words_issues_in_the_language_the_caller_asks_for(users, shop):
    order = make_order(shop, lines=[("SKU-X", 1, "9.90")], issues=[unmapped("SKU-X")])
    english = api_client(users[Role.SALES], "en").get(f"{API}/sales-orders/{order.number}/").json()["issues"][0]
    chinese = api_client(users[Role.SALES], "zh-hans").get(f"{API}/sales-orders/{order.number}/").json()["issues"][0]

    with translation.override("zh-hans"):
        expected = (str(Code.SKU_UNMAPPED.label), issue_message(Code.SKU_UNMAPPED, {"sku": "SKU-X"}))
    assert (english["label"], english["message"]) == (
        "SKU not mapped to an item",
        "Marketplace SKU SKU-X is not mapped to an item.",
    )
    assert (chinese["label"], chinese["message"]) == expected
    assert chinese["message"] != english["message"]


def test_it_shows_the_raw_payload_only_to_reviewers_and_only_on_the_single_order(users, shop):
    payload = {"tid": "3100000002", "orders": [{"outer_sku_id": "HG-100"}], "seller_memo": "老客户"}
    order = make_order(shop, external_id="3100000002", payload=payload)
    reviewer, sales = api_client(users[Role.CUSTOMER_SERVICE]), api_client(users[Role.SALES])

    assert reviewer.get(f"{API}/sales-orders/{order.number}/").json()["payload"] == payload
    assert sales.get(f"{API}/sales-orders/{order.number}/").json()["payload"] is None
    listed = reviewer.get(f"{API}/sales-orders/").json()["results"][0]
    assert "payload" not in listed
    assert "老客户" not in reviewer.get(f"{API}/sales-orders/").content.decode()


def test_it_filters_orders_by_status_shop_open_issue_and_reception_time(users, shop, hinge):
    jd = make_account("JD1", kind=ChannelAccount.Kind.JD)
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    mapped = {"HG-100": hinge}
    clean = make_order(shop, items=mapped, lines=[("HG-100", 1, "15.00")], received_at=day)
    unmapped_order = make_order(shop, lines=[("SKU-X", 1, "9.00")], issues=[unmapped("SKU-X")], received_at=day)
    noted = make_order(
        jd,
        items=mapped,
        lines=[("HG-100", 1, "15.00")],
        issues=[(Code.BUYER_NOTE, {"note": "加急"})],
        received_at=day + timedelta(hours=2),
    )
    acknowledged = make_order(
        jd,
        items=mapped,
        lines=[("HG-100", 1, "15.00")],
        issues=[(Code.BUYER_NOTE, {"note": "周五前"})],
        status=Status.CONFIRMED,
        received_at=day - timedelta(days=1),
    )
    acknowledged.issues.update(resolved_at=timezone.now(), resolution="acknowledged")
    client = api_client(users[Role.FINANCE])

    def numbers(**params) -> set[str]:
        return set(order_numbers(client.get(f"{API}/sales-orders/", params)))

    assert numbers(status="confirmed") == {acknowledged.number}
    assert numbers(channel_account="JD1") == {noted.number, acknowledged.number}
    assert numbers(issue="BUYER_NOTE") == {noted.number}  # the acknowledged note is closed
    assert numbers(issue="SKU_UNMAPPED", channel_account="TB1") == {unmapped_order.number}
    assert numbers(has_open_issues="true") == {unmapped_order.number, noted.number}
    assert numbers(has_open_issues="false") == {clean.number, acknowledged.number}
    assert numbers(received_at_after="2026-03-02T08:00:00+08:00", received_at_before="2026-03-02T10:00:00+08:00") == {
        clean.number,
        unmapped_order.number,
    }
    assert numbers(received_at_before="2026-03-02T00:00:00+08:00") == {acknowledged.number}


def test_it_refuses_a_filter_value_it_does_not_know(users, shop):
    response = api_client(users[Role.SALES]).get(f"{API}/sales-orders/", {"status": "lost", "issue": "NOPE"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"status", "issue"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("3100000042", "a"), ("TB1-31000000", "both"), ("王五", "b"), ("李四", "a"), ("hg-200", "b"), ("X-NONE", "none")],
)
def test_it_searches_number_marketplace_id_buyer_receiver_and_sku(users, shop, query, expected):
    a = make_order(shop, external_id="3100000042", receiver_name="李四", lines=[("HG-100", 1, "15.00")])
    b = make_order(shop, external_id="3100000043", buyer="王五", lines=[("HG-100", 1, "5.00"), ("HG-200", 2, "5.00")])
    wanted = {"a": [a.number], "b": [b.number], "both": [b.number, a.number], "none": []}[expected]
    response = api_client(users[Role.SALES]).get(f"{API}/sales-orders/", {"search": query})
    assert sorted(order_numbers(response)) == sorted(wanted)


def test_it_pages_orders_newest_first_by_cursor_without_repeats(users, shop):
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    # Five orders, three of them received in the same second: the cursor must not repeat or skip any.
    orders = [make_order(shop, received_at=moment + timedelta(minutes=minutes)) for minutes in (0, 0, 0, 5, 10)]
    client = api_client(users[Role.SALES])

    seen, url, pages = [], f"{API}/sales-orders/?page_size=2", 0
    while url:
        body = client.get(url).json()
        seen += [row["number"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert seen == [order.number for order in sorted(orders, key=lambda o: (o.received_at, o.pk), reverse=True)]
    by_number = order_numbers(client.get(f"{API}/sales-orders/", {"ordering": "number"}))
    assert by_number == sorted(order.number for order in orders)


def test_it_shows_a_user_granted_particular_orders_only_those(users, shop):
    mine, other = make_order(shop), make_order(shop)
    rep = users[None]
    assign_perm("orders.view_salesorder", rep, mine)
    client = api_client(rep)

    assert order_numbers(client.get(f"{API}/sales-orders/")) == [mine.number]
    assert client.get(f"{API}/sales-orders/{mine.number}/").status_code == 200
    assert client.get(f"{API}/sales-orders/{other.number}/").status_code == 404
    assert client.post(f"{API}/sales-orders/{mine.number}/approve/").status_code == 403


def test_it_answers_404_for_an_unknown_order(users):
    response = api_client(users[Role.CUSTOMER_SERVICE]).get(f"{API}/sales-orders/TB1-0/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Approve, force-approve, reject ----------------------------------------------------------------------


def test_it_approves_a_clean_order_and_answers_with_the_confirmed_order(users, shop, hinge):
    order = make_order(shop, items={"HG-100": hinge}, lines=[("HG-100", 2, "15.00")])
    reviewer = users[Role.CUSTOMER_SERVICE]
    response = api_client(reviewer).post(f"{API}/sales-orders/{order.number}/approve/")

    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["status"], body["confirmed_by"]) == (order.number, "confirmed", "customer_service")
    assert body["confirmed_at"] is not None
    assert body["payload"] == order.payload
    assert SalesOrder.objects.get(pk=order.pk).status == Status.CONFIRMED
    assert AuditEvent.objects.get(verb="order.confirm").actor == reviewer


def test_it_refuses_to_approve_over_open_issues_and_changes_nothing(users, shop):
    order = make_order(shop, lines=[("SKU-X", 1, "10.00")], issues=[unmapped("SKU-X")])
    audit_before = AuditEvent.objects.count()
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(f"{API}/sales-orders/{order.number}/approve/")

    assert response.status_code == 400
    assert response.json() == {
        "code": "open_issues",
        "detail": f"Order {order.number} still has open issues: Marketplace SKU SKU-X is not mapped to an item.",
    }
    order.refresh_from_db()
    assert (order.status, order.confirmed_at) == (Status.NEEDS_REVIEW, None)
    assert order.issues.get().is_open
    assert AuditEvent.objects.count() == audit_before


def test_it_refuses_to_review_an_order_that_left_the_queue(users, shop, hinge):
    order = make_order(shop, items={"HG-100": hinge}, lines=[("HG-100", 1, "15.00")], status=Status.CONFIRMED)
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(
        f"{API}/sales-orders/{order.number}/reject/", {"reason": "重复下单"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_in_review"
    assert SalesOrder.objects.get(pk=order.pk).status == Status.CONFIRMED


@pytest.fixture
def noted(shop, hinge) -> SalesOrder:
    """A mapped order held by a buyer's note and an incomplete address."""
    return make_order(
        shop,
        items={"HG-100": hinge},
        lines=[("HG-100", 1, "15.00")],
        buyer_note="请周五前发货",
        issues=[(Code.BUYER_NOTE, {"note": "请周五前发货"}), (Code.ADDRESS_INCOMPLETE, {"missing": "city"})],
    )


def test_it_refuses_force_approve_without_its_own_permission(users, noted):
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(
        f"{API}/sales-orders/{noted.number}/force-approve/", {"reason": "客户电话确认"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert SalesOrder.objects.get(pk=noted.pk).status == Status.NEEDS_REVIEW
    assert not AuditEvent.objects.filter(verb="order.force_approve").exists()


@pytest.fixture
def lead(db) -> User:
    """The customer-service lead, to whom IT granted approving over open issues."""
    user = make_user(Role.CUSTOMER_SERVICE, username="cs_lead")
    user.user_permissions.add(Permission.objects.get(codename="force_approve_salesorder"))
    return user


def test_it_force_approves_with_the_permission_and_a_reason_and_audits_the_reason(lead, noted):
    response = api_client(lead).post(
        f"{API}/sales-orders/{noted.number}/force-approve/", {"reason": "客户电话确认地址"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["confirmed_by"]) == ("confirmed", "cs_lead")
    assert {issue["resolved_by"] for issue in body["issues"]} == {"cs_lead"}
    assert all("客户电话确认地址" in issue["resolution"] for issue in body["issues"])
    event = AuditEvent.objects.get(verb="order.force_approve")
    assert event.actor == lead
    assert event.changes["reason"] == "客户电话确认地址"
    assert sorted(event.changes["issues"]) == ["ADDRESS_INCOMPLETE", "BUYER_NOTE"]


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "invalid"), ({"reason": ""}, "invalid"), ({"reason": "ok"}, "reason_required")],
)
def test_it_needs_a_real_reason_to_force_approve(lead, noted, body, code):
    response = api_client(lead).post(f"{API}/sales-orders/{noted.number}/force-approve/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    if code == "invalid":
        assert list(response.json()["fields"]) == ["reason"]
    assert SalesOrder.objects.get(pk=noted.pk).status == Status.NEEDS_REVIEW


def test_it_refuses_to_force_approve_an_order_with_an_unmapped_sku(lead, shop):
    order = make_order(shop, lines=[("SKU-X", 1, "10.00")], issues=[unmapped("SKU-X")])
    response = api_client(lead).post(
        f"{API}/sales-orders/{order.number}/force-approve/", {"reason": "客户电话确认"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "sku_unmapped"
    assert order.issues.get().is_open


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_it_needs_a_reason_to_reject(users, noted, body):
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(
        f"{API}/sales-orders/{noted.number}/reject/", body, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["reason"]
    assert SalesOrder.objects.get(pk=noted.pk).status == Status.NEEDS_REVIEW
    assert not AuditEvent.objects.filter(verb="order.reject").exists()


def test_it_rejects_an_order_with_a_reason_and_closes_its_issues(users, noted):
    reviewer = users[Role.CUSTOMER_SERVICE]
    response = api_client(reviewer).post(
        f"{API}/sales-orders/{noted.number}/reject/", {"reason": "买家重复下单"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected"
    assert all(issue["resolved_at"] and issue["resolved_by"] == "customer_service" for issue in body["issues"])
    event = AuditEvent.objects.get(verb="order.reject")
    assert (event.actor, event.changes) == (reviewer, {"reason": "买家重复下单"})


# --- Receiver and issues ---------------------------------------------------------------------------------


def test_it_corrects_the_receiver_and_checks_the_order_again(users, shop, hinge):
    order = make_order(
        shop,
        items={"HG-100": hinge},
        lines=[("HG-100", 1, "15.00")],
        receiver_city="",
        issues=[(Code.ADDRESS_INCOMPLETE, {"missing": "city"})],
    )
    reviewer = users[Role.CUSTOMER_SERVICE]
    response = api_client(reviewer).post(
        f"{API}/sales-orders/{order.number}/receiver/", {"receiver_city": " 东莞市 "}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["receiver_city"], body["issues"], body["status"]) == ("东莞市", [], "needs_review")
    event = AuditEvent.objects.get(verb="order.update_receiver")
    assert (event.actor, event.changes) == (reviewer, {"receiver_city": ["", "东莞市"]})
    # Nothing holds it any more: approving now succeeds.
    approved = api_client(reviewer).post(f"{API}/sales-orders/{order.number}/approve/")
    assert approved.json()["status"] == "confirmed"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "non_field_errors"), ({"receiver_phone": "1" * 65}, "receiver_phone"), ({"buyer": "x"}, "non_field_errors")],
)
def test_it_refuses_a_receiver_change_without_valid_receiver_fields(users, noted, body, field):
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(
        f"{API}/sales-orders/{noted.number}/receiver/", body, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    assert not AuditEvent.objects.filter(verb="order.update_receiver").exists()


def test_it_acknowledges_a_buyers_note_but_no_other_issue(users, noted):
    note = noted.issues.get(code=Code.BUYER_NOTE)
    address = noted.issues.get(code=Code.ADDRESS_INCOMPLETE)
    client = api_client(users[Role.CUSTOMER_SERVICE])

    refused = client.post(f"{API}/order-issues/{address.pk}/acknowledge/")
    assert refused.status_code == 400
    assert refused.json()["code"] == "not_informational"
    assert OrderIssue.objects.get(pk=address.pk).is_open

    response = client.post(f"{API}/order-issues/{note.pk}/acknowledge/")
    assert response.status_code == 200
    shown = {issue["code"]: issue for issue in response.json()["issues"]}
    assert shown["BUYER_NOTE"]["resolved_by"] == "customer_service"
    assert shown["BUYER_NOTE"]["resolution"] == "acknowledged"
    assert shown["ADDRESS_INCOMPLETE"]["resolved_at"] is None


def test_it_closes_a_change_after_confirmation_with_how_it_was_handled(users, shop, hinge):
    order = make_order(
        shop,
        items={"HG-100": hinge},
        status=Status.CONFIRMED,
        issues=[(Code.CHANGED_AFTER_CONFIRMATION, {"changes": "receiver_name"})],
    )
    change = order.issues.get()
    client = api_client(users[Role.CUSTOMER_SERVICE])

    too_short = client.post(f"{API}/order-issues/{change.pk}/resolve-change/", {"resolution": "好"}, format="json")
    assert (too_short.status_code, too_short.json()["code"]) == (400, "reason_required")
    missing = client.post(f"{API}/order-issues/{change.pk}/resolve-change/", {}, format="json")
    assert list(missing.json()["fields"]) == ["resolution"]

    response = client.post(
        f"{API}/order-issues/{change.pk}/resolve-change/", {"resolution": "已在 ERP 改收货人"}, format="json"
    )
    assert response.status_code == 200
    issue = response.json()["issues"][0]
    assert (issue["resolution"], issue["resolved_by"]) == ("已在 ERP 改收货人", "customer_service")
    assert response.json()["status"] == "confirmed"


def test_it_refuses_to_resolve_another_kind_of_issue_as_a_change(users, noted):
    note = noted.issues.get(code=Code.BUYER_NOTE)
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(
        f"{API}/order-issues/{note.pk}/resolve-change/", {"resolution": "已处理好了"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "wrong_issue")


def test_it_answers_404_for_an_unknown_issue(users):
    response = api_client(users[Role.CUSTOMER_SERVICE]).post(f"{API}/order-issues/999999/acknowledge/")
    assert response.status_code == 404


# --- Query counts ----------------------------------------------------------------------------------------


def add_orders(shop: ChannelAccount, hinge: Item, resolver: User, size: int) -> None:
    """`size` orders with two lines (one mapped), an open issue and an issue someone closed."""
    for _ in range(size):
        order = make_order(
            shop,
            items={"HG-100": hinge},
            lines=[("HG-100", 1, "15.00"), ("SKU-X", 1, "9.00")],
            issues=[unmapped("SKU-X"), (Code.BUYER_NOTE, {"note": "加急"})],
        )
        order.issues.filter(code=Code.BUYER_NOTE).update(resolved_at=timezone.now(), resolved_by=resolver)


@pytest.mark.parametrize("params", [{}, {"search": "SKU-X", "has_open_issues": "true", "issue": "SKU_UNMAPPED"}])
def test_it_lists_orders_with_a_constant_number_of_queries(users, shop, hinge, params, django_assert_max_num_queries):
    reviewer = users[Role.CUSTOMER_SERVICE]
    client = api_client(reviewer)
    add_orders(shop, hinge, reviewer, size=2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"{API}/sales-orders/", params).status_code == 200

    add_orders(shop, hinge, reviewer, size=20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{API}/sales-orders/", params)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 22
    assert {issue["resolved_by"] for row in rows for issue in row["issues"]} == {None, "customer_service"}
    assert {line["item"] for row in rows for line in row["lines"]} == {"HG-100", None}
