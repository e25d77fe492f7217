"""API keys for other systems: made by IT (admin or command), stored hashed, acting with their role, revocable,
throttled, and every write with one audited with the key and the caller's address."""

import re
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey, AuditEvent, User, api_key_digest
from accounts.roles import Role
from accounts.services import api_key_create, api_key_revoke
from production.models import Item
from tests.conftest import ensure_role_groups

pytestmark = pytest.mark.django_db

API = "/api/v1"


def key_client(raw_key: str, ip: str = "10.1.2.3") -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=ip)


@pytest.fixture
def key_of():
    ensure_role_groups()

    def build(role: Role, name: str | None = None) -> tuple[ApiKey, str]:
        return api_key_create(name=name or f"{role.value} system", role=role, by=None)

    return build


def test_the_command_prints_the_key_once_and_stores_only_its_hash(users):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "WMS", "--role", "warehouse_keeper", "--by", "it_admin", stdout=out, stderr=err)

    raw_key = out.getvalue().strip()
    key = ApiKey.objects.get(name="WMS")
    assert re.fullmatch(r"ll_[0-9a-f]{8}_[\w-]{40,}", raw_key)
    assert raw_key.startswith(f"ll_{key.prefix}_")
    assert key.key_hash == api_key_digest(raw_key)
    stored = [str(value) for value in ApiKey.objects.filter(pk=key.pk).values().get().values()]
    assert not any(raw_key in value for value in stored)
    assert raw_key not in err.getvalue()
    assert (key.role, key.created_by) == ("warehouse_keeper", users[Role.IT_ADMIN])
    assert AuditEvent.objects.filter(verb="api_key.create", actor=users[Role.IT_ADMIN], object_id=str(key.pk)).exists()


def test_the_command_refuses_an_unknown_role_or_a_second_key_with_the_same_name(key_of):
    key_of(Role.SALES, name="BI")
    with pytest.raises(CommandError):
        call_command("create_api_key", "BI", "--role", "sales", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("create_api_key", "Other", "--role", "boss", stdout=StringIO())
    assert ApiKey.objects.count() == 1


def test_a_key_acts_with_its_roles_permissions(key_of):
    _key, raw_key = key_of(Role.SALES)
    client = key_client(raw_key)

    me = client.get(f"{API}/me/")
    assert me.status_code == 200
    assert me.json()["roles"] == ["sales"]
    assert client.get(f"{API}/items/").status_code == 200
    refused = client.post(f"{API}/items/", {"code": "X-1", "name": "x", "kind": "raw", "unit": "PCS"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert not Item.objects.filter(code="X-1").exists()


def test_a_write_with_a_key_is_audited_with_the_key_and_the_address(key_of):
    key, raw_key = key_of(Role.PRODUCTION_MANAGER, name="MES")
    body = {"code": "NEW-1", "name": "新物料", "kind": "purchased", "unit": "PCS"}

    response = key_client(raw_key, ip="10.20.30.40").post(f"{API}/items/", body, format="json")

    assert response.status_code == 201
    event = AuditEvent.objects.get(verb="item.create")
    assert (event.api_key, event.actor, event.ip) == (key, key.user, "10.20.30.40")
    assert event.actor_label == "API key MES"


def test_a_key_needs_no_csrf_token_and_remembers_when_it_was_last_used(key_of):
    key, raw_key = key_of(Role.PRODUCTION_MANAGER)
    client = APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    response = client.post(f"{API}/items/", {"code": "N-2", "name": "n", "kind": "raw", "unit": "PCS"}, format="json")

    assert response.status_code == 201
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("header", ["Api-Key ll_00000000_not-a-key", "Api-Key ", "api-key WRONG"])
def test_an_unknown_key_is_refused_with_401_and_the_error_body(header):
    response = APIClient(HTTP_AUTHORIZATION=header, HTTP_ACCEPT_LANGUAGE="en").get(f"{API}/me/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["code"] == "api_key_invalid"
    assert set(response.json()) == {"code", "detail"}


def test_a_revoked_key_is_refused_with_401_from_then_on(key_of, users):
    key, raw_key = key_of(Role.SALES)
    client = key_client(raw_key)
    assert client.get(f"{API}/me/").status_code == 200

    api_key_revoke(key=key, by=users[Role.IT_ADMIN])
    response = client.get(f"{API}/me/")

    assert response.status_code == 401
    assert response.json() == {"code": "api_key_invalid", "detail": "The API key is unknown or has been revoked."}
    assert User.objects.get(pk=key.user_id).is_active is False
    assert AuditEvent.objects.filter(verb="api_key.revoke", actor=users[Role.IT_ADMIN]).count() == 1


def test_a_key_user_cannot_sign_in_with_a_password(key_of):
    key, _raw = key_of(Role.IT_ADMIN)
    assert not key.user.has_usable_password()
    assert key.user.is_staff is False


def test_each_key_is_throttled_on_its_own(key_of, settings):
    cache.clear()
    settings.LOOPLINE_API_RATES = {**settings.LOOPLINE_API_RATES, "key": "3/minute"}
    _a, first = key_of(Role.SALES, name="A")
    _b, second = key_of(Role.SALES, name="B")

    answers = [key_client(first).get(f"{API}/me/").status_code for _ in range(4)]
    throttled = key_client(first).get(f"{API}/me/")

    assert answers == [200, 200, 200, 429]
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert key_client(second).get(f"{API}/me/").status_code == 200


def test_each_signed_in_person_is_throttled_on_their_own(users, settings):
    cache.clear()
    settings.LOOPLINE_API_RATES = {**settings.LOOPLINE_API_RATES, "user": "2/minute"}
    sales, finance = APIClient(), APIClient()
    sales.force_login(users[Role.SALES])
    finance.force_login(users[Role.FINANCE])

    assert [sales.get(f"{API}/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert finance.get(f"{API}/me/").status_code == 200


def test_it_creates_a_key_in_the_admin_and_shows_it_only_on_that_page(users, client):
    client.force_login(users[Role.IT_ADMIN])

    response = client.post("/admin/accounts/apikey/add/", {"name": "BI", "role": "finance"})

    assert response.status_code == 200
    key = ApiKey.objects.get(name="BI")
    page = response.content.decode()
    raw_key = re.search(r'<code id="api-key" class="api-key">([^<]+)</code>', page).group(1)
    assert key.key_hash == api_key_digest(raw_key)
    assert "no-store" in response["Cache-Control"]
    assert all(raw_key not in morsel.value for morsel in response.cookies.values())
    assert raw_key not in client.get(f"/admin/accounts/apikey/{key.pk}/change/").content.decode()
    assert raw_key not in client.get("/admin/accounts/apikey/").content.decode()
    assert key_client(raw_key).get(f"{API}/me/").json()["roles"] == ["finance"]


def test_it_revokes_keys_from_the_admin(users, client, key_of):
    key, raw_key = key_of(Role.SALES)
    client.force_login(users[Role.IT_ADMIN])

    response = client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)

    assert response.status_code == 200
    key.refresh_from_db()
    assert key.revoked_by == users[Role.IT_ADMIN]
    assert key_client(raw_key).get(f"{API}/me/").status_code == 401


def test_only_it_manages_api_keys_in_the_admin(users, client):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    assert client.get("/admin/accounts/apikey/").status_code == 403
    assert client.post("/admin/accounts/apikey/add/", {"name": "X", "role": "it_admin"}).status_code == 403
    assert not ApiKey.objects.exists()
