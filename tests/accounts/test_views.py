"""Sign-in pages, the language switch and the home page, through Django's test client."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, User
from accounts.roles import Role
from tests.conftest import ROLE_PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> User:
    return make_user(
        Role.OPERATOR, username="op1", employee_number="E1001", pin="2468", last_name="李", first_name="强"
    )


def test_the_home_page_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_an_office_user_logs_in_with_username_and_password(client, users):
    response = client.post(reverse("accounts:login"), {"username": "sales", "password": ROLE_PASSWORD})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert AuditEvent.objects.filter(verb="login.password", actor=users[Role.SALES]).exists()


def test_a_wrong_password_is_refused(client, users):
    response = client.post(reverse("accounts:login"), {"username": "sales", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_pages_are_in_chinese_by_default(client, users):
    client.force_login(users[Role.PRODUCTION_MANAGER])
    body = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in body
    assert "首页" in body


def test_a_badge_scan_signs_the_operator_in_on_the_tablet(client, operator):
    response = client.post(reverse("accounts:tablet-login"), {"badge-badge_code": operator.badge_code})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_employee_number_and_pin_sign_the_operator_in(client, operator):
    response = client.post(reverse("accounts:tablet-login"), {"pin-employee_number": "E1001", "pin-pin": "2468"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_a_wrong_pin_shows_an_error_and_signs_nobody_in(client, operator):
    response = client.post(reverse("accounts:tablet-login"), {"pin-employee_number": "E1001", "pin-pin": "1357"})
    assert response.status_code == 401
    assert "_auth_user_id" not in client.session
    assert "工号或 PIN" in response.content.decode()


def test_repeated_wrong_pins_lock_the_tablet_sign_in(client, operator, settings):
    settings.PIN_MAX_FAILURES = 2
    for _ in range(2):
        client.post(reverse("accounts:tablet-login"), {"pin-employee_number": "E1001", "pin-pin": "0000"})
    response = client.post(reverse("accounts:tablet-login"), {"pin-employee_number": "E1001", "pin-pin": "2468"})
    assert response.status_code == 423
    assert "_auth_user_id" not in client.session


def test_switching_operator_ends_the_session_and_shows_the_badge_page(client, operator):
    client.force_login(operator)
    response = client.post(reverse("accounts:switch-operator"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:tablet-login") + "?next=%2Ffloor%2F"
    assert "_auth_user_id" not in client.session


def test_the_language_switch_changes_the_page_and_remembers_the_choice(client, users):
    user = users[Role.SALES]
    client.force_login(user)
    response = client.post(reverse("accounts:language"), {"language": "en", "next": "/"})
    assert response.cookies["django_language"].value == "en"
    assert "Home" in client.get("/").content.decode()
    user.refresh_from_db()
    assert user.preferred_language == "en"


def test_the_language_switch_does_not_redirect_off_site(client):
    response = client.post(reverse("accounts:language"), {"language": "en", "next": "https://evil.example.com/"})
    assert response["Location"] == "/"


def test_the_health_check_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}
