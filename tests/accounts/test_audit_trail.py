"""IT's audit trail page: filter by who, action, object and days; export to Excel; every write names actor and IP."""

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.services import api_key_create, audit_record, team_create
from production.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(users):
    team_create(code="CY1", name="冲压一班", by=users[Role.IT_ADMIN])
    audit_record(actor=users[Role.PRODUCTION_MANAGER], verb="item.create", changes={"name": "=HYPERLINK(1)"})
    old = audit_record(actor=users[Role.SALES], verb="order.view_export")
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=10))


def it_client(users) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(users[Role.IT_ADMIN])
    return client


def rows(response) -> str:
    return response.content.decode()


def test_it_shows_the_trail_to_it_only(users, trail):
    assert it_client(users).get("/accounts/audit/").status_code == 200
    for role in (Role.PRODUCTION_MANAGER, Role.FINANCE, None):
        client = Client()
        client.force_login(users[role])
        assert client.get("/accounts/audit/").status_code == 403
        assert client.get("/accounts/audit/export.xlsx").status_code == 403


def test_it_filters_by_actor_action_object_and_days(users, trail):
    client = it_client(users)

    by_actor = rows(client.get("/accounts/audit/", {"actor": "production_manager"}))
    by_action = rows(client.get("/accounts/audit/", {"action": "team.create"}))
    by_object = rows(client.get("/accounts/audit/", {"object": "冲压一班"}))
    today = timezone.localdate().isoformat()
    by_days = rows(client.get("/accounts/audit/", {"date_from": today, "date_to": today}))

    assert "item.create" in by_actor and "team.create" not in by_actor
    assert "team.create" in by_action and "item.create" not in by_action
    assert "冲压一班" in by_object and "item.create" not in by_object
    assert "order.view_export" not in by_days and "team.create" in by_days


def test_it_exports_the_filtered_trail_to_excel_with_formulas_kept_as_text(users, trail):
    response = it_client(users).get("/accounts/audit/export.xlsx", {"action": "item"})

    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    sheet = load_workbook(io.BytesIO(response.content)).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][:4] == ("Time", "Who", "API key", "Action")
    assert [row[3] for row in table[1:]] == ["item.create"]
    assert table[1][1] == "production_manager"
    assert sheet["H2"].data_type == "s" and "=HYPERLINK(1)" in sheet["H2"].value


def test_the_page_costs_the_same_queries_for_ten_or_a_hundred_events(users, django_assert_max_num_queries):
    client = it_client(users)
    for count in (10, 100):
        for n in range(count):
            audit_record(actor=users[Role.SALES], verb=f"test.{n}", obj=users[Role.SALES])
        with django_assert_max_num_queries(12):
            assert client.get("/accounts/audit/").status_code == 200


def test_writes_by_a_person_and_by_an_api_key_carry_actor_and_address(users):
    manager = APIClient(REMOTE_ADDR="10.9.8.7")
    manager.force_login(users[Role.PRODUCTION_MANAGER])
    manager.post("/api/v1/items/", {"code": "P-1", "name": "p", "kind": "raw", "unit": "PCS"}, format="json")
    _key, raw = api_key_create(name="MES", role=Role.PRODUCTION_MANAGER, by=users[Role.IT_ADMIN])
    keyed = APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw}", REMOTE_ADDR="10.9.8.6")
    keyed.post("/api/v1/items/", {"code": "K-1", "name": "k", "kind": "raw", "unit": "PCS"}, format="json")
    it = Client(REMOTE_ADDR="10.9.8.5")
    it.force_login(users[Role.IT_ADMIN])
    it.post("/admin/accounts/team/add/", {"code": "T9", "name": "九班"})

    events = {e.verb: e for e in AuditEvent.objects.filter(at__gte=timezone.now() - timedelta(minutes=1))}
    person = AuditEvent.objects.get(verb="item.create", object_id=str(Item.objects.get(code="P-1").pk))
    key = AuditEvent.objects.get(verb="item.create", object_id=str(Item.objects.get(code="K-1").pk))
    assert (person.actor, person.ip, person.api_key) == (users[Role.PRODUCTION_MANAGER], "10.9.8.7", None)
    assert (key.actor_label, key.ip, key.api_key.name) == ("API key MES", "10.9.8.6", "MES")
    assert (events["admin.team.create"].actor, events["admin.team.create"].ip) == (users[Role.IT_ADMIN], "10.9.8.5")
