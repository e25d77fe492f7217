"""The ERP outbox on the API: who may read it, and IT's retry of a dead-lettered push."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import ROLE_PERMISSIONS, Role
from orders.models import ErpPush, SalesOrder
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_push():
    order = make_order(make_account(), status=SalesOrder.Status.CONFIRMED)
    return ErpPush.objects.create(
        order=order,
        status=ErpPush.Status.DEAD,
        attempts=10,
        last_error="物料编码“FG-9999”不存在",
        last_error_code="K3_VALIDATION",
    )


@pytest.mark.parametrize("role", [*Role, None])
def test_reading_the_outbox_follows_the_view_permission(users, dead_push, role):
    client = APIClient()
    client.force_authenticate(users[role])
    allowed = role is not None and "orders.view_erppush" in ROLE_PERMISSIONS[role]
    response = client.get("/api/v1/erp-pushes/")
    assert response.status_code == (200 if allowed else 403)
    if allowed:
        assert response.json()["results"][0]["last_error"] == "物料编码“FG-9999”不存在"


@pytest.mark.parametrize("role", [*Role, None])
def test_only_it_can_retry_a_dead_push(users, dead_push, role):
    client = APIClient()
    client.force_authenticate(users[role])
    response = client.post(f"/api/v1/erp-pushes/{dead_push.pk}/retry/")
    allowed = role is not None and "orders.change_erppush" in ROLE_PERMISSIONS[role]
    assert response.status_code == (200 if allowed else 403)
    dead_push.refresh_from_db()
    assert dead_push.status == (ErpPush.Status.PENDING if allowed else ErpPush.Status.DEAD)


def test_an_order_already_in_the_erp_is_not_pushed_again(users, dead_push):
    ErpPush.objects.filter(pk=dead_push.pk).update(status=ErpPush.Status.DONE)
    client = APIClient()
    client.force_authenticate(users[Role.IT_ADMIN])
    response = client.post(f"/api/v1/erp-pushes/{dead_push.pk}/retry/")
    assert response.status_code == 400
    assert response.json()["code"] == "already_pushed"


def test_each_order_on_the_api_carries_its_push_state_and_the_erps_error(users, dead_push):
    client = APIClient()
    client.force_authenticate(users[Role.CUSTOMER_SERVICE])
    body = client.get(f"/api/v1/sales-orders/{dead_push.order.number}/").json()
    assert body["erp_push"] == {
        "status": "dead",
        "attempts": 10,
        "last_error_code": "K3_VALIDATION",
        "last_error": "物料编码“FG-9999”不存在",
        "pushed_at": None,
    }
