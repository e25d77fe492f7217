"""Whatever goes wrong, the API answers in its error body: routes that match nothing, ids of the wrong form,
values the database cannot store."""

import pytest
from django.db import connection

from accounts.roles import Role
from orders.models import ErpPush
from tests.integrations.builders import make_account, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def it_admin(client, users):
    client.force_login(users[Role.IT_ADMIN])
    return client


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


def test_a_time_the_database_cannot_store_is_refused_as_invalid_input(it_admin):
    answer = it_admin.get("/api/v1/report-events/", {"at_after": "0733-03-24T23:11:31+17:22"})

    if connection.vendor == "postgresql":  # PostgreSQL stores offsets up to ±15:59; SQLite compares text
        assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    else:
        assert answer.status_code == 200
