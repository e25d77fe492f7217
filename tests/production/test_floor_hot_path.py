"""What the floor's hot path promises besides the floor rules: each press keeps the address it came from, a
connection that lost its prepared press statement still applies presses, and the per-person API limit holds
exactly when many requests arrive at once."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.api_auth import UserThrottle
from accounts.roles import Role
from production.models import ReportEvent, WorkOrderOperation
from tests.production.floor_builders import make_work_order, steps

API = "/api/v1/report-events/"


def press(client: APIClient, code: str, action: str, **fields):
    body = {"operation_code": code, "action": action, "client_uuid": str(uuid.uuid4()), **fields}
    return client.post(API, body, format="json")


@pytest.fixture
def tablet(users):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.20.30.40")
    client.force_login(users[Role.OPERATOR])
    return client


@pytest.mark.django_db
def test_each_press_keeps_the_address_it_came_from(tablet):
    first, _second, _third = steps(make_work_order(number="WO-IP-1", qty="10"))

    assert press(tablet, first.code, "start").status_code == 201  # the locked path
    assert press(tablet, first.code, "report", good_qty="2").status_code == 201  # the one-statement path

    assert list(ReportEvent.objects.order_by("at", "id").values_list("action", "ip")) == [
        ("start", "10.20.30.40"),
        ("report", "10.20.30.40"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_lost_its_prepared_statements_still_applies_presses(tablet):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; CI runs this on PostgreSQL")
    first, _second, _third = steps(make_work_order(number="WO-PREP-1", qty="10"))
    assert press(tablet, first.code, "start").status_code == 201
    assert press(tablet, first.code, "report", good_qty="1").status_code == 201

    with connection.cursor() as cursor:  # as a pooler's reset or a restarted session would
        cursor.execute("DEALLOCATE ALL")

    assert press(tablet, first.code, "report", good_qty="2").status_code == 201
    assert WorkOrderOperation.objects.get(pk=first.pk).good_qty == Decimal("3")


@pytest.mark.django_db
def test_presses_count_the_same_with_prepared_statements_turned_off(tablet, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    first, _second, _third = steps(make_work_order(number="WO-TEXT-1", qty="10"))
    assert press(tablet, first.code, "start").status_code == 201
    replayed = {"operation_code": first.code, "action": "report", "client_uuid": str(uuid.uuid4()), "good_qty": "4"}

    assert tablet.post(API, replayed, format="json").status_code == 201
    assert tablet.post(API, replayed, format="json").status_code == 200

    assert WorkOrderOperation.objects.get(pk=first.pk).good_qty == Decimal("4")


@pytest.mark.django_db
def test_the_per_person_limit_holds_exactly_when_requests_arrive_at_once(users, settings):
    if not settings.REDIS_URL:
        pytest.skip("the embedded defaults count in a file cache; CI runs this with Redis")
    settings.LOOPLINE_API_RATES = {**settings.LOOPLINE_API_RATES, "user": "5/minute"}
    cache.delete_many([f"throttle_user_{users[Role.OPERATOR].pk}"])
    request = Request(APIRequestFactory().post(API))
    request.user, request.auth = users[Role.OPERATOR], None  # signed in by session, as on a tablet
    answers: list[bool] = []
    waits: list[float] = []
    start = threading.Barrier(20)

    def tablet() -> None:
        throttle = UserThrottle()
        start.wait()
        allowed = throttle.allow_request(request, None)
        answers.append(allowed)
        if not allowed:
            waits.append(throttle.wait())

    threads = [threading.Thread(target=tablet) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count(True) == 5  # not more: two requests cannot both take the last place
    assert len(waits) == 15 and all(0 < wait <= 60 for wait in waits)
