"""Sessions: a sign-in starts a new session, a sign-out or a password change ends it everywhere it was used."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.roles import Role
from tests.conftest import ROLE_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ME = "/api/v1/me/"


def signed_in(username: str, password: str = ROLE_PASSWORD) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.post(LOGIN, {"username": username, "password": password})
    assert client.get(ME).status_code == 200
    return client


def with_cookie_of(client: Client) -> Client:
    """Another browser holding a copy of this one's session cookie (as a stolen cookie would be)."""
    copy = Client(HTTP_ACCEPT_LANGUAGE="en")
    copy.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return copy


def test_signing_in_starts_a_new_session_rather_than_keeping_one_handed_out_before(users):
    client = Client()
    client.get(LOGIN)
    planted = client.session  # a session that existed before the sign-in (fixation)
    planted["planted"] = True
    planted.save()
    before = planted.session_key
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == before

    client.post(LOGIN, {"username": users[Role.SALES].username, "password": ROLE_PASSWORD})

    assert client.get(ME).status_code == 200
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before


def test_after_signing_out_a_copy_of_the_session_cookie_is_signed_out_too(users):
    client = signed_in(users[Role.SALES].username)
    copy = with_cookie_of(client)
    assert copy.get(ME).status_code == 200

    client.post("/accounts/logout/")

    assert copy.get(ME).status_code in (401, 403)
    assert client.get(ME).status_code in (401, 403)


def test_a_password_change_ends_the_sessions_signed_in_with_the_old_password(users):
    user = users[Role.PRODUCTION_MANAGER]
    client = signed_in(user.username)

    user.set_password("A-new-password-2026")
    user.save()

    assert client.get(ME).status_code in (401, 403)


def test_a_deactivated_user_is_signed_out_at_the_next_request(users):
    user = users[Role.OPERATOR]
    client = signed_in(user.username)

    user.is_active = False
    user.save()

    assert client.get(ME).status_code in (401, 403)


def test_a_role_taken_away_takes_effect_at_the_next_request(users):
    user = users[Role.SALES]
    client = signed_in(user.username)
    assert client.get("/api/v1/sales-orders/").status_code == 200

    user.groups.clear()

    assert client.get("/api/v1/sales-orders/").status_code == 403
