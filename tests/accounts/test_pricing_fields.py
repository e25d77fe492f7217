"""Prices and discounts of sales orders are left out — not blanked — for roles without the pricing permission:
in the API, the order page, the admin and the Excel export. Finance sees what was paid, never the discounts."""

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from accounts.permissions import PRICING_FIELDS, sees_pricing
from accounts.roles import Role
from orders.models import OrderIssue, OrderLine, SalesOrder
from tests.integrations.builders import make_account, make_order

API = "/api/v1"
# Figures that appear nowhere else in the order: any of them on a finance user's screen is a leak.
UNIT_PRICE, LINE_DISCOUNT, ORDER_DISCOUNT, GOODS = "123.45", "7.77", "11.11", "246.90"
PAID = "228.02"
SECRET_FIGURES = ("123.45", "7.77", "11.11", "246.9")
PRICING_READERS = {Role.CUSTOMER_SERVICE, Role.SALES, Role.IT_ADMIN}


@pytest.fixture
def order(db) -> SalesOrder:
    account = make_account("TB1")
    order = make_order(
        account,
        lines=[("HK-01", 2, UNIT_PRICE)],
        issues=[
            (
                OrderIssue.Code.AMOUNT_MISMATCH,
                {"goods": GOODS, "discount": "18.88", "shipping": "0", "expected": PAID, "paid": "200.00"},
            )
        ],
        paid_amount=Decimal(PAID),
        payload={"tid": "1", "orders": [{"price": UNIT_PRICE, "discount_fee": LINE_DISCOUNT}]},
    )
    SalesOrder.objects.filter(pk=order.pk).update(discount_amount=Decimal(ORDER_DISCOUNT))
    OrderLine.objects.filter(order=order).update(discount=Decimal(LINE_DISCOUNT))
    return order


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", list(Role))
def test_only_customer_service_sales_and_it_see_pricing(users, role):
    assert sees_pricing(users[role]) is (role in PRICING_READERS)


def test_finance_gets_orders_from_the_api_without_any_pricing_field(users, order):
    client = signed_in(users[Role.FINANCE])
    listed = client.get(f"{API}/sales-orders/").json()["results"][0]
    single = client.get(f"{API}/sales-orders/{order.number}/").json()
    for body in (listed, single):
        assert body["paid_amount"] == PAID
        assert not PRICING_FIELDS & set(body)
        assert not PRICING_FIELDS & set(body["lines"][0])
    issue = single["issues"][0]
    assert issue["code"] == "AMOUNT_MISMATCH" and issue["data"] == {}
    assert not any(figure in str(single) for figure in SECRET_FIGURES)


def test_customer_service_gets_every_pricing_field_from_the_api(users, order):
    single = signed_in(users[Role.CUSTOMER_SERVICE]).get(f"{API}/sales-orders/{order.number}/").json()
    assert single["discount_amount"] == ORDER_DISCOUNT and single["goods_amount"] == GOODS
    assert single["lines"][0]["unit_price"] == UNIT_PRICE and single["lines"][0]["discount"] == LINE_DISCOUNT
    assert single["payload"]["orders"][0]["discount_fee"] == LINE_DISCOUNT
    assert single["issues"][0]["data"]["goods"] == GOODS


def test_the_api_description_still_documents_the_pricing_fields_and_who_gets_them(client):
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    order = schema["SalesOrderDetail"]["properties"]
    assert {"goods_amount", "discount_amount", "payload"} <= set(order)
    assert "orders.view_pricing_salesorder" in order["discount_amount"]["description"]
    assert {"unit_price", "discount"} <= set(schema["OrderLine"]["properties"])


def test_the_order_page_shows_finance_what_was_paid_but_no_price_discount_or_payload(users, order):
    page = signed_in(users[Role.FINANCE]).get(reverse("integrations:order-review", args=[order.number]))
    html = page.content.decode()
    assert page.status_code == 200
    assert PAID in html
    assert not any(figure in html for figure in SECRET_FIGURES)
    assert 'class="payload"' not in html


def test_the_order_page_shows_customer_service_prices_discounts_and_payload(users, order):
    html = signed_in(users[Role.CUSTOMER_SERVICE]).get(reverse("integrations:order-review", args=[order.number]))
    html = html.content.decode()
    assert all(figure in html for figure in SECRET_FIGURES)
    assert 'class="payload"' in html


@pytest.mark.parametrize("role", [Role.FINANCE, Role.PRODUCTION_MANAGER])
def test_the_admin_leaves_pricing_out_for_staff_without_the_permission(users, order, role):
    user = users[role]
    user.is_staff = True  # finance is not staff by default; IT may make them so
    user.save(update_fields=["is_staff"])
    client = signed_in(user)
    changelist = client.get(reverse("admin:orders_salesorder_changelist")).content.decode()
    change = client.get(reverse("admin:orders_salesorder_change", args=[order.pk]))
    assert change.status_code == 200
    for html in (changelist, change.content.decode()):
        assert PAID in html
        assert not any(figure in html for figure in SECRET_FIGURES)
        assert "discount_fee" not in html


def test_the_admin_shows_pricing_to_it(users, order):
    html = signed_in(users[Role.IT_ADMIN]).get(reverse("admin:orders_salesorder_change", args=[order.pk]))
    assert all(figure in html.content.decode() for figure in SECRET_FIGURES)


def workbook_rows(client: Client) -> list[tuple]:
    response = client.get(reverse("integrations:orders-export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return list(sheet.iter_rows(values_only=True))


def label(text: str) -> str:
    """A column title as the export writes it, in the default language."""
    with translation.override("zh-hans"):
        return gettext(text)


PRICING_COLUMNS = ("Goods amount", "Order discount", "Unit price", "Line discount")


def test_the_excel_export_gives_finance_paid_amounts_without_price_or_discount_columns(users, order):
    header, row = workbook_rows(signed_in(users[Role.FINANCE]))
    values = dict(zip(header, row, strict=True))
    assert Decimal(str(values[label("Paid amount")])) == Decimal(PAID)
    assert values[label("Order")] == order.number
    assert not {label(column) for column in PRICING_COLUMNS} & set(header)
    assert not any(figure in str(row) for figure in SECRET_FIGURES)


def test_the_excel_export_gives_customer_service_every_price_and_discount(users, order):
    header, row = workbook_rows(signed_in(users[Role.CUSTOMER_SERVICE]))
    values = {column: Decimal(str(value)) for column, value in zip(header, row, strict=True) if column in {
        label(name) for name in PRICING_COLUMNS}}  # fmt: skip
    assert values == {
        label("Goods amount"): Decimal(GOODS),
        label("Order discount"): Decimal(ORDER_DISCOUNT),
        label("Unit price"): Decimal(UNIT_PRICE),
        label("Line discount"): Decimal(LINE_DISCOUNT),
    }


def test_a_change_after_confirmation_keeps_its_new_payload_from_finance(users, order):
    OrderIssue.objects.create(
        order=order,
        code=OrderIssue.Code.CHANGED_AFTER_CONFIRMATION,
        detail="paid_amount",
        data={"changes": "paid_amount", "diff": {"paid_amount": [PAID, "200.00"]}, "payload": {"discount_fee": "7.77"}},
    )
    for role, sees in ((Role.FINANCE, False), (Role.CUSTOMER_SERVICE, True)):
        body = signed_in(users[role]).get(f"{API}/sales-orders/{order.number}/").json()
        changed = next(issue for issue in body["issues"] if issue["code"] == "CHANGED_AFTER_CONFIRMATION")
        assert changed["data"]["diff"] == {"paid_amount": [PAID, "200.00"]}
        assert ("payload" in changed["data"]) is sees
