"""Whatever goes wrong, the API answers in its error body: routes that match nothing, ids of the wrong form,
values the database cannot store, page sizes out of bounds, refusals and crashes outside a view."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import RequestFactory
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from accounts.api_errors import bad_request, permission_denied, server_error
from accounts.roles import Role
from integrations.models import WmsShipmentLine
from orders.models import ErpPush, SalesOrder
from tests.integrations.builders import make_account, make_order, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def it_admin(client, users):
    client.force_login(users[Role.IT_ADMIN])
    return client


@pytest.fixture
def shop():
    """A shop with three orders and three sync runs, an hour apart."""
    account = make_account("TB1")
    for hours in range(3):
        moment = timezone.now() - timedelta(hours=hours)
        make_order(account, status=SalesOrder.Status.CONFIRMED, received_at=moment)
        make_run(account, started_at=moment)
    return account


def test_a_route_that_matches_nothing_under_the_api_answers_json(it_admin):
    answer = it_admin.get("/api/v1/no-such-thing/")

    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "not_found"


def test_a_page_that_matches_nothing_stays_an_html_page(it_admin):
    answer = it_admin.get("/no-such-page/")

    assert answer.status_code == 404 and answer["Content-Type"].startswith("text/html")


def test_an_id_of_the_wrong_form_names_nothing(it_admin):
    ErpPush.objects.create(order=make_order(make_account("TB1")), status=ErpPush.Status.DEAD)

    answer = it_admin.post("/api/v1/erp-pushes/T/retry/")

    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_a_time_zone_offset_the_database_cannot_store_is_read_in_utc_on_either_database(it_admin, shop):
    # Python reads offsets up to ±23:59, PostgreSQL stores only up to ±15:59: the moment is what counts.
    after = (timezone.now() - timedelta(days=1)).astimezone(timezone.get_fixed_timezone(-(18 * 60 + 24)))

    answer = it_admin.get("/api/v1/sync-runs/", {"started_at_after": after.isoformat()})

    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 3
    assert it_admin.get("/api/v1/report-events/", {"at_after": "0733-03-24T23:11:31+17:22"}).status_code == 200


def test_a_moment_past_the_year_9999_in_utc_is_an_invalid_date(it_admin, shop):
    answer = it_admin.get("/api/v1/sales-orders/", {"received_at_before": "9999-12-31T23:00:00-05:00"})

    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == ["received_at"]


@pytest.mark.parametrize("resource", ["sync-runs", "sales-orders"])
@pytest.mark.parametrize("page_size", ["0", "-1", "501", "many"])
def test_a_page_size_out_of_its_bounds_is_refused_naming_them(it_admin, shop, resource, page_size):
    answer = it_admin.get(f"/api/v1/{resource}/", {"page_size": page_size}, HTTP_ACCEPT_LANGUAGE="en")

    assert answer.status_code == 400
    assert answer.json() == {
        "code": "invalid",
        "detail": "Invalid input.",
        "fields": {"page_size": ["Ask for 1 to 500 objects per page."]},
    }


def test_a_page_size_within_its_bounds_gives_that_many_objects(it_admin, shop):
    answer = it_admin.get("/api/v1/sync-runs/", {"page_size": "2"})

    assert answer.status_code == 200
    assert len(answer.json()["results"]) == 2 and answer.json()["next"] is not None


def test_the_schema_states_the_bounds_of_page_size_and_page():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    cursor = {p["name"]: p["schema"] for p in paths["/api/v1/sync-runs/"]["get"]["parameters"]}
    assert cursor["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    numbered = {p["name"]: p["schema"] for p in paths["/api/v1/items/"]["get"]["parameters"]}
    assert numbered["page"] == {"type": "integer", "minimum": 1}


def test_a_message_tied_to_no_field_comes_under_non_field_errors(it_admin):
    # DRF's search refuses a NUL character with a bare message, not one keyed by the parameter.
    answer = it_admin.get("/api/v1/items/", {"search": "a\x00b"})

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert list(answer.json()["fields"]) == ["non_field_errors"]


def test_a_wms_batch_is_taken_as_json_only(it_admin):
    answer = it_admin.post("/api/v1/wms-shipments/", {"lines": "[]"})  # a form, as multipart

    assert answer.status_code == 415 and answer.json()["code"] == "unsupported_media_type"
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert list(paths["/api/v1/wms-shipments/"]["post"]["requestBody"]["content"]) == ["application/json"]


@pytest.mark.parametrize(
    ("handler", "status", "code"),
    [
        (lambda request: server_error(request), 500, "server_error"),
        (lambda request: bad_request(request, SuspiciousOperation("body too big")), 400, "parse_error"),
        (lambda request: permission_denied(request, PermissionDenied("body too big")), 403, "permission_denied"),
    ],
)
def test_what_fails_outside_a_view_answers_the_error_body_under_the_api_only(handler, status, code):
    answer = handler(RequestFactory().get("/api/v1/items/"))
    body = json.loads(answer.content)

    assert answer.status_code == status and answer["Content-Type"] == "application/json"
    assert set(body) == {"code", "detail"} and body["code"] == code
    assert "body too big" not in body["detail"]
    assert handler(RequestFactory().get("/production/items/"))["Content-Type"].startswith("text/html")


def test_a_wms_line_with_a_nul_character_is_refused_row_by_row(it_admin):
    lines = [{"line_id": "W\x001", "shipped_at": "2026-11-24T14:30:00+08:00", "item": "FG\x00", "qty": "1"}]

    answer = it_admin.post("/api/v1/wms-shipments/", {"lines": lines}, content_type="application/json")

    assert answer.status_code == 400 and answer.json()["code"] == "invalid_rows"
    refused = {(error["row"], error["column"]) for error in answer.json()["errors"]}
    assert {(1, "line_id"), (1, "item")} <= refused
    assert not WmsShipmentLine.objects.exists()


def test_reconciliation_refuses_a_nul_item_code_and_a_range_before_year_one(it_admin):
    nul = it_admin.get("/api/v1/reconciliation/", {"item": "FG\x00"})
    too_early = it_admin.get("/api/v1/reconciliation/", {"date_to": "0001-01-02"})

    assert nul.status_code == 400 and list(nul.json()["fields"]) == ["item"]
    assert too_early.status_code == 400 and list(too_early.json()["fields"]) == ["date_from"]
