"""The /api/v1/ endpoints of accounts: the signed-in user and teams (their permissions are in the matrix of
tests/api/test_production_api.py)."""

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import team_create, user_set_roles
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

API = "/api/v1"


def api_client(user=None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def test_it_describes_the_signed_in_user_with_team_and_roles():
    team = team_create(code="CY1", name="冲压一班")
    user = make_user(
        Role.OPERATOR, username="op1", employee_number="E1001", last_name="李", first_name="强", team=team, pin="2468"
    )
    user_set_roles(user=user, roles=[Role.TEAM_LEADER, Role.OPERATOR], by=None)

    response = api_client(user).get(f"{API}/me/")

    assert response.status_code == 200
    assert response.json() == {
        "username": "op1",
        "full_name": "李强",
        "employee_number": "E1001",
        "team": {"code": "CY1", "name": "冲压一班"},
        "roles": ["operator", "team_leader"],
        "preferred_language": "zh-hans",
    }


def test_it_never_shows_password_pin_or_badge_code():
    user = make_user(Role.OPERATOR, username="op1", employee_number="E1001", pin="2468")
    assert user.badge_code

    body = api_client(user).get(f"{API}/me/").content.decode()

    assert user.badge_code not in body
    assert user.pin_hash not in body
    assert user.password not in body
    for secret in ("badge", "pin", "password"):
        assert secret not in body


def test_it_describes_a_user_without_team_or_roles(users):
    body = api_client(users[None]).get(f"{API}/me/").json()
    assert (body["team"], body["roles"], body["employee_number"]) == (None, [], None)


def test_it_refuses_me_to_anonymous_callers():
    response = api_client().get(f"{API}/me/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


def test_it_lists_teams_with_their_leaders(users):
    team_create(code="CY2", name="冲压二班")
    team_create(code="CY1", name="冲压一班", leader=users[Role.TEAM_LEADER])

    response = api_client(users[Role.PRODUCTION_MANAGER]).get(f"{API}/teams/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"code": "CY1", "name": "冲压一班", "leader": "team_leader"},
        {"code": "CY2", "name": "冲压二班", "leader": None},
    ]


def test_it_answers_404_with_an_error_code_for_an_unknown_team(users):
    response = api_client(users[Role.PRODUCTION_MANAGER]).get(f"{API}/teams/NOPE/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}
